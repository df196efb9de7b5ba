package io.graveyard.schema;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Leaves a field (or record component) out of the entity: it is not in the schema, not written by
 * {@link Entities#toJson(Object)}, and not read by {@link Entities#fromJson(byte[], Class)} (a
 * class keeps the value its constructor gave it; a record component receives {@code null},
 * {@code 0}, {@code false} or {@code Optional.empty()}). Java's {@code transient} modifier has the
 * same effect on class fields.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.RECORD_COMPONENT})
public @interface GraveyardIgnore {
}
