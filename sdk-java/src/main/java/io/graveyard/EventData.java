package io.graveyard;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;

/**
 * An event to append. Immutable; build one with {@link #json(String, String)},
 * {@link #json(String, byte[])}, {@link #binary(String, byte[])} or {@link #builder(String)}, and
 * derive variants with {@link #withId(UUID)} and {@link #withMetadata(byte[])}.
 */
public final class EventData {
    public static final String CONTENT_TYPE_JSON = "application/json";
    public static final String CONTENT_TYPE_BINARY = "application/octet-stream";

    private final UUID id;
    private final String type;
    private final byte[] data;
    private final byte[] metadata;
    private final String contentType;

    private EventData(UUID id, String type, byte[] data, byte[] metadata, String contentType) {
        this.id = id;
        this.type = Objects.requireNonNull(type, "type");
        this.data = Objects.requireNonNull(data, "data");
        this.metadata = Objects.requireNonNull(metadata, "metadata");
        this.contentType = Objects.requireNonNull(contentType, "contentType");
    }

    /** A JSON event (its bytes are checked to be JSON on append). */
    public static EventData json(String type, byte[] data) {
        return new EventData(null, type, Objects.requireNonNull(data, "data").clone(), new byte[0], CONTENT_TYPE_JSON);
    }

    /** A JSON event from JSON text. */
    public static EventData json(String type, String json) {
        return new EventData(null, type, Objects.requireNonNull(json, "json").getBytes(StandardCharsets.UTF_8),
                new byte[0], CONTENT_TYPE_JSON);
    }

    /** An event whose data is opaque bytes. */
    public static EventData binary(String type, byte[] data) {
        return new EventData(null, type, Objects.requireNonNull(data, "data").clone(), new byte[0], CONTENT_TYPE_BINARY);
    }

    public static Builder builder(String type) {
        return new Builder(type);
    }

    /** This event with id {@code id}: a retried append with the same ids writes nothing twice. */
    public EventData withId(UUID id) {
        return new EventData(Objects.requireNonNull(id, "id"), type, data, metadata, contentType);
    }

    public EventData withMetadata(byte[] metadata) {
        return new EventData(id, type, data, Objects.requireNonNull(metadata, "metadata").clone(), contentType);
    }

    public EventData withMetadata(String metadata) {
        return withMetadata(Objects.requireNonNull(metadata, "metadata").getBytes(StandardCharsets.UTF_8));
    }

    /** The id, or {@code null} when the store generates one (UUIDv7) on append. */
    public UUID id() {
        return id;
    }

    public String type() {
        return type;
    }

    /** A copy of the data. */
    public byte[] data() {
        return data.clone();
    }

    /** A copy of the metadata (empty when none). */
    public byte[] metadata() {
        return metadata.clone();
    }

    public String contentType() {
        return contentType;
    }

    byte[] dataUnsafe() {
        return data;
    }

    byte[] metadataUnsafe() {
        return metadata;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EventData e && Objects.equals(e.id, id) && e.type.equals(type)
                && Arrays.equals(e.data, data) && Arrays.equals(e.metadata, metadata)
                && e.contentType.equals(contentType);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, type, Arrays.hashCode(data), contentType);
    }

    @Override
    public String toString() {
        return "EventData{type=" + type + ", id=" + id + ", contentType=" + contentType + ", " + data.length
                + " bytes}";
    }

    /** Builds an {@link EventData}; data defaults to empty, content type to JSON. */
    public static final class Builder {
        private final String type;
        private UUID id;
        private byte[] data = new byte[0];
        private byte[] metadata = new byte[0];
        private String contentType = CONTENT_TYPE_JSON;

        private Builder(String type) {
            this.type = Objects.requireNonNull(type, "type");
        }

        public Builder id(UUID id) {
            this.id = Objects.requireNonNull(id, "id");
            return this;
        }

        public Builder data(byte[] data) {
            this.data = Objects.requireNonNull(data, "data").clone();
            return this;
        }

        public Builder data(String data) {
            this.data = Objects.requireNonNull(data, "data").getBytes(StandardCharsets.UTF_8);
            return this;
        }

        public Builder metadata(byte[] metadata) {
            this.metadata = Objects.requireNonNull(metadata, "metadata").clone();
            return this;
        }

        public Builder metadata(String metadata) {
            this.metadata = Objects.requireNonNull(metadata, "metadata").getBytes(StandardCharsets.UTF_8);
            return this;
        }

        public Builder contentType(String contentType) {
            this.contentType = Objects.requireNonNull(contentType, "contentType");
            return this;
        }

        public EventData build() {
            return new EventData(id, type, data, metadata, contentType);
        }
    }
}
