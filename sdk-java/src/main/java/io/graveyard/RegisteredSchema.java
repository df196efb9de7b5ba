package io.graveyard;

/**
 * One stored version of a schema.
 *
 * @param name the schema's name (the event type it governs)
 * @param version its version, from 1
 * @param definition the definition as stored, as JSON text (references pinned to versions)
 */
public record RegisteredSchema(String name, int version, String definition) {}
