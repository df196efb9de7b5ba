package io.graveyard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graveyard.internal.Errors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * What crosses the JNI boundary, in the layouts of docs/boundary.md (the core's
 * {@code graveyard::boundary}): events to append go down as one byte[], pages of events come back
 * as one byte[], rare structures travel as the core's JSON forms. The tests hold this class to the
 * golden vectors of {@code conformance/boundary_vectors.json}.
 */
final class Wire {
    static final ObjectMapper JSON = new ObjectMapper();

    private static final VarHandle U32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    /** UUIDs cross in RFC 4122 byte order: their two halves are big-endian. */
    private static final VarHandle UUID_HALF = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    /** Smallest read event: every length 0. */
    private static final int MIN_EVENT = 73;
    private static final int SHREDDED = 1;

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
        byte[] out = new byte[(int) size];
        int at = putU32(out, 0, events.size());
        for (int i = 0; i < events.size(); i++) {
            EventData e = events.get(i);
            UUID id = e.id();
            out[at++] = (byte) (id == null ? 0 : 1);
            if (id != null) {
                UUID_HALF.set(out, at, id.getMostSignificantBits());
                UUID_HALF.set(out, at + 8, id.getLeastSignificantBits());
                at += 16;
            }
            at = putBytes(out, at, types.get(i));
            at = putBytes(out, at, contentTypes.get(i));
            at = putBytes(out, at, e.dataUnsafe());
            at = putBytes(out, at, e.metadataUnsafe());
        }
        return out;
    }

    private static int putU32(byte[] out, int at, int value) {
        U32.set(out, at, value);
        return at + 4;
    }

    private static int putBytes(byte[] out, int at, byte[] bytes) {
        at = putU32(out, at, bytes.length);
        System.arraycopy(bytes, 0, out, at, bytes.length);
        return at + bytes.length;
    }

    static String filterJson(Filter filter) {
        return filterNode(filter).toString();
    }

    private static ObjectNode filterNode(Filter filter) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode p = o.putArray("stream_prefixes");
        filter.streamPrefixes().forEach(p::add);
        ArrayNode t = o.putArray("event_types");
        filter.eventTypes().forEach(t::add);
        return o;
    }

    static String metadataJson(StreamMetadata m) {
        ObjectNode o = JSON.createObjectNode();
        if (m.maxCount().isPresent()) {
            o.put("max_count", m.maxCount().getAsLong());
        }
        m.maxAge().ifPresent(d -> o.put("max_age_ms", millis(d)));
        if (m.truncateBefore().isPresent()) {
            o.put("truncate_before", m.truncateBefore().getAsLong());
        }
        return o.toString();
    }

    static String targetJson(GroupTarget target) {
        ObjectNode o = JSON.createObjectNode();
        if (target.isAll()) {
            o.set("all", filterNode(target.filter()));
        } else {
            o.put("stream", target.stream());
        }
        return o.toString();
    }

    static String settingsJson(GroupSettings s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("max_retries", s.maxRetries());
        o.put("ack_timeout_ms", millis(s.ackTimeout()));
        o.put("max_in_flight", s.maxInFlight());
        o.put("strategy", s.strategy().json());
        return o.toString();
    }

    /**
     * A duration in whole milliseconds, the unit of every duration that crosses (docs/boundary.md),
     * rounded up as the core rounds it: a positive duration never becomes zero.
     */
    static long millis(Duration d) {
        try {
            long ms = d.toMillis();
            return Duration.ofMillis(ms).compareTo(d) < 0 ? ms + 1 : ms;
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    // ---- up --------------------------------------------------------------------------------------

    /** {@code u64 first_revision, u64 last_revision, u64 first_position, u64 last_position}. */
    static AppendResult appendResult(Object raw) {
        Reader r = new Reader((byte[]) raw, "an append result");
        AppendResult result = new AppendResult(r.u64(), r.u64(), r.u64(), r.u64());
        r.finish();
        return result;
    }

    /** A page: {@code u32 count}, then the events. */
    static List<RecordedEvent> events(Object raw) {
        byte[] page = (byte[]) raw;
        Reader r = new Reader(page, "a page of events");
        r.page = true;
        int count = r.u32();
        if (count < 0 || count > page.length / MIN_EVENT) {
            throw r.malformed();
        }
        List<RecordedEvent> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(r.event());
        }
        r.finish();
        return out;
    }

    /** {@code u8 tag}: 0 caught up, 1 an event (the event follows). */
    static SubscriptionMessage subscriptionMessage(byte[] raw) {
        Reader r = new Reader(raw, "a subscription message");
        SubscriptionMessage message = switch (r.u8()) {
            case 0 -> SubscriptionMessage.caughtUp();
            case 1 -> SubscriptionMessage.event(r.event());
            default -> throw r.malformed();
        };
        r.finish();
        return message;
    }

    /** {@code u64 id, u32 attempt, i64 parked_revision (-1: none)}, then the event. */
    static Delivery delivery(byte[] raw, GroupMember member) {
        Reader r = new Reader(raw, "a delivery");
        long id = r.u64();
        int attempt = r.u32();
        long parked = r.u64();
        if (parked < -1) {
            throw r.malformed();
        }
        RecordedEvent event = r.event();
        r.finish();
        return new Delivery(member, id, event, attempt, parked);
    }

    /** {@code str stream, u64 revision, i64 timestamp, bytes data}; null when there is no snapshot. */
    static Snapshot snapshot(Object raw) {
        if (raw == null) {
            return null;
        }
        Reader r = new Reader((byte[]) raw, "a snapshot");
        String stream = r.string(Reader.STREAM);
        long revision = r.u64();
        long timestamp = r.u64();
        int n = r.length();
        byte[] data = Arrays.copyOfRange(r.bytes, r.at, r.at + n);
        r.at += n;
        r.finish();
        return new Snapshot(stream, revision, data, timestamp);
    }

    /**
     * Reads a packed buffer from the native library, checking every length against it: a damaged
     * buffer is a bug of the library, thrown as {@link InternalException}, never a wrong value.
     * The events it reads keep views of the buffer (their data and metadata are ranges of it), and
     * the strings of a page are decoded once per distinct value: stream names, types and content
     * types repeat.
     */
    static final class Reader {
        static final int STREAM = 0;
        static final int TYPE = 1;
        static final int CONTENT_TYPE = 2;
        /** Distinct strings remembered per buffer, past the last one of each field. */
        private static final int TABLE = 256;

        final byte[] bytes;
        int at;
        private final String what;
        /** A page of events, whose strings are worth a table; a single event's are not. */
        boolean page;
        // The last string of each field: consecutive events mostly share them.
        private final String[] last = new String[3];
        private final int[] lastAt = new int[3];
        private final int[] lastLength = new int[3];
        // The other strings seen, by hash (open addressing), made when first needed.
        private String[] table;
        private int[] tableAt;
        private int[] tableLength;
        private int tableSize;

        Reader(byte[] bytes, String what) {
            this.bytes = bytes;
            this.what = what;
        }

        InternalException malformed() {
            return new InternalException(what + " from the native library is malformed at byte " + at
                    + " (a bug of the library)");
        }

        private void need(int n) {
            if (n < 0 || n > bytes.length - at) {
                throw malformed();
            }
        }

        int u8() {
            need(1);
            return bytes[at++] & 0xff;
        }

        int u32() {
            need(4);
            int v = (int) U32.get(bytes, at);
            at += 4;
            return v;
        }

        long u64() {
            need(8);
            long v = (long) U64.get(bytes, at);
            at += 8;
            return v;
        }

        /** A length that must fit in what is left. */
        int length() {
            int n = u32();
            need(n);
            return n;
        }

        String string(int field) {
            int n = length();
            int from = at;
            at += n;
            String s = last[field];
            if (s != null && Arrays.equals(bytes, from, from + n, bytes, lastAt[field], lastAt[field] + lastLength[field])) {
                return s;
            }
            s = lookUp(from, n);
            last[field] = s;
            lastAt[field] = from;
            lastLength[field] = n;
            return s;
        }

        private String lookUp(int from, int n) {
            if (!page) {
                return new String(bytes, from, n, StandardCharsets.UTF_8);
            }
            if (table == null) {
                table = new String[TABLE];
                tableAt = new int[TABLE];
                tableLength = new int[TABLE];
            }
            int hash = 1;
            for (int i = from; i < from + n; i++) {
                hash = 31 * hash + bytes[i];
            }
            int slot = (hash ^ (hash >>> 16)) & (TABLE - 1);
            for (int probe = 0; probe < TABLE; probe++, slot = (slot + 1) & (TABLE - 1)) {
                String s = table[slot];
                if (s == null) {
                    s = new String(bytes, from, n, StandardCharsets.UTF_8);
                    // Kept at most half full, so probes stay short; past that, strings are made anew.
                    if (tableSize < TABLE / 2) {
                        table[slot] = s;
                        tableAt[slot] = from;
                        tableLength[slot] = n;
                        tableSize++;
                    }
                    return s;
                }
                if (tableLength[slot] == n && Arrays.equals(bytes, from, from + n, bytes, tableAt[slot], tableAt[slot] + n)) {
                    return s;
                }
            }
            return new String(bytes, from, n, StandardCharsets.UTF_8);
        }

        /**
         * {@code str stream, u64 revision, u64 position, i64 timestamp, [16 id], str type, str content_type,
         * bytes data, bytes metadata, u8 flags (bit 0 shredded), u32 schema_version (0 none)}.
         */
        RecordedEvent event() {
            String stream = string(STREAM);
            long revision = u64();
            long position = u64();
            long timestamp = u64();
            need(16);
            int id = at;
            at += 16;
            String type = string(TYPE);
            String contentType = string(CONTENT_TYPE);
            int dataLength = length();
            int data = at;
            at += dataLength;
            int metadataLength = length();
            int metadata = at;
            at += metadataLength;
            int flags = u8();
            if ((flags & ~SHREDDED) != 0) {
                at--;
                throw malformed();
            }
            int schemaVersion = u32();
            return new RecordedEvent(stream, revision, position, timestamp, bytes, id, type, contentType, data,
                    dataLength, metadata, metadataLength, (flags & SHREDDED) != 0, schemaVersion);
        }

        void finish() {
            if (at != bytes.length) {
                throw malformed();
            }
        }
    }

    /** The UUID in {@code bytes} at {@code at}, RFC 4122 byte order. */
    static UUID uuid(byte[] bytes, int at) {
        return new UUID((long) UUID_HALF.get(bytes, at), (long) UUID_HALF.get(bytes, at + 8));
    }

    static JsonNode readTree(Object raw) {
        try {
            return JSON.readTree((String) raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code {"max_count", "max_age_ms", "truncate_before"}}, each an integer or null. */
    static StreamMetadata metadata(JsonNode n) {
        StreamMetadata.Builder m = StreamMetadata.builder();
        if (n.hasNonNull("max_count")) {
            m.maxCount(n.get("max_count").asLong());
        }
        if (n.hasNonNull("max_age_ms")) {
            m.maxAge(Duration.ofMillis(n.get("max_age_ms").asLong()));
        }
        if (n.hasNonNull("truncate_before")) {
            m.truncateBefore(n.get("truncate_before").asLong());
        }
        return m.build();
    }

    /** {@code {"current", "next_revision", "deleted", "shredded", "metadata"}}; current is "no_stream" or a revision. */
    static StreamInfo streamInfo(Object raw) {
        JsonNode n = readTree(raw);
        return new StreamInfo(Errors.current(n.get("current")), n.get("next_revision").asLong(),
                n.get("deleted").asBoolean(), n.get("shredded").asBoolean(), metadata(n.get("metadata")));
    }

    /** A JSON array of {@code {"name", "next_revision", "last_position" (or null), "deleted", "deleted_before", "tombstoned", "shredded"}}. */
    static List<StreamSummary> streamSummaries(Object raw) {
        List<StreamSummary> out = new ArrayList<>();
        for (JsonNode n : readTree(raw)) {
            JsonNode last = n.get("last_position");
            out.add(new StreamSummary(n.get("name").asText(), n.get("next_revision").asLong(),
                    last == null || last.isNull() ? OptionalLong.empty() : OptionalLong.of(last.asLong()),
                    n.get("deleted").asBoolean(), n.get("deleted_before").asLong(), n.get("tombstoned").asBoolean(),
                    n.get("shredded").asBoolean()));
        }
        return out;
    }

    static SchemaUpsert schemaUpsert(Object raw) {
        JsonNode n = readTree(raw);
        return new SchemaUpsert(n.get("name").asText(), n.get("version").asInt(), n.get("changed").asBoolean());
    }

    /** {@code {"name", "version", "schema"}}, the definition in its own JSON form. */
    static RegisteredSchema registeredSchema(JsonNode n) {
        return new RegisteredSchema(n.get("name").asText(), n.get("version").asInt(), n.get("schema").toString());
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

    /** {@code {"stream": name}} or {@code {"all": filter}}. */
    static GroupTarget target(JsonNode t) {
        if (t.hasNonNull("stream")) {
            return GroupTarget.stream(t.get("stream").asText());
        }
        if (t.hasNonNull("all")) {
            return GroupTarget.all(filter(t.get("all")));
        }
        throw new IllegalArgumentException("not a group target: " + t);
    }

    /** {@code {"max_retries", "ack_timeout_ms", "max_in_flight", "strategy"}}. */
    static GroupSettings settings(JsonNode s) {
        return new GroupSettings(s.get("max_retries").asInt(), Duration.ofMillis(s.get("ack_timeout_ms").asLong()),
                s.get("max_in_flight").asInt(), GroupStrategy.fromJson(s.get("strategy").asText()));
    }

    static GroupInfo groupInfo(Object raw) {
        JsonNode n = readTree(raw);
        List<String> members = new ArrayList<>();
        n.get("members").forEach(m -> members.add(m.asText()));
        return new GroupInfo(n.get("name").asText(), target(n.get("target")), settings(n.get("settings")),
                n.get("checkpoint").asLong(), n.get("lag").asLong(), members, n.get("in_flight").asLong(),
                n.get("buffered").asLong(), n.get("parked_stream").asText(), n.get("parked").asLong(),
                n.get("replaying").asLong());
    }

    /** {@code {"from", "to", "parked", "replaying"}}. */
    static ReplayInfo replayInfo(Object raw) {
        JsonNode n = readTree(raw);
        return new ReplayInfo(n.get("from").asLong(), n.get("to").asLong(), n.get("parked").asLong(),
                n.get("replaying").asLong());
    }
}
