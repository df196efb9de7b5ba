package io.graveyard.schema;

/**
 * What the store does with JSON members that no field of an object declares (the schema's
 * {@code unknown_fields}).
 */
public enum UnknownFields {
    /** Keep them, unchecked (the store's default). */
    ALLOW,
    /** Refuse the event with one {@code unknown_field} violation per such member. */
    REJECT;

    String json() {
        return this == ALLOW ? "allow" : "reject";
    }
}
