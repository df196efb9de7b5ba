package io.graveyard;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.UUID;

/**
 * An event read back from the store. Immutable.
 *
 * <p>An event of a read is a view of the page it came in: its data and metadata stay in that
 * page's buffer until asked for ({@link #data()} copies them, {@link #dataBuffer()} does not), so
 * reading an event costs no copy of its payload. Holding one event holds its whole page: to keep a
 * few events of a large page for long, keep copies of what you need.
 */
public final class RecordedEvent {
    private final String stream;
    private final long revision;
    private final long position;
    private final long timestampMicros;
    private final String type;
    private final String contentType;
    private final boolean shredded;
    private final int schemaVersion;
    // Data and metadata: ranges of an array (of the page, for an event of a read).
    private final byte[] dataArray;
    private final int dataOffset;
    private final int dataLength;
    private final byte[] metadataArray;
    private final int metadataOffset;
    private final int metadataLength;
    // The id: 16 bytes of the page at idOffset, made a UUID when first asked (idArray null once
    // given). Not volatile: a UUID is immutable, so two threads making it at once is harmless.
    private final byte[] idArray;
    private final int idOffset;
    private UUID id;

    /** For tests and for events made by hand; {@code schemaVersion} 0 means none. The arrays are not copied. */
    public RecordedEvent(String stream, long revision, long position, long timestampMicros, UUID id, String type,
            String contentType, byte[] data, byte[] metadata, boolean shredded, int schemaVersion) {
        this.stream = stream;
        this.revision = revision;
        this.position = position;
        this.timestampMicros = timestampMicros;
        this.id = id;
        this.idArray = null;
        this.idOffset = 0;
        this.type = type;
        this.contentType = contentType;
        this.dataArray = data;
        this.dataOffset = 0;
        this.dataLength = data.length;
        this.metadataArray = metadata;
        this.metadataOffset = 0;
        this.metadataLength = metadata.length;
        this.shredded = shredded;
        this.schemaVersion = schemaVersion;
    }

    /** An event of a read, a view of {@code page} (see {@link Wire.Reader#event}). */
    RecordedEvent(String stream, long revision, long position, long timestampMicros, byte[] page, int idOffset,
            String type, String contentType, int dataOffset, int dataLength, int metadataOffset, int metadataLength,
            boolean shredded, int schemaVersion) {
        this.stream = stream;
        this.revision = revision;
        this.position = position;
        this.timestampMicros = timestampMicros;
        this.idArray = page;
        this.idOffset = idOffset;
        this.type = type;
        this.contentType = contentType;
        this.dataArray = page;
        this.dataOffset = dataOffset;
        this.dataLength = dataLength;
        this.metadataArray = page;
        this.metadataOffset = metadataOffset;
        this.metadataLength = metadataLength;
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
        UUID made = id;
        if (made == null) {
            made = Wire.uuid(idArray, idOffset);
            id = made;
        }
        return made;
    }

    public String type() {
        return type;
    }

    public String contentType() {
        return contentType;
    }

    /** A copy of the data (empty when {@link #shredded()}). */
    public byte[] data() {
        return Arrays.copyOfRange(dataArray, dataOffset, dataOffset + dataLength);
    }

    /** The data as a read-only buffer over the event's own bytes: no copy. */
    public ByteBuffer dataBuffer() {
        return ByteBuffer.wrap(dataArray, dataOffset, dataLength).slice().asReadOnlyBuffer();
    }

    /** The size of the data, in bytes. */
    public int dataSize() {
        return dataLength;
    }

    /** The data as UTF-8 text. */
    public String dataAsString() {
        return new String(dataArray, dataOffset, dataLength, StandardCharsets.UTF_8);
    }

    /** A copy of the metadata. */
    public byte[] metadata() {
        return Arrays.copyOfRange(metadataArray, metadataOffset, metadataOffset + metadataLength);
    }

    /** The metadata as a read-only buffer over the event's own bytes: no copy. */
    public ByteBuffer metadataBuffer() {
        return ByteBuffer.wrap(metadataArray, metadataOffset, metadataLength).slice().asReadOnlyBuffer();
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
        return io.graveyard.schema.Entities.fromJson(dataArray, dataOffset, dataLength, type);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecordedEvent e && e.position == position && e.revision == revision
                && e.timestampMicros == timestampMicros && e.shredded == shredded
                && e.schemaVersion == schemaVersion && e.stream.equals(stream) && e.id().equals(id())
                && e.type.equals(type) && e.contentType.equals(contentType)
                && Arrays.equals(e.dataArray, e.dataOffset, e.dataOffset + e.dataLength, dataArray, dataOffset,
                        dataOffset + dataLength)
                && Arrays.equals(e.metadataArray, e.metadataOffset, e.metadataOffset + e.metadataLength,
                        metadataArray, metadataOffset, metadataOffset + metadataLength);
    }

    @Override
    public int hashCode() {
        return Objects.hash(stream, revision, position, id());
    }

    @Override
    public String toString() {
        return "RecordedEvent{stream=" + stream + ", revision=" + revision + ", position=" + position + ", type="
                + type + ", id=" + id() + (shredded ? ", shredded" : "") + ", " + dataLength + " bytes}";
    }
}
