package io.graveyard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * What crosses the JNI boundary, packed so that a batch crosses in one call: events to append go
 * down as one byte[], pages of events come back as one byte[]; rare structures travel as JSON.
 * The layout (little-endian, lengths u32) is mirrored by bindings/jni/src/wire.rs.
 */
final class Wire {
    static final ObjectMapper JSON = new ObjectMapper();

    private Wire() {}

    // ---- down ------------------------------------------------------------------------------------

    /** {@code u32 count; per event: u8 flags (1 = has id), [16 id], str type, str contentType, bytes data, bytes metadata}. */
    static byte[] packEvents(List<EventData> events) {
        List<byte[]> types = new ArrayList<>(events.size());
        List<byte[]> contentTypes = new ArrayList<>(events.size());
        long size = 4;
        for (EventData e : events) {
            byte[] t = e.type().getBytes(StandardCharsets.UTF_8);
            byte[] c = e.contentType().getBytes(StandardCharsets.UTF_8);
            types.add(t);
            contentTypes.add(c);
            size += 1 + (e.id() == null ? 0 : 16) + 16L + t.length + c.length + e.dataUnsafe().length
                    + e.metadataUnsafe().length;
        }
        if (size > Integer.MAX_VALUE - 16) {
            throw new InvalidArgumentException("an append of " + size + " bytes is larger than one call can carry");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(events.size());
        for (int i = 0; i < events.size(); i++) {
            EventData e = events.get(i);
            UUID id = e.id();
            b.put((byte) (id == null ? 0 : 1));
            if (id != null) {
                b.order(ByteOrder.BIG_ENDIAN).putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits());
                b.order(ByteOrder.LITTLE_ENDIAN);
            }
            putBytes(b, types.get(i));
            putBytes(b, contentTypes.get(i));
            putBytes(b, e.dataUnsafe());
            putBytes(b, e.metadataUnsafe());
        }
        return b.array();
    }

    private static void putBytes(ByteBuffer b, byte[] bytes) {
        b.putInt(bytes.length);
        b.put(bytes);
    }

    static String filterJson(Filter filter) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode p = o.putArray("stream_prefixes");
        filter.streamPrefixes().forEach(p::add);
        ArrayNode t = o.putArray("event_types");
        filter.eventTypes().forEach(t::add);
        return o.toString();
    }

    static String metadataJson(StreamMetadata m) {
        ObjectNode o = JSON.createObjectNode();
        if (m.maxCount().isPresent()) {
            o.put("max_count", m.maxCount().getAsLong());
        }
        m.maxAge().ifPresent(d -> o.put("max_age_micros", micros(d)));
        if (m.truncateBefore().isPresent()) {
            o.put("truncate_before", m.truncateBefore().getAsLong());
        }
        return o.toString();
    }

    static String targetJson(GroupTarget target) {
        ObjectNode o = JSON.createObjectNode();
        if (target.isAll()) {
            o.set("all", JSON.valueToTree(readTree(filterJson(target.filter()))));
        } else {
            o.put("stream", target.stream());
        }
        return o.toString();
    }

    static String settingsJson(GroupSettings s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("max_retries", s.maxRetries());
        o.put("ack_timeout_micros", micros(s.ackTimeout()));
        o.put("max_in_flight", s.maxInFlight());
        o.put("strategy", s.strategy() == GroupStrategy.PINNED_BY_STREAM ? "pinned_by_stream" : "round_robin");
        return o.toString();
    }

    private static long micros(Duration d) {
        try {
            return Math.addExact(Math.multiplyExact(d.getSeconds(), 1_000_000L), d.getNano() / 1_000L);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    // ---- up --------------------------------------------------------------------------------------

    static AppendResult appendResult(Object raw) {
        ByteBuffer b = ByteBuffer.wrap((byte[]) raw).order(ByteOrder.LITTLE_ENDIAN);
        return new AppendResult(b.getLong(), b.getLong(), b.getLong(), b.getLong());
    }

    /** {@code u32 count; events}. */
    static List<RecordedEvent> events(Object raw) {
        ByteBuffer b = ByteBuffer.wrap((byte[]) raw).order(ByteOrder.LITTLE_ENDIAN);
        int count = b.getInt();
        List<RecordedEvent> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(event(b));
        }
        return out;
    }

    /**
     * {@code str stream, u64 revision, u64 position, i64 timestamp, [16 id], str type, str contentType,
     * bytes data, bytes metadata, u8 flags (1 shredded), u32 schemaVersion (0 none)}.
     */
    static RecordedEvent event(ByteBuffer b) {
        String stream = string(b);
        long revision = b.getLong();
        long position = b.getLong();
        long timestamp = b.getLong();
        b.order(ByteOrder.BIG_ENDIAN);
        UUID id = new UUID(b.getLong(), b.getLong());
        b.order(ByteOrder.LITTLE_ENDIAN);
        String type = string(b);
        String contentType = string(b);
        byte[] data = bytes(b);
        byte[] metadata = bytes(b);
        int flags = b.get();
        int schemaVersion = b.getInt();
        return new RecordedEvent(stream, revision, position, timestamp, id, type, contentType, data, metadata,
                (flags & 1) != 0, schemaVersion);
    }

    private static String string(ByteBuffer b) {
        int n = b.getInt();
        String s = new String(b.array(), b.arrayOffset() + b.position(), n, StandardCharsets.UTF_8);
        b.position(b.position() + n);
        return s;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.getInt()];
        b.get(out);
        return out;
    }

    static Snapshot snapshot(Object raw) {
        if (raw == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap((byte[]) raw).order(ByteOrder.LITTLE_ENDIAN);
        String stream = string(b);
        long revision = b.getLong();
        long timestamp = b.getLong();
        return new Snapshot(stream, revision, bytes(b), timestamp);
    }

    static JsonNode readTree(Object raw) {
        try {
            return JSON.readTree((String) raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static StreamMetadata metadata(JsonNode n) {
        StreamMetadata.Builder m = StreamMetadata.builder();
        if (n.hasNonNull("max_count")) {
            m.maxCount(n.get("max_count").asLong());
        }
        if (n.hasNonNull("max_age_micros")) {
            long micros = n.get("max_age_micros").asLong();
            m.maxAge(Duration.ofSeconds(micros / 1_000_000L, (micros % 1_000_000L) * 1_000L));
        }
        if (n.hasNonNull("truncate_before")) {
            m.truncateBefore(n.get("truncate_before").asLong());
        }
        return m.build();
    }

    static StreamInfo streamInfo(Object raw) {
        JsonNode n = readTree(raw);
        CurrentRevision current = n.hasNonNull("current") ? CurrentRevision.of(n.get("current").asLong())
                : CurrentRevision.noStream();
        return new StreamInfo(current, n.get("next_revision").asLong(), n.get("deleted").asBoolean(),
                n.get("shredded").asBoolean(), metadata(n.get("metadata")));
    }

    static SchemaUpsert schemaUpsert(Object raw) {
        JsonNode n = readTree(raw);
        return new SchemaUpsert(n.get("name").asText(), n.get("version").asInt(), n.get("changed").asBoolean());
    }

    static RegisteredSchema registeredSchema(JsonNode n) {
        return new RegisteredSchema(n.get("name").asText(), n.get("version").asInt(), n.get("definition").toString());
    }

    static List<RegisteredSchema> registeredSchemas(Object raw) {
        List<RegisteredSchema> out = new ArrayList<>();
        for (JsonNode n : readTree(raw)) {
            out.add(registeredSchema(n));
        }
        return out;
    }

    static List<String> strings(Object raw) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : readTree(raw)) {
            out.add(n.asText());
        }
        return out;
    }

    static Filter filter(JsonNode n) {
        Filter f = Filter.none();
        for (JsonNode p : n.path("stream_prefixes")) {
            f = f.orStreamPrefix(p.asText());
        }
        for (JsonNode t : n.path("event_types")) {
            f = f.orEventType(t.asText());
        }
        return f;
    }

    static GroupInfo groupInfo(Object raw) {
        JsonNode n = readTree(raw);
        JsonNode t = n.get("target");
        GroupTarget target = t.has("stream") ? GroupTarget.stream(t.get("stream").asText())
                : GroupTarget.all(filter(t.get("all")));
        JsonNode s = n.get("settings");
        long micros = s.get("ack_timeout_micros").asLong();
        GroupSettings settings = new GroupSettings(s.get("max_retries").asInt(),
                Duration.ofSeconds(micros / 1_000_000L, (micros % 1_000_000L) * 1_000L), s.get("max_in_flight").asInt(),
                "pinned_by_stream".equals(s.get("strategy").asText()) ? GroupStrategy.PINNED_BY_STREAM
                        : GroupStrategy.ROUND_ROBIN);
        List<String> members = new ArrayList<>();
        n.get("members").forEach(m -> members.add(m.asText()));
        return new GroupInfo(n.get("name").asText(), target, settings, n.get("checkpoint").asLong(),
                n.get("lag").asLong(), members, n.get("in_flight").asLong(), n.get("buffered").asLong(),
                n.get("parked_stream").asText(), n.get("parked").asLong(), n.get("replaying").asLong());
    }

    static ReplayInfo replayInfo(Object raw) {
        JsonNode n = readTree(raw);
        return new ReplayInfo(n.get("from").asLong(), n.get("to").asLong(), n.get("parked").asLong(),
                n.get("replaying").asLong());
    }
}
