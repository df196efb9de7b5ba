package io.graveyard.schema;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * The schema, event type and JSON form of {@link GraveyardEntity} classes and records.
 *
 * <p>Each class is derived once, on first use, and the result (or its problems) is cached for
 * the life of the class; every method is safe to call from any number of threads. Every method
 * throws {@link SchemaDerivationException}, listing every problem, for a class that cannot be
 * mapped. See the package documentation for the mapping.
 */
public final class Entities {
    private static final ClassValue<Deriver.Derived> DERIVED = new ClassValue<>() {
        @Override
        protected Deriver.Derived computeValue(Class<?> type) {
            return Deriver.derive(type);
        }
    };

    private Entities() {
    }

    /** The derivation of an entity: every problem counts. */
    private static Deriver.Derived derived(Class<?> type) {
        Objects.requireNonNull(type, "type");
        Deriver.Derived derived = DERIVED.get(type);
        if (!derived.problems.isEmpty()) {
            throw new SchemaDerivationException(type, derived.problems);
        }
        return derived;
    }

    /** The derivation of a class whose JSON is read or written: it need not be an entity. */
    private static Deriver.Derived mapped(Class<?> type) {
        Objects.requireNonNull(type, "type");
        Deriver.Derived derived = DERIVED.get(type);
        if (!derived.mappingProblems.isEmpty()) {
            throw new SchemaDerivationException(type, derived.mappingProblems);
        }
        return derived;
    }

    /** The entity name of {@code type} ({@link GraveyardEntity#value()}): its schema name and event type. */
    public static String eventType(Class<?> type) {
        return derived(type).name;
    }

    /**
     * The schema of {@code type} in the JSON form the store's {@code upsertSchema} takes, named
     * after the entity. The same class always gives the same text.
     */
    public static String schemaJson(Class<?> type) {
        return derived(type).schemaJson;
    }

    /**
     * The JSON object (UTF-8) of an entity, with the member names of its schema. Null field values
     * (and empty Optionals) are left out, never written as null. The class need not carry
     * {@code @GraveyardEntity} (only a schema and an event type need a name): any class or record
     * the mapping accepts is written the same way.
     *
     * @throws SchemaDerivationException when the entity's class cannot be mapped
     * @throws IllegalArgumentException when a value has no JSON form (a NaN or infinite number,
     *     a null map key), naming its path
     */
    public static byte[] toJson(Object entity) {
        Objects.requireNonNull(entity, "entity");
        Deriver.Derived derived = mapped(entity.getClass());
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator generator = Deriver.JSON.createGenerator(out)) {
            derived.root.write(generator, entity, "");
        } catch (Mapping.DataException e) {
            throw new IllegalArgumentException("cannot write " + entity.getClass().getName() + " as JSON: "
                + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Reads the JSON object {@code data} (UTF-8) into a new instance of {@code type}: records
     * through their canonical constructor, classes through their constructor without parameters
     * and then their fields. Members no field declares are ignored; absent or null members leave a
     * class's field as its constructor set it (an {@code Optional} field becomes empty) and give a
     * record component {@code null}, zero, {@code false} or {@code Optional.empty()}. The class
     * need not carry {@code @GraveyardEntity}: any class or record the mapping accepts (a DTO, a
     * projection of some members) reads events the same way.
     *
     * @throws SchemaDerivationException when {@code type} cannot be mapped
     * @throws IllegalArgumentException when the data is not a JSON object or does not fit the
     *     class (a member of the wrong type, an integer out of its Java type's range, an unknown
     *     enum constant...), naming the member's path
     */
    public static <T> T fromJson(byte[] data, Class<T> type) {
        Objects.requireNonNull(data, "data");
        return fromJson(data, 0, data.length, type);
    }

    /** {@link #fromJson(byte[], Class)} of the {@code length} bytes of {@code data} at {@code offset}. */
    public static <T> T fromJson(byte[] data, int offset, int length, Class<T> type) {
        Objects.requireNonNull(data, "data");
        Objects.checkFromIndexSize(offset, length, data.length);
        Deriver.Derived derived = mapped(type);
        JsonNode tree;
        try {
            tree = Deriver.READER.readTree(data, offset, length);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + type.getName() + ": the data is not JSON: "
                + e.getMessage(), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new IllegalArgumentException("cannot read " + type.getName() + ": the data is not a JSON object");
        }
        try {
            return type.cast(derived.root.read(tree, ""));
        } catch (Mapping.DataException e) {
            throw new IllegalArgumentException("cannot read " + type.getName() + " from JSON: " + e.getMessage(), e);
        }
    }
}
