package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * One conformance scenario (conformance/*.json), parsed and checked whole before any step runs,
 * exactly as the reference runner (core/tests/conformance/runner.rs) does: an unknown op, key or
 * error code fails the scenario instead of letting a step pass vacuously (conformance/README.md,
 * "Strictness").
 *
 * <p>The parsed operations use neutral types (no SDK class) so only {@link SdkStore} depends on
 * the Java client API.
 */
final class Scenario {
    final String name;
    /** The scenario's {@code options.max_event_size}, null for the default. */
    final Long maxEventSize;
    /** The scenario's {@code options.master_key} (32 bytes), null for a store without encryption. */
    final byte[] masterKey;
    final List<Step> steps;

    private Scenario(String name, Long maxEventSize, byte[] masterKey, List<Step> steps) {
        this.name = name;
        this.maxEventSize = maxEventSize;
        this.masterKey = masterKey;
        this.steps = steps;
    }

    /** A scenario that cannot be parsed; its message says where. */
    static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message);
        }
    }

    // -----------------------------------------------------------------------------------------
    // The parsed model.

    enum Version { ANY, NO_STREAM, STREAM_EXISTS, EXACT }

    /** An expected version as the scenarios write it. */
    record Expected(Version kind, long exact) {
        static final Expected ANY = new Expected(Version.ANY, 0);
    }

    /** An event to append. {@code id} null: the store generates one. */
    record EventSpec(UUID id, String type, byte[] data, byte[] metadata, String contentType) {}

    /** {@code from} and {@code limit} null when absent (the start or end; no limit). */
    record Read(boolean backwards, Long from, Long limit) {}

    record FilterSpec(List<String> streamPrefixes, List<String> eventTypes) {}

    /** Each null when not set. */
    record MetadataSpec(Long maxCount, Long maxAgeMs, Long truncateBefore) {}

    sealed interface Op
            permits Append, ReadStream, ReadAll, StreamInfo, SetStreamMetadata, GetStreamMetadata,
                    DeleteStream, TombstoneStream, ShredStream, SaveSnapshot, GetSnapshot, HeadPosition, UpsertSchema,
                    GetSchema, ListSchemas, Close, Reopen, Sleep {}

    record Append(String stream, Expected expected, List<EventSpec> events) implements Op {}

    record ReadStream(String stream, Read read) implements Op {}

    record ReadAll(Read read, FilterSpec filter) implements Op {}

    record StreamInfo(String stream) implements Op {}

    record SetStreamMetadata(String stream, MetadataSpec metadata) implements Op {}

    record GetStreamMetadata(String stream) implements Op {}

    record DeleteStream(String stream, Expected expected) implements Op {}

    record TombstoneStream(String stream, Expected expected) implements Op {}

    record ShredStream(String stream) implements Op {}

    record SaveSnapshot(String stream, long revision, byte[] data) implements Op {}

    record GetSnapshot(String stream) implements Op {}

    record HeadPosition() implements Op {}

    /**
     * The definition stays JSON and is handed to the SDK as text: a malformed one is an outcome
     * (INVALID_SCHEMA) to check, not a malformed scenario.
     */
    record UpsertSchema(JsonNode definition) implements Op {}

    /** {@code version} null: the latest. */
    record GetSchema(String name, Long version) implements Op {}

    record ListSchemas() implements Op {}

    record Close() implements Op {}

    record Reopen() implements Op {}

    record Sleep(long ms) implements Op {}

    enum ExpectKind { SUCCESS, RESULT, ERROR }

    /** One step: the op, what it must give ({@code expected} null for SUCCESS), and its JSON. */
    record Step(String opName, Op op, ExpectKind expectKind, JsonNode expected, JsonNode raw) {}

    /** Event-id placeholders ({@code $id:<name>}): one random UUID per name, per scenario. */
    static final class Ids {
        private final Map<String, UUID> byName = new HashMap<>();

        UUID resolve(String text) throws Malformed {
            if (text.startsWith("$id:")) {
                String name = text.substring(4);
                if (name.isEmpty()) {
                    throw new Malformed("an id placeholder needs a name: \"$id:<name>\"");
                }
                return byName.computeIfAbsent(name, n -> UUID.randomUUID());
            }
            return parseUuid(text);
        }
    }

    /** Strict UUID parsing (java.util.UUID.fromString accepts short groups such as "1-2-3-4-5"). */
    static UUID parseUuid(String text) throws Malformed {
        if (!text.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
            throw new Malformed("id " + Json.quote(text) + " is neither a UUID nor \"$id:<name>\"");
        }
        return UUID.fromString(text);
    }

    // -----------------------------------------------------------------------------------------
    // Parsing.

    static Scenario parse(JsonNode value, Ids ids) throws Malformed {
        ObjectNode map = object(value, "the scenario", "name", "description", "options", "steps");
        JsonNode nameNode = required(map, "name", "the scenario");
        if (!nameNode.isTextual() || nameNode.textValue().isEmpty()) {
            throw new Malformed("\"name\" must be a non-empty string");
        }
        if (!required(map, "description", "the scenario").isTextual()) {
            throw new Malformed("\"description\" must be a string");
        }
        Long maxEventSize = null;
        byte[] masterKey = null;
        if (map.has("options")) {
            ObjectNode options = object(map.get("options"), "\"options\"", "max_event_size", "master_key");
            maxEventSize = optionalUint(options, "max_event_size", "options");
            if (options.has("master_key")) {
                masterKey = masterKey(options.get("master_key"));
            }
        }
        JsonNode steps = required(map, "steps", "the scenario");
        if (!steps.isArray()) {
            throw new Malformed("\"steps\" must be an array");
        }
        if (steps.isEmpty()) {
            throw new Malformed("\"steps\" is empty");
        }
        List<Step> parsed = new ArrayList<>();
        for (int index = 0; index < steps.size(); index++) {
            try {
                parsed.add(parseStep(steps.get(index), ids));
            } catch (Malformed e) {
                throw new Malformed("step " + index + ": " + e.getMessage());
            }
        }
        return new Scenario(nameNode.textValue(), maxEventSize, masterKey, List.copyOf(parsed));
    }

    /** {@code options.master_key}: 64 hex digits. */
    private static byte[] masterKey(JsonNode node) throws Malformed {
        String text = node.isTextual() ? node.textValue() : "";
        if (!text.matches("[0-9a-fA-F]{64}")) {
            throw new Malformed("options.master_key must be a string of 64 hex digits");
        }
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return key;
    }

    private static final List<String> STEP_KEYS = List.of("op", "note", "expect", "expect_error");
    private static final String[] APPEND_RESULT_KEYS = {"first_revision", "last_revision", "first_position", "last_position"};
    private static final String[] READ_RESULT_KEYS = {"events", "count", "timestamps_non_decreasing"};
    static final String[] METADATA_KEYS = {"max_count", "max_age_ms", "truncate_before"};

    /** Every stable error code (core/src/error.rs, ErrorCode::ALL). */
    static final Set<String> ERROR_CODES = Set.of(
            "WRONG_EXPECTED_VERSION", "STREAM_DELETED", "SCHEMA_VIOLATION", "INVALID_SCHEMA",
            "INVALID_ARGUMENT", "NOT_FOUND", "ENCRYPTION", "UNAUTHENTICATED", "PERMISSION_DENIED",
            "UNAVAILABLE", "CLOSED", "CORRUPTION", "INCOMPATIBLE_FORMAT", "IO", "INTERNAL");

    private static Step parseStep(JsonNode value, Ids ids) throws Malformed {
        if (!value.isObject()) {
            throw new Malformed("a step must be an object, got " + value);
        }
        JsonNode opNode = required((ObjectNode) value, "op", "a step");
        if (!opNode.isTextual()) {
            throw new Malformed("\"op\" must be a string");
        }
        String opName = opNode.textValue();
        String[] arguments;
        String[] resultKeys;
        switch (opName) {
            case "append" -> { arguments = new String[] {"stream", "expected_version", "events"}; resultKeys = APPEND_RESULT_KEYS; }
            case "read_stream" -> { arguments = new String[] {"stream", "direction", "from", "limit"}; resultKeys = READ_RESULT_KEYS; }
            case "read_all" -> { arguments = new String[] {"direction", "from", "limit", "filter"}; resultKeys = READ_RESULT_KEYS; }
            case "stream_info" -> { arguments = new String[] {"stream"}; resultKeys = new String[] {"current", "next_revision", "deleted", "shredded", "metadata"}; }
            case "shred_stream" -> { arguments = new String[] {"stream"}; resultKeys = new String[0]; }
            case "set_stream_metadata" -> { arguments = new String[] {"stream", "metadata"}; resultKeys = new String[0]; }
            case "get_stream_metadata" -> { arguments = new String[] {"stream"}; resultKeys = METADATA_KEYS; }
            case "delete_stream", "tombstone_stream" -> { arguments = new String[] {"stream", "expected_version"}; resultKeys = new String[0]; }
            case "save_snapshot" -> { arguments = new String[] {"stream", "revision", "data"}; resultKeys = new String[0]; }
            case "get_snapshot" -> { arguments = new String[] {"stream"}; resultKeys = new String[] {"snapshot"}; }
            case "head_position" -> { arguments = new String[0]; resultKeys = new String[] {"head_position"}; }
            case "upsert_schema" -> { arguments = new String[] {"schema"}; resultKeys = new String[] {"name", "version", "changed"}; }
            case "get_schema" -> { arguments = new String[] {"name", "version"}; resultKeys = new String[] {"name", "version", "schema"}; }
            case "list_schemas" -> { arguments = new String[0]; resultKeys = new String[] {"schemas"}; }
            case "close", "reopen" -> { arguments = new String[0]; resultKeys = new String[0]; }
            case "sleep" -> { arguments = new String[] {"ms"}; resultKeys = new String[0]; }
            default -> throw new Malformed("unknown op " + Json.quote(opName));
        }
        List<String> allowed = new ArrayList<>(STEP_KEYS);
        allowed.addAll(Arrays.asList(arguments));
        ObjectNode map = object(value, "a " + Json.quote(opName) + " step", allowed.toArray(new String[0]));

        Op op = switch (opName) {
            case "append" -> {
                JsonNode events = required(map, "events", "an append");
                if (!events.isArray()) {
                    throw new Malformed("\"events\" must be an array");
                }
                List<EventSpec> parsed = new ArrayList<>();
                for (int i = 0; i < events.size(); i++) {
                    try {
                        parsed.add(parseEvent(events.get(i), ids));
                    } catch (Malformed e) {
                        throw new Malformed("events[" + i + "]: " + e.getMessage());
                    }
                }
                yield new Append(stream(map), expected(map), List.copyOf(parsed));
            }
            case "read_stream" -> new ReadStream(stream(map), readArguments(map));
            case "read_all" -> new ReadAll(readArguments(map),
                    map.has("filter") ? parseFilter(map.get("filter")) : new FilterSpec(List.of(), List.of()));
            case "stream_info" -> new StreamInfo(stream(map));
            case "set_stream_metadata" -> {
                ObjectNode metadata = object(required(map, "metadata", "the step"), "\"metadata\"", METADATA_KEYS);
                yield new SetStreamMetadata(stream(map), new MetadataSpec(
                        optionalUint(metadata, "max_count", "metadata"),
                        optionalUint(metadata, "max_age_ms", "metadata"),
                        optionalUint(metadata, "truncate_before", "metadata")));
            }
            case "get_stream_metadata" -> new GetStreamMetadata(stream(map));
            case "delete_stream" -> new DeleteStream(stream(map), expected(map));
            case "tombstone_stream" -> new TombstoneStream(stream(map), expected(map));
            case "shred_stream" -> new ShredStream(stream(map));
            case "save_snapshot" -> new SaveSnapshot(stream(map),
                    uint(required(map, "revision", "the step"), "\"revision\""),
                    bytes(required(map, "data", "the step"), "\"data\"").bytes);
            case "get_snapshot" -> new GetSnapshot(stream(map));
            case "head_position" -> new HeadPosition();
            case "upsert_schema" -> {
                JsonNode definition = required(map, "schema", "the step").deepCopy();
                // The name may be a generated string (to test its length limit).
                if (definition.isObject() && definition.has("name") && definition.get("name").isObject()) {
                    ((ObjectNode) definition).set("name", TextNode.valueOf(string(definition.get("name"), "schema.name")));
                }
                yield new UpsertSchema(definition);
            }
            case "get_schema" -> {
                Long version = optionalUint(map, "version", "the step");
                if (version != null && version > 0xFFFF_FFFFL) {
                    throw new Malformed("\"version\" " + version + " is too large");
                }
                yield new GetSchema(string(required(map, "name", "the step"), "\"name\""), version);
            }
            case "list_schemas" -> new ListSchemas();
            case "close" -> new Close();
            case "reopen" -> new Reopen();
            case "sleep" -> new Sleep(uint(required(map, "ms", "a sleep"), "\"ms\""));
            default -> throw new AssertionError("ops are matched above");
        };

        JsonNode expect = map.get("expect");
        JsonNode expectError = map.get("expect_error");
        if (expect != null && expectError != null) {
            throw new Malformed("a step has either \"expect\" or \"expect_error\", not both");
        }
        if (expect == null && expectError == null) {
            return new Step(opName, op, ExpectKind.SUCCESS, null, value);
        }
        if (expect != null) {
            object(expect, "\"expect\"", resultKeys);
            return new Step(opName, op, ExpectKind.RESULT, expect, value);
        }
        if (!expectError.isObject()) {
            throw new Malformed("\"expect_error\" must be an object");
        }
        JsonNode code = required((ObjectNode) expectError, "code", "\"expect_error\"");
        if (!code.isTextual() || !ERROR_CODES.contains(code.textValue())) {
            throw new Malformed("unknown error code " + code);
        }
        String[] fields = switch (code.textValue()) {
            case "WRONG_EXPECTED_VERSION" -> new String[] {"code", "stream", "expected", "actual"};
            case "STREAM_DELETED" -> new String[] {"code", "stream"};
            case "SCHEMA_VIOLATION" -> new String[] {"code", "schema", "version", "event", "violations"};
            case "INVALID_SCHEMA" -> new String[] {"code", "schema", "problem_count"};
            default -> new String[] {"code"};
        };
        object(expectError, "\"expect_error\"", fields);
        if (expectError.has("expected")) {
            expectedVersion(expectError.get("expected"), "expect_error.expected");
        }
        return new Step(opName, op, ExpectKind.ERROR, expectError, value);
    }

    private static String stream(ObjectNode map) throws Malformed {
        return string(required(map, "stream", "the step"), "\"stream\"");
    }

    private static Expected expected(ObjectNode map) throws Malformed {
        return map.has("expected_version") ? expectedVersion(map.get("expected_version"), "\"expected_version\"") : Expected.ANY;
    }

    private static Read readArguments(ObjectNode map) throws Malformed {
        boolean backwards;
        JsonNode direction = map.get("direction");
        if (direction == null || (direction.isTextual() && direction.textValue().equals("forwards"))) {
            backwards = false;
        } else if (direction.isTextual() && direction.textValue().equals("backwards")) {
            backwards = true;
        } else {
            throw new Malformed("\"direction\" must be \"forwards\" or \"backwards\", got " + direction);
        }
        Long from = map.has("from") ? uint(map.get("from"), "\"from\"") : null;
        Long limit = map.has("limit") ? uint(map.get("limit"), "\"limit\"") : null;
        return new Read(backwards, from, limit);
    }

    private static FilterSpec parseFilter(JsonNode value) throws Malformed {
        ObjectNode map = object(value, "\"filter\"", "stream_prefixes", "event_types");
        return new FilterSpec(list(map, "stream_prefixes"), list(map, "event_types"));
    }

    private static List<String> list(ObjectNode map, String key) throws Malformed {
        JsonNode items = map.get(key);
        if (items == null) {
            return List.of();
        }
        if (!items.isArray()) {
            throw new Malformed("filter." + key + " must be an array, got " + items);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode item : items) {
            out.add(string(item, "filter." + key));
        }
        return List.copyOf(out);
    }

    static final String CONTENT_TYPE_JSON = "application/json";
    static final String CONTENT_TYPE_BINARY = "application/octet-stream";

    private static EventSpec parseEvent(JsonNode value, Ids ids) throws Malformed {
        ObjectNode map = object(value, "an event", "id", "type", "data", "metadata", "content_type");
        String type = string(required(map, "type", "an event"), "\"type\"");
        Bytes data = map.has("data") ? bytes(map.get("data"), "\"data\"") : new Bytes(new byte[0], false);
        String contentType;
        if (map.has("content_type")) {
            contentType = string(map.get("content_type"), "\"content_type\"");
        } else {
            contentType = data.json ? CONTENT_TYPE_JSON : CONTENT_TYPE_BINARY;
        }
        byte[] metadata = map.has("metadata") ? bytes(map.get("metadata"), "\"metadata\"").bytes : new byte[0];
        UUID id = null;
        if (map.has("id")) {
            JsonNode idNode = map.get("id");
            if (!idNode.isTextual()) {
                throw new Malformed("\"id\" must be a string, got " + idNode);
            }
            id = ids.resolve(idNode.textValue());
        }
        return new EventSpec(id, type, data.bytes, metadata, contentType);
    }

    static Expected expectedVersion(JsonNode value, String what) throws Malformed {
        if (value.isTextual()) {
            switch (value.textValue()) {
                case "any": return Expected.ANY;
                case "no_stream": return new Expected(Version.NO_STREAM, 0);
                case "stream_exists": return new Expected(Version.STREAM_EXISTS, 0);
                default: break;
            }
        } else if (value.isObject()) {
            ObjectNode map = object(value, what, "exact");
            return new Expected(Version.EXACT, uint(required(map, "exact", what), what + ".exact"));
        }
        throw new Malformed(what + " must be \"any\", \"no_stream\", \"stream_exists\" or {\"exact\": n}, got " + value);
    }

    /** A string, or a generated one: {"repeat": s, "times": n}, {"concat": [s, ...]}. */
    static String string(JsonNode value, String what) throws Malformed {
        if (value.isTextual()) {
            return value.textValue();
        }
        if (value.isObject() && value.has("repeat")) {
            object(value, what, "repeat", "times");
            JsonNode unit = value.get("repeat");
            if (!unit.isTextual()) {
                throw new Malformed(what + ".repeat must be a string");
            }
            long times = uint(required((ObjectNode) value, "times", what), what + ".times");
            if (times > Integer.MAX_VALUE) {
                throw new Malformed(what + ".times is too large");
            }
            return unit.textValue().repeat((int) times);
        }
        if (value.isObject() && value.has("concat")) {
            object(value, what, "concat");
            JsonNode parts = value.get("concat");
            if (!parts.isArray()) {
                throw new Malformed(what + ".concat must be an array");
            }
            StringBuilder out = new StringBuilder();
            for (JsonNode part : parts) {
                out.append(string(part, what));
            }
            return out.toString();
        }
        throw new Malformed(what + " must be a string, {\"repeat\": s, \"times\": n} or {\"concat\": [...]}, got " + value);
    }

    /** Bytes in one of the README's forms; {@code json} says whether they were given as a JSON value. */
    record Bytes(byte[] bytes, boolean json) {}

    static Bytes bytes(JsonNode value, String what) throws Malformed {
        if (value.isObject() && value.size() == 1) {
            if (value.has("utf8")) {
                return new Bytes(string(value.get("utf8"), what + ".utf8").getBytes(StandardCharsets.UTF_8), false);
            }
            if (value.has("base64")) {
                JsonNode encoded = value.get("base64");
                if (!encoded.isTextual()) {
                    throw new Malformed(what + ".base64 must be a string");
                }
                try {
                    return new Bytes(Json.base64Decode(encoded.textValue()), false);
                } catch (IllegalArgumentException e) {
                    throw new Malformed(what + ".base64: " + e.getMessage());
                }
            }
            if (value.has("json")) {
                return new Bytes(Json.serialize(value.get("json")), true);
            }
        }
        return new Bytes(Json.serialize(value), true);
    }

    // -----------------------------------------------------------------------------------------
    // Small checked accessors.

    static ObjectNode object(JsonNode value, String what, String... allowed) throws Malformed {
        if (!value.isObject()) {
            throw new Malformed(what + " must be an object, got " + value);
        }
        List<String> known = Arrays.asList(allowed);
        for (Iterator<String> keys = value.fieldNames(); keys.hasNext(); ) {
            String key = keys.next();
            if (!known.contains(key)) {
                throw new Malformed("unknown key " + Json.quote(key) + " in " + what + " (known: " + String.join(", ", allowed) + ")");
            }
        }
        return (ObjectNode) value;
    }

    static JsonNode required(ObjectNode map, String key, String what) throws Malformed {
        JsonNode value = map.get(key);
        if (value == null) {
            throw new Malformed(what + " needs " + Json.quote(key));
        }
        return value;
    }

    /**
     * A non-negative integer. Rust's u64 range is cut to Java's long: no scenario comes near 2^63,
     * and a bigger one fails loudly instead of wrapping.
     */
    static long uint(JsonNode value, String what) throws Malformed {
        if (value.isIntegralNumber()) {
            BigInteger n = value.bigIntegerValue();
            if (n.signum() >= 0 && n.bitLength() < 64) {
                return n.longValue();
            }
        }
        throw new Malformed(what + " must be a non-negative integer (below 2^63 in Java), got " + value);
    }

    /** Absent and {@code null} are both "not set". */
    static Long optionalUint(ObjectNode map, String key, String what) throws Malformed {
        JsonNode value = map.get(key);
        if (value == null || value.isNull()) {
            return null;
        }
        return uint(value, what + "." + key);
    }
}
