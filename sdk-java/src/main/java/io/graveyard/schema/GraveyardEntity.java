package io.graveyard.schema;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a class or record as a GraveyardDB entity: its instances are the data of events whose
 * type is {@link #value()}, and {@link Entities#schemaJson(Class)} derives the schema of that
 * type from its fields.
 *
 * <pre>{@code
 * @GraveyardEntity(value = "user", unknownFields = UnknownFields.REJECT)
 * public record User(@GraveyardField(minLength = 1) String name, int age) {}
 * }</pre>
 *
 * <p>On a class used as the type of a field of another entity (a nested object, always declared
 * in place in the schema), only {@link #unknownFields()} matters; the name may then be left
 * empty. See the package documentation for the whole mapping.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface GraveyardEntity {
    /**
     * The schema name, which is also the event type. Required on the class passed to
     * {@link Entities}: not empty, not starting with {@code $}, no NUL character, at most 248
     * UTF-8 bytes (its {@code $schema-<name>} stream name must fit in 256).
     */
    String value() default "";

    /** The schema's description; empty for none. */
    String description() default "";

    /** What the store does with members no field declares, in this object. */
    UnknownFields unknownFields() default UnknownFields.ALLOW;

    /** The rule the next version of this schema must keep with this one (root entities only). */
    Compatibility compatibility() default Compatibility.BACKWARD;
}
