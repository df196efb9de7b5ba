package io.graveyard;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.UUID;

/** An event read back from the store. Immutable. */
public final class RecordedEvent {
    private final String stream;
    private final long revision;
    private final long position;
    private final long timestampMicros;
    private final UUID id;
    private final String type;
    private final String contentType;
    private final byte[] data;
    private final byte[] metadata;
    private final boolean shredded;
    private final int schemaVersion;

    /** For the SDK's decoder and for tests; {@code schemaVersion} 0 means none. */
    public RecordedEvent(String stream, long revision, long position, long timestampMicros, UUID id, String type,
            String contentType, byte[] data, byte[] metadata, boolean shredded, int schemaVersion) {
        this.stream = stream;
        this.revision = revision;
        this.position = position;
        this.timestampMicros = timestampMicros;
        this.id = id;
        this.type = type;
        this.contentType = contentType;
        this.data = data;
        this.metadata = metadata;
        this.shredded = shredded;
        this.schemaVersion = schemaVersion;
    }

    public String stream() {
        return stream;
    }

    /** 0-based position of the event in its stream (unsigned 64-bit). */
    public long revision() {
        return revision;
    }

    /** 0-based position of the event in the global log, $all (unsigned 64-bit). */
    public long position() {
        return position;
    }

    /** Commit time, unix microseconds. */
    public long timestampMicros() {
        return timestampMicros;
    }

    /** Commit time. */
    public Instant timestamp() {
        return Instant.ofEpochSecond(Math.floorDiv(timestampMicros, 1_000_000L),
                Math.floorMod(timestampMicros, 1_000_000L) * 1_000L);
    }

    public UUID id() {
        return id;
    }

    public String type() {
        return type;
    }

    public String contentType() {
        return contentType;
    }

    /** A copy of the data (empty when {@link #shredded()}). */
    public byte[] data() {
        return data.clone();
    }

    /** The data as UTF-8 text. */
    public String dataAsString() {
        return new String(data, StandardCharsets.UTF_8);
    }

    /** A copy of the metadata. */
    public byte[] metadata() {
        return metadata.clone();
    }

    /** True when the stream's key was destroyed (crypto-shredding): data and metadata are empty. */
    public boolean shredded() {
        return shredded;
    }

    /** The version of the schema the data was validated against on append; empty when none. */
    public OptionalInt schemaVersion() {
        return schemaVersion == 0 ? OptionalInt.empty() : OptionalInt.of(schemaVersion);
    }

    /**
     * The JSON data read into an instance of {@code type}, an entity class annotated with
     * {@code io.graveyard.schema} annotations (or any class Jackson can read).
     */
    public <T> T as(Class<T> type) {
        Objects.requireNonNull(type, "type");
        return io.graveyard.schema.Entities.fromJson(data, type);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecordedEvent e && e.position == position && e.revision == revision
                && e.timestampMicros == timestampMicros && e.shredded == shredded
                && e.schemaVersion == schemaVersion && e.stream.equals(stream) && e.id.equals(id)
                && e.type.equals(type) && e.contentType.equals(contentType) && Arrays.equals(e.data, data)
                && Arrays.equals(e.metadata, metadata);
    }

    @Override
    public int hashCode() {
        return Objects.hash(stream, revision, position, id);
    }

    @Override
    public String toString() {
        return "RecordedEvent{stream=" + stream + ", revision=" + revision + ", position=" + position + ", type="
                + type + ", id=" + id + (shredded ? ", shredded" : "") + ", " + data.length + " bytes}";
    }
}
