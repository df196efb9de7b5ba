package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.graveyard.internal.Errors;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The SDK against the golden vectors of docs/boundary.md ({@code conformance/boundary_vectors.json},
 * made by the Rust reference, core/tests/boundary.rs): every packed layout decoded and encoded back
 * byte for byte, every code, every JSON form.
 */
class BoundaryVectorsTest {
    static JsonNode vectors;

    @BeforeAll
    static void load() throws Exception {
        Path file = Path.of(System.getProperty("boundary.vectors", "../conformance/boundary_vectors.json"));
        vectors = Wire.JSON.readTree(file.toFile());
    }

    static byte[] hex(JsonNode node) {
        return HexFormat.of().parseHex(node.asText());
    }

    static void assertEvent(JsonNode expected, RecordedEvent e) {
        assertEquals(expected.get("stream").asText(), e.stream());
        assertEquals(expected.get("revision").asLong(), e.revision());
        assertEquals(expected.get("position").asLong(), e.position());
        assertEquals(expected.get("timestamp").asLong(), e.timestampMicros());
        assertEquals(UUID.fromString(expected.get("id").asText()), e.id());
        assertEquals(expected.get("type").asText(), e.type());
        assertEquals(expected.get("content_type").asText(), e.contentType());
        assertArrayEquals(hex(expected.get("data_hex")), e.data());
        assertArrayEquals(hex(expected.get("metadata_hex")), e.metadata());
        assertEquals(expected.get("shredded").asBoolean(), e.shredded());
        JsonNode schema = expected.get("schema_version");
        assertEquals(schema.isNull() ? -1 : schema.asInt(), e.schemaVersion().orElse(-1));
    }

    @Test
    void eventsToAppendPackToTheReferenceBytes() {
        JsonNode v = vectors.get("append_events");
        List<EventData> events = new ArrayList<>();
        for (JsonNode e : v.get("events")) {
            EventData.Builder data = EventData.builder(e.get("type").asText()).contentType(e.get("content_type").asText())
                    .data(hex(e.get("data_hex"))).metadata(hex(e.get("metadata_hex")));
            if (!e.get("id").isNull()) {
                data.id(UUID.fromString(e.get("id").asText()));
            }
            events.add(data.build());
        }
        assertArrayEquals(hex(v.get("packed")), Wire.packEvents(events));
    }

    @Test
    void pagesDecodeToTheReferenceEvents() {
        for (String name : List.of("page", "empty_page")) {
            JsonNode v = vectors.get(name);
            List<RecordedEvent> page = Wire.events(hex(v.get("packed")));
            assertEquals(v.get("events").size(), page.size(), name);
            for (int i = 0; i < page.size(); i++) {
                assertEvent(v.get("events").get(i), page.get(i));
            }
        }
        List<RecordedEvent> page = Wire.events(hex(vectors.get("page").get("packed")));
        // Strings that repeat within a page are decoded once.
        assertSame(page.get(0).stream(), page.get(1).stream());
        assertSame(page.get(0).type(), page.get(1).type());
        assertSame(page.get(0).contentType(), page.get(1).contentType());
    }

    @Test
    void anEventOfAPageIsAViewOfItsBytes() {
        byte[] packed = hex(vectors.get("page").get("packed"));
        RecordedEvent e = Wire.events(packed).get(0);
        ByteBuffer data = e.dataBuffer();
        assertTrue(data.isReadOnly());
        assertEquals(e.dataSize(), data.remaining());
        assertEquals(e.dataAsString(), java.nio.charset.StandardCharsets.UTF_8.decode(data.duplicate()).toString());
        assertThrows(ReadOnlyBufferException.class, () -> e.dataBuffer().put((byte) 0));
        assertArrayEquals(e.metadata(), bytes(e.metadataBuffer()));
        // data() is the caller's own copy: changing it changes nothing else.
        byte[] copy = e.data();
        copy[0] = 'X';
        assertFalse(e.dataAsString().startsWith("X"));
        // The page is the event's storage: the view sees what the page holds.
        int at = indexOf(packed, e.data());
        packed[at] = 'Y';
        assertEquals('Y', e.dataBuffer().get(0));
    }

    static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void sessionsAndResultsDecodeToTheReferenceValues() {
        assertTrue(Wire.subscriptionMessage(hex(vectors.get("caught_up").get("packed"))).isCaughtUp());
        JsonNode sub = vectors.get("subscription_event");
        assertEvent(sub.get("event"), Wire.subscriptionMessage(hex(sub.get("packed"))).getEvent());

        JsonNode d = vectors.get("delivery");
        Delivery delivery = Wire.delivery(hex(d.get("packed")), null);
        assertEquals(d.get("id").asText(), Long.toUnsignedString(delivery.id()));
        assertEquals(d.get("attempt").asInt(), delivery.attempt());
        assertEquals(d.get("parked_revision").asLong(), delivery.parkedRevision().getAsLong());
        assertEvent(d.get("event"), delivery.event());

        JsonNode r = vectors.get("append_result").get("result");
        assertEquals(new AppendResult(r.get("first_revision").asLong(), r.get("last_revision").asLong(),
                r.get("first_position").asLong(), r.get("last_position").asLong()),
                Wire.appendResult(hex(vectors.get("append_result").get("packed"))));

        JsonNode s = vectors.get("snapshot");
        Snapshot snapshot = Wire.snapshot(hex(s.get("packed")));
        assertEquals(new Snapshot(s.get("stream").asText(), s.get("revision").asLong(), hex(s.get("data_hex")),
                s.get("timestamp").asLong()), snapshot);
    }

    @Test
    void damagedBuffersAreRefusedNeverMisread() {
        byte[] page = hex(vectors.get("page").get("packed"));
        for (int cut : new int[] {3, 10, page.length / 2, page.length - 1}) {
            byte[] truncated = java.util.Arrays.copyOf(page, cut);
            assertThrows(InternalException.class, () -> Wire.events(truncated), "cut at " + cut);
        }
        byte[] trailing = java.util.Arrays.copyOf(page, page.length + 1);
        assertThrows(InternalException.class, () -> Wire.events(trailing));
        byte[] hugeCount = page.clone();
        hugeCount[3] = 0x7f;
        assertThrows(InternalException.class, () -> Wire.events(hugeCount));
        byte[] message = hex(vectors.get("subscription_event").get("packed"));
        message[0] = 2;
        assertThrows(InternalException.class, () -> Wire.subscriptionMessage(message));
        // The flags byte of the last event: only bit 0 (shredded) is defined.
        byte[] flags = page.clone();
        flags[flags.length - 5] = 2;
        assertThrows(InternalException.class, () -> Wire.events(flags));
    }

    @Test
    void everyEnumCrossesAsItsDocumentedNumber() {
        JsonNode codes = vectors.get("codes");
        assertEquals(codes.get("error").size(), ErrorCode.values().length);
        for (ErrorCode c : ErrorCode.values()) {
            assertEquals(codes.get("error").get(c.name()).asInt(), c.code(), c.name());
            assertSame(c, ErrorCode.of(c.code()));
        }
        assertNull(ErrorCode.of(0));
        JsonNode ev = codes.get("expected_version");
        assertEquals(ev.size(), ExpectedVersion.Kind.values().length);
        for (ExpectedVersion.Kind k : ExpectedVersion.Kind.values()) {
            assertEquals(ev.get(k.name().toLowerCase(java.util.Locale.ROOT)).asInt(), k.code(), k.name());
        }
        JsonNode start = codes.get("subscription_start");
        assertEquals(start.size(), StartPosition.Kind.values().length);
        for (StartPosition.Kind k : StartPosition.Kind.values()) {
            assertEquals(start.get(k.name().toLowerCase(java.util.Locale.ROOT)).asInt(), k.code(), k.name());
        }
        JsonNode nack = codes.get("nack_action");
        assertEquals(nack.size(), NackAction.values().length);
        for (NackAction a : NackAction.values()) {
            assertEquals(nack.get(a.name().toLowerCase(java.util.Locale.ROOT)).asInt(), a.code(), a.name());
        }
        JsonNode strategy = codes.get("group_strategy");
        assertEquals(strategy.size(), GroupStrategy.values().length);
        for (GroupStrategy s : GroupStrategy.values()) {
            assertEquals(strategy.get(s.json()).asInt(), s.code(), s.name());
        }
        JsonNode direction = codes.get("direction");
        assertEquals(direction.size(), Direction.values().length);
        for (Direction d : Direction.values()) {
            assertEquals(direction.get(d.name().toLowerCase(java.util.Locale.ROOT)).asInt(), d.code(), d.name());
        }
        JsonNode durability = codes.get("durability");
        assertEquals(durability.size(), Durability.values().length);
        for (Durability d : Durability.values()) {
            assertEquals(durability.get(d.name().toLowerCase(java.util.Locale.ROOT)).asInt(), d.code(), d.name());
        }
    }

    @Test
    void jsonFormsReadAndWriteAsTheReference() throws Exception {
        JsonNode json = vectors.get("json");

        JsonNode settings = json.get("group_settings");
        GroupSettings s = Wire.settings(settings);
        assertEquals(new GroupSettings(5, Duration.ofMillis(1500), 64, GroupStrategy.PINNED_BY_STREAM), s);
        assertEquals(settings, Wire.JSON.readTree(Wire.settingsJson(s)));
        assertThrows(IllegalArgumentException.class, () -> GroupStrategy.fromJson("fastest"));

        for (JsonNode target : json.get("group_target")) {
            assertEquals(target, Wire.JSON.readTree(Wire.targetJson(Wire.target(target))));
        }
        JsonNode filter = json.get("filter");
        assertEquals(filter, Wire.JSON.readTree(Wire.filterJson(Wire.filter(filter))));

        JsonNode info = json.get("stream_info");
        StreamInfo streamInfo = Wire.streamInfo(info.toString());
        assertEquals(CurrentRevision.of(5), streamInfo.current());
        assertEquals(6, streamInfo.nextRevision());
        assertEquals(Duration.ofMinutes(1), streamInfo.metadata().maxAge().orElseThrow());
        assertEquals(10, streamInfo.metadata().maxCount().getAsLong());
        assertTrue(streamInfo.metadata().truncateBefore().isEmpty());
        // The metadata writes back the same, leaving the unset field out (the reference reads it as null).
        JsonNode metadata = Wire.JSON.readTree(Wire.metadataJson(streamInfo.metadata()));
        assertEquals(info.get("metadata").get("max_age_ms"), metadata.get("max_age_ms"));
        assertEquals(info.get("metadata").get("max_count"), metadata.get("max_count"));
        assertFalse(metadata.has("truncate_before"));

        assertEquals(List.of(CurrentRevision.noStream(), CurrentRevision.of(0)),
                List.of(Errors.current(json.get("current_revision").get(0)), Errors.current(json.get("current_revision").get(1))));
        List<ExpectedVersion> expected = new ArrayList<>();
        json.get("expected_version").forEach(e -> expected.add(Errors.expected(e)));
        assertEquals(List.of(ExpectedVersion.any(), ExpectedVersion.noStream(), ExpectedVersion.streamExists(),
                ExpectedVersion.exact(3)), expected);
        assertThrows(IllegalArgumentException.class, () -> Errors.expected(Wire.JSON.readTree("\"sometimes\"")));
    }

    @Test
    void durationsCrossInWholeMillisecondsRoundedUp() {
        assertEquals(0, Wire.millis(Duration.ZERO));
        assertEquals(1, Wire.millis(Duration.ofNanos(1)));
        assertEquals(2, Wire.millis(Duration.ofNanos(1_500_000)));
        assertEquals(30_000, Wire.millis(Duration.ofSeconds(30)));
        assertEquals(Long.MAX_VALUE, Wire.millis(Duration.ofSeconds(Long.MAX_VALUE)));
    }

    @Test
    void errorDetailsBuildTheTypedExceptions() {
        JsonNode details = vectors.get("json").get("error_details");
        JsonNode codes = vectors.get("codes").get("error");

        WrongExpectedVersionException wev = assertInstanceOf(WrongExpectedVersionException.class,
                Errors.create(codes.get("WRONG_EXPECTED_VERSION").asInt(), "m",
                        details.get("WRONG_EXPECTED_VERSION").toString()));
        assertEquals("s", wev.getStream());
        assertEquals(ExpectedVersion.exact(1), wev.getExpected());
        assertEquals(CurrentRevision.noStream(), wev.getActual());

        SchemaViolationException sv = assertInstanceOf(SchemaViolationException.class,
                Errors.create(codes.get("SCHEMA_VIOLATION").asInt(), "m", details.get("SCHEMA_VIOLATION").toString()));
        assertEquals("order", sv.getSchema());
        assertEquals(2, sv.getVersion());
        assertEquals(1, sv.getEventIndex());
        // The value crosses as a JSON value and is handed on as its JSON text.
        assertEquals(new Violation("qty", "min", "0", "below 1"), sv.getViolations().get(0));

        InvalidSchemaException is = assertInstanceOf(InvalidSchemaException.class,
                Errors.create(codes.get("INVALID_SCHEMA").asInt(), "m", details.get("INVALID_SCHEMA").toString()));
        assertEquals(List.of("no fields"), is.getProblems());
        assertEquals("s", assertInstanceOf(StreamDeletedException.class,
                Errors.create(codes.get("STREAM_DELETED").asInt(), "m", details.get("STREAM_DELETED").toString()))
                .getStream());

        for (ErrorCode c : ErrorCode.values()) {
            GraveyardException e = Errors.create(c.code(), "message", details.has(c.name()) ? details.get(c.name()).toString() : null);
            assertEquals(c, e.getCode(), c.name());
            assertEquals("message", e.getMessage());
        }
        assertInstanceOf(UnsupportedException.class, Errors.create(16, "m", null));
        GraveyardException unknown = Errors.create(99, "from the future", null);
        assertInstanceOf(InternalException.class, unknown);
        assertTrue(unknown.getMessage().contains("99") && unknown.getMessage().contains("from the future"));
    }
}
