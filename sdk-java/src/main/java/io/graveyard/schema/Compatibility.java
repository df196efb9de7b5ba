package io.graveyard.schema;

/**
 * The rule the next upsert of a schema must keep with the version it replaces (the schema's
 * {@code compatibility}). The mode of the version in force governs its replacement.
 */
public enum Compatibility {
    /** Any valid definition is accepted. */
    NONE,
    /** Data valid under the previous version is valid under the new one (the store's default). */
    BACKWARD,
    /** Data valid under the new version is valid under the previous one. */
    FORWARD,
    /** Both {@link #BACKWARD} and {@link #FORWARD}. */
    FULL;

    String json() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
