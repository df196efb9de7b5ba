package io.graveyard;

/**
 * What a schema upsert did.
 *
 * @param name the schema's name
 * @param version the version now latest: the new one, or the existing one when nothing changed
 * @param changed false when the definition equalled the latest version and nothing was written
 */
public record SchemaUpsert(String name, int version, boolean changed) {}
