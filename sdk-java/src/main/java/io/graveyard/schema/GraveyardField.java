package io.graveyard.schema;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The rules of one field of an entity (or of a nested object), on a field or a record
 * component. Fields without this annotation are part of the entity too, with the rules their
 * Java type implies (see the package documentation); unset elements add nothing.
 *
 * <pre>{@code
 * @GraveyardField(name = "e-mail", required = true, maxLength = 254, regex = "[^@\\s]+@[^@\\s]+")
 * String email;
 * @GraveyardField(min = 0, max = 150, overridesOnNull = "0")
 * Integer age;
 * }</pre>
 *
 * <p>Every inconsistency (a rule that does not apply to the field's type, min above max,
 * required with nullable, a regex that does not compile, a default that does not parse or breaks
 * the field's own rules) makes {@link Entities} throw a {@link SchemaDerivationException}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.RECORD_COMPONENT})
public @interface GraveyardField {
    /** The value of {@link #overridesOnNull()} meaning "no default". */
    String UNSET = "\u0000graveyard:unset\u0000";

    /** The JSON member name (the schema field name); empty for the Java field name. */
    String name() default "";

    /**
     * The member must be present and not null. Primitive fields are always required (Java always
     * writes them); {@code Optional} fields cannot be.
     */
    boolean required() default false;

    /**
     * The member may be JSON null. {@code Optional} fields always are; primitive fields cannot be.
     * Cannot be combined with {@link #required()}.
     */
    boolean nullable() default false;

    /**
     * Inclusive lower bound of a number or integer field; {@code NaN} for none. Integer fields
     * always carry their Java type's range (an {@code int} field has min -2147483648), which this
     * may tighten but not widen.
     */
    double min() default Double.NaN;

    /** Inclusive upper bound of a number or integer field; {@code NaN} for none (see {@link #min()}). */
    double max() default Double.NaN;

    /**
     * Least length of a string field (in Unicode characters) or of an array/collection field (in
     * items); -1 for none.
     */
    long minLength() default -1;

    /** Greatest length of a string (characters) or array/collection (items) field; -1 for none. */
    long maxLength() default -1;

    /**
     * A regular expression the whole string must match (the schema's {@code pattern}, anchored at
     * both ends by the store), in the syntax of Rust's {@code regex} crate: no look-around, no
     * back-references, no possessive quantifiers or atomic groups. Empty for none. Applies to
     * {@code String}, {@code CharSequence} and {@code char} fields only.
     */
    String regex() default "";

    /**
     * The default the store writes into the event when the member is absent or null (the schema's
     * {@code default}); {@link #UNSET} for none. Raw text for fields written as JSON strings
     * ({@code String}, {@code char}, enums (a constant name), {@code UUID}, {@code java.time}
     * types, {@code byte[]} in base64); JSON text for every other type ({@code "42"},
     * {@code "true"}, {@code "[1, 2]"}, {@code "{\"city\": \"Lisbon\"}"}). It must parse for the
     * field's type and keep the field's rules.
     */
    String overridesOnNull() default UNSET;

    /** The field's description in the schema; empty for none. */
    String description() default "";
}
