package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graveyard.AppendResult;
import io.graveyard.ClosedException;
import io.graveyard.CurrentRevision;
import io.graveyard.Delivery;
import io.graveyard.Durability;
import io.graveyard.EventData;
import io.graveyard.ExpectedVersion;
import io.graveyard.Filter;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.GraveyardException;
import io.graveyard.GroupInfo;
import io.graveyard.GroupMember;
import io.graveyard.GroupSettings;
import io.graveyard.GroupStrategy;
import io.graveyard.GroupTarget;
import io.graveyard.InvalidSchemaException;
import io.graveyard.NackAction;
import io.graveyard.OpenOptions;
import io.graveyard.ReadAllOptions;
import io.graveyard.ReadOptions;
import io.graveyard.RecordedEvent;
import io.graveyard.RegisteredSchema;
import io.graveyard.ReplayInfo;
import io.graveyard.SchemaUpsert;
import io.graveyard.SchemaViolationException;
import io.graveyard.Snapshot;
import io.graveyard.StartPosition;
import io.graveyard.StreamDeletedException;
import io.graveyard.StreamInfo;
import io.graveyard.StreamMetadata;
import io.graveyard.SubscribeOptions;
import io.graveyard.Subscription;
import io.graveyard.SubscriptionMessage;
import io.graveyard.Violation;
import io.graveyard.WrongExpectedVersionException;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The Java SDK's executor of the conformance protocol (conformance/README.md, "Running the
 * scenarios in an SDK"): one JSON request per line on stdin, one JSON answer per line on stdout.
 * It only dispatches: each request is one call of the SDK's public API, and each answer the
 * result or the exception in the protocol's form. The parsing of the scenarios and the matching
 * are the Rust runner's ({@code graveyard-conformance}), run by {@link ConformanceTest}.
 *
 * <p>{@code --async} calls the {@code ...Async} twins instead of the blocking methods;
 * {@code --node} runs each scenario on one real node through {@link Graveyard#connect} instead of
 * an embedded store.
 */
public final class Executor {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Longest wait for an async twin's future beyond the call's own timeout: a twin that never completes fails its step. */
    private static final long ASYNC_SLACK_MS = 60_000;

    /** Where a scenario's client comes from: an embedded store, or a node reached over gRPC. */
    interface Backend {
        GraveyardClient open() throws Exception;

        /** Closes {@code old} (if open) and everything under it, then opens the same data again. */
        GraveyardClient reopen(GraveyardClient old) throws Exception;

        /** Releases what the backend holds (a node process); the client is already closed. */
        void release() throws Exception;
    }

    /**
     * A value the scenario wrote that the SDK's types cannot express (an unknown strategy, a key
     * no setting has, a delivery id never handed out) or refuse as they are built: a Java user is
     * refused it there, so the answer is INVALID_ARGUMENT (conformance/README.md).
     */
    static final class Unexpressible extends RuntimeException {
        Unexpressible(String message) {
            super(message);
        }
    }

    private final boolean async;
    private final boolean node;

    // The scenario being run.
    private Path dir;
    private Backend backend;
    private GraveyardClient client;
    private final Map<String, AutoCloseable> sessions = new HashMap<>();
    /** The latest delivery handed out under each id, to settle it by id through any member. */
    private final Map<String, Delivery> deliveries = new HashMap<>();

    Executor(boolean async, boolean node) {
        this.async = async;
        this.node = node;
    }

    public static void main(String[] args) throws Exception {
        Set<String> flags = Set.of(args);
        // Answers go to the real stdout; anything else printing there (a library) goes to stderr.
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        Executor executor = new Executor(flags.contains("--async"), flags.contains("--node"));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                out.println(JSON.writeValueAsString(executor.answer(line)));
                out.flush();
            }
        } finally {
            executor.end();
        }
    }

    /** The answer to one request line. */
    JsonNode answer(String line) {
        ObjectNode answer = NODES.objectNode();
        try {
            JsonNode request = JSON.readTree(line);
            answer.set("ok", run(request));
        } catch (GraveyardException e) {
            String wrongClass = classProblem(e);
            if (wrongClass != null) {
                answer.put("fail", wrongClass);
            } else {
                answer.set("error", errorJson(e));
            }
        } catch (Unexpressible e) {
            ObjectNode error = answer.putObject("error");
            error.put("code", "INVALID_ARGUMENT");
            error.put("message", "refused by the Java SDK's types: " + e.getMessage());
        } catch (Exception | Error e) {
            // Not a GraveyardException: the SDK failed without a code, or this executor did.
            StackTraceElement[] trace = e.getStackTrace();
            answer.put("fail", e + (trace.length > 0 ? " at " + trace[0] : ""));
            e.printStackTrace();
        }
        return answer;
    }

    private JsonNode run(JsonNode r) throws Exception {
        String op = text(r, "op");
        switch (op) {
            case "begin" -> {
                end();
                JsonNode options = r.get("options");
                Long maxEventSize = options.get("max_event_size").isNull() ? null : options.get("max_event_size").asLong();
                byte[] masterKey = options.get("master_key").isNull() ? null : hex(options.get("master_key").asText());
                dir = Files.createTempDirectory("graveyard-conformance-");
                backend = node ? NodeBackend.start(dir, maxEventSize, masterKey) : embedded(dir, maxEventSize, masterKey);
                client = backend.open();
                return NODES.objectNode();
            }
            case "end" -> {
                end();
                return NODES.objectNode();
            }
            default -> {
                if (client == null) {
                    throw new IllegalStateException("no scenario is open (\"begin\" first)");
                }
                return runStep(op, r);
            }
        }
    }

    private JsonNode runStep(String op, JsonNode r) throws Exception {
        GraveyardClient c = client;
        ObjectNode nothing = NODES.objectNode();
        switch (op) {
            case "append": {
                List<EventData> events = new ArrayList<>();
                for (JsonNode e : r.get("events")) {
                    EventData.Builder b = EventData.builder(text(e, "type")).data(bytes(e, "data"))
                            .metadata(bytes(e, "metadata")).contentType(text(e, "content_type"));
                    if (!e.get("id").isNull()) {
                        b.id(UUID.fromString(text(e, "id")));
                    }
                    events.add(b.build());
                }
                String stream = text(r, "stream");
                ExpectedVersion expected = expectedVersion(r.get("expected_version"));
                return appendJson(call(() -> c.append(stream, expected, events), () -> c.appendAsync(stream, expected, events)));
            }
            case "read_stream": {
                ReadOptions o = text(r, "direction").equals("backwards") ? ReadOptions.backwards() : ReadOptions.forwards();
                if (!r.get("from").isNull()) {
                    o = o.from(r.get("from").asLong());
                }
                if (!r.get("limit").isNull()) {
                    o = o.limit(r.get("limit").asLong());
                }
                ReadOptions options = o;
                String stream = text(r, "stream");
                return eventsJson(call(() -> c.readStream(stream, options), () -> c.readStreamAsync(stream, options)));
            }
            case "read_all": {
                ReadAllOptions o = text(r, "direction").equals("backwards") ? ReadAllOptions.backwards() : ReadAllOptions.forwards();
                if (!r.get("from").isNull()) {
                    o = o.from(r.get("from").asLong());
                }
                if (!r.get("limit").isNull()) {
                    o = o.limit(r.get("limit").asLong());
                }
                ReadAllOptions options = o.filter(filter(r.get("filter")));
                return eventsJson(call(() -> c.readAll(options), () -> c.readAllAsync(options)));
            }
            case "stream_info": {
                String stream = text(r, "stream");
                return infoJson(call(() -> c.streamInfo(stream), () -> c.streamInfoAsync(stream)));
            }
            case "set_stream_metadata": {
                StreamMetadata.Builder b = StreamMetadata.builder();
                JsonNode m = r.get("metadata");
                if (!m.get("max_count").isNull()) {
                    b.maxCount(m.get("max_count").asLong());
                }
                if (!m.get("max_age_ms").isNull()) {
                    b.maxAge(Duration.ofMillis(m.get("max_age_ms").asLong()));
                }
                if (!m.get("truncate_before").isNull()) {
                    b.truncateBefore(m.get("truncate_before").asLong());
                }
                StreamMetadata metadata = b.build();
                String stream = text(r, "stream");
                call(() -> {
                    c.setStreamMetadata(stream, metadata);
                    return null;
                }, () -> c.setStreamMetadataAsync(stream, metadata));
                return nothing;
            }
            case "get_stream_metadata": {
                String stream = text(r, "stream");
                return metadataJson(call(() -> c.getStreamMetadata(stream), () -> c.getStreamMetadataAsync(stream)));
            }
            case "delete_stream": {
                String stream = text(r, "stream");
                ExpectedVersion expected = expectedVersion(r.get("expected_version"));
                call(() -> {
                    c.deleteStream(stream, expected);
                    return null;
                }, () -> c.deleteStreamAsync(stream, expected));
                return nothing;
            }
            case "tombstone_stream": {
                String stream = text(r, "stream");
                ExpectedVersion expected = expectedVersion(r.get("expected_version"));
                call(() -> {
                    c.tombstoneStream(stream, expected);
                    return null;
                }, () -> c.tombstoneStreamAsync(stream, expected));
                return nothing;
            }
            case "shred_stream": {
                String stream = text(r, "stream");
                call(() -> {
                    c.shredStream(stream);
                    return null;
                }, () -> c.shredStreamAsync(stream));
                return nothing;
            }
            case "save_snapshot": {
                String stream = text(r, "stream");
                long revision = r.get("revision").asLong();
                byte[] data = bytes(r, "data");
                call(() -> {
                    c.saveSnapshot(stream, revision, data);
                    return null;
                }, () -> c.saveSnapshotAsync(stream, revision, data));
                return nothing;
            }
            case "get_snapshot": {
                String stream = text(r, "stream");
                Optional<Snapshot> snapshot = call(() -> c.getSnapshot(stream), () -> c.getSnapshotAsync(stream));
                ObjectNode out = NODES.objectNode();
                if (snapshot.isPresent()) {
                    Snapshot s = snapshot.get();
                    ObjectNode o = out.putObject("snapshot");
                    o.put("stream", s.stream());
                    o.put("revision", s.revision());
                    o.put("data", base64(s.data()));
                    o.put("timestamp", s.timestampMicros());
                } else {
                    out.putNull("snapshot");
                }
                return out;
            }
            case "head_position": {
                ObjectNode out = NODES.objectNode();
                out.put("head_position", (long) call(c::headPosition, c::headPositionAsync));
                return out;
            }
            case "upsert_schema": {
                String definition = JSON.writeValueAsString(r.get("schema"));
                SchemaUpsert u = call(() -> c.upsertSchema(definition), () -> c.upsertSchemaAsync(definition));
                ObjectNode out = NODES.objectNode();
                out.put("name", u.name());
                out.put("version", u.version());
                out.put("changed", u.changed());
                return out;
            }
            case "get_schema": {
                String name = text(r, "name");
                RegisteredSchema schema;
                if (r.get("version").isNull()) {
                    schema = call(() -> c.getSchema(name), () -> c.getSchemaAsync(name));
                } else {
                    int version = intArgument(r.get("version"), "version");
                    schema = call(() -> c.getSchema(name, version), () -> c.getSchemaAsync(name, version));
                }
                return schemaJson(schema);
            }
            case "list_schemas": {
                ObjectNode out = NODES.objectNode();
                ArrayNode list = out.putArray("schemas");
                for (RegisteredSchema schema : call(c::listSchemas, c::listSchemasAsync)) {
                    list.add(schemaJson(schema));
                }
                return out;
            }
            case "close": {
                client.close();
                return nothing;
            }
            case "reopen": {
                closeSessions();
                client = backend.reopen(client);
                return nothing;
            }
            case "subscribe_to_stream":
            case "subscribe_to_all": {
                SubscribeOptions o = SubscribeOptions.from(start(r.get("start")));
                if (!r.get("page_size").isNull()) {
                    SubscribeOptions base = o;
                    int pageSize = intArgument(r.get("page_size"), "page_size");
                    o = buildArgument(() -> base.pageSize(pageSize));
                }
                Subscription subscription;
                if (op.equals("subscribe_to_stream")) {
                    String stream = text(r, "stream");
                    SubscribeOptions options = o;
                    subscription = call(() -> c.subscribeToStream(stream, options), () -> c.subscribeToStreamAsync(stream, options));
                } else {
                    SubscribeOptions options = o.filter(filter(r.get("filter")));
                    subscription = call(() -> c.subscribeToAll(options), () -> c.subscribeToAllAsync(options));
                }
                open(text(r, "session"), subscription);
                return nothing;
            }
            case "create_group": {
                String group = text(r, "group");
                GroupTarget target = target(r.get("target"));
                StartPosition start = start(r.get("start"));
                GroupSettings settings = settings(r.get("settings"));
                return groupJson(call(() -> c.createGroup(group, target, start, settings),
                        () -> c.createGroupAsync(group, target, start, settings)));
            }
            case "update_group": {
                String group = text(r, "group");
                GroupSettings settings = settings(r.get("settings"));
                return groupJson(call(() -> c.updateGroup(group, settings), () -> c.updateGroupAsync(group, settings)));
            }
            case "delete_group": {
                String group = text(r, "group");
                call(() -> {
                    c.deleteGroup(group);
                    return null;
                }, () -> c.deleteGroupAsync(group));
                return nothing;
            }
            case "group_info": {
                String group = text(r, "group");
                return groupJson(call(() -> c.getGroup(group), () -> c.getGroupAsync(group)));
            }
            case "list_groups": {
                ObjectNode out = NODES.objectNode();
                ArrayNode names = out.putArray("groups");
                call(c::listGroups, c::listGroupsAsync).forEach(names::add);
                return out;
            }
            case "replay_parked": {
                String group = text(r, "group");
                ReplayInfo info;
                if (r.get("limit").isNull()) {
                    info = call(() -> c.replayParked(group), () -> c.replayParkedAsync(group));
                } else {
                    long limit = r.get("limit").asLong();
                    info = call(() -> c.replayParked(group, limit), () -> c.replayParkedAsync(group, limit));
                }
                ObjectNode out = NODES.objectNode();
                out.put("from", info.fromRevision());
                out.put("to", info.toRevision());
                out.put("parked", info.parked());
                out.put("replaying", info.replaying());
                return out;
            }
            case "join_group": {
                String group = text(r, "group");
                String member = text(r, "member");
                open(text(r, "session"), call(() -> c.joinGroup(group, member), () -> c.joinGroupAsync(group, member)));
                return nothing;
            }
            case "next": {
                Duration timeout = Duration.ofMillis(r.get("timeout_ms").asLong());
                AutoCloseable session = session(r);
                ObjectNode out = NODES.objectNode();
                try {
                    if (session instanceof Subscription s) {
                        SubscriptionMessage m = call(() -> s.next(timeout), () -> s.nextAsync(timeout), timeout);
                        if (m == null) {
                            out.put("timeout", true);
                        } else if (m.isCaughtUp()) {
                            out.put("caught_up", true);
                        } else {
                            out.set("event", eventJson(m.getEvent()));
                        }
                    } else {
                        GroupMember member = (GroupMember) session;
                        Delivery d = call(() -> member.next(timeout), () -> member.nextAsync(timeout), timeout);
                        if (d == null) {
                            out.put("timeout", true);
                        } else {
                            String id = Long.toUnsignedString(d.id());
                            deliveries.put(id, d);
                            ObjectNode delivery = out.putObject("delivery");
                            delivery.put("id", id);
                            delivery.put("attempt", d.attempt());
                            if (d.parkedRevision().isPresent()) {
                                delivery.put("parked_revision", d.parkedRevision().getAsLong());
                            } else {
                                delivery.putNull("parked_revision");
                            }
                            delivery.set("event", eventJson(d.event()));
                        }
                    }
                } catch (ClosedException e) {
                    // The SDK ends a session the user closed with ClosedException; the protocol
                    // calls that "ended". The store closing under the session stays an error.
                    if (!closed(session)) {
                        throw e;
                    }
                    out.put("ended", true);
                }
                return out;
            }
            case "ack":
            case "nack": {
                if (!(session(r) instanceof GroupMember member)) {
                    throw new IllegalStateException("ack and nack name a member session");
                }
                List<Delivery> settled = new ArrayList<>();
                for (JsonNode id : r.get("deliveries")) {
                    Delivery d = deliveries.get(id.asText());
                    if (d == null) {
                        throw new Unexpressible("delivery " + id.asText() + " was never handed out: "
                                + "the SDK settles Delivery objects, not ids");
                    }
                    settled.add(d);
                }
                Delivery[] list = settled.toArray(new Delivery[0]);
                if (op.equals("ack")) {
                    call(() -> {
                        member.ack(list);
                        return null;
                    }, () -> member.ackAsync(list));
                } else {
                    NackAction action = switch (text(r, "action")) {
                        case "retry" -> NackAction.RETRY;
                        case "park" -> NackAction.PARK;
                        case "skip" -> NackAction.SKIP;
                        default -> throw new IllegalStateException("unknown action " + r.get("action"));
                    };
                    call(() -> {
                        member.nack(action, list);
                        return null;
                    }, () -> member.nackAsync(action, list));
                }
                return nothing;
            }
            case "cancel": {
                // The SDK's one way to end a session's waits from any thread is close().
                session(r).close();
                return nothing;
            }
            case "close_session": {
                AutoCloseable session = sessions.remove(text(r, "session"));
                if (session == null) {
                    throw new IllegalStateException("no session " + r.get("session"));
                }
                session.close();
                return nothing;
            }
            default:
                throw new IllegalStateException("unknown op " + op);
        }
    }

    private static boolean closed(AutoCloseable session) {
        return session instanceof Subscription s ? s.isClosed() : ((GroupMember) session).isClosed();
    }

    private void open(String name, AutoCloseable session) throws Exception {
        AutoCloseable old = sessions.put(name, session);
        if (old != null) {
            old.close();
        }
    }

    private AutoCloseable session(JsonNode r) {
        AutoCloseable session = sessions.get(text(r, "session"));
        if (session == null) {
            throw new IllegalStateException("no session " + r.get("session"));
        }
        return session;
    }

    private void closeSessions() {
        for (AutoCloseable session : sessions.values()) {
            try {
                session.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }
        sessions.clear();
        deliveries.clear();
    }

    /** Ends the scenario being run: its sessions, its client, its node, its directory. */
    void end() {
        closeSessions();
        try {
            if (client != null) {
                client.close();
            }
            if (backend != null) {
                backend.release();
            }
        } catch (Exception e) {
            e.printStackTrace();
        } finally {
            client = null;
            backend = null;
            if (dir != null) {
                deleteRecursively(dir);
                dir = null;
            }
        }
    }

    /** The embedded store in {@code dir}: reopen closes the store and opens the directory again. */
    static Backend embedded(Path dir, Long maxEventSize, byte[] masterKey) {
        // No scenario depends on fsync (conformance/README.md: executors may relax durability).
        OpenOptions o = OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE);
        if (maxEventSize != null) {
            o = o.maxEventSize(maxEventSize);
        }
        if (masterKey != null) {
            o = o.masterKey(masterKey);
        }
        OpenOptions options = o;
        Path data = dir.resolve("store");
        return new Backend() {
            @Override
            public GraveyardClient open() {
                return Graveyard.open(data, options);
            }

            @Override
            public GraveyardClient reopen(GraveyardClient old) {
                old.close();
                return Graveyard.open(data, options);
            }

            @Override
            public void release() {}
        };
    }

    /** The blocking form, or the async twin awaited: a failed future's cause is thrown as it is. */
    private <T> T call(Supplier<T> blocking, Supplier<CompletableFuture<T>> twin) throws InterruptedException {
        return call(blocking, twin, Duration.ZERO);
    }

    private <T> T call(Supplier<T> blocking, Supplier<CompletableFuture<T>> twin, Duration wait) throws InterruptedException {
        if (!async) {
            return blocking.get();
        }
        CompletableFuture<T> future = twin.get();
        try {
            return future.get(wait.toMillis() + ASYNC_SLACK_MS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            throw new IllegalStateException("an async twin failed with a checked exception or an error", e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("an async twin never completed its future", e);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Arguments: the protocol's JSON forms to the SDK's types.

    private static String text(JsonNode node, String key) {
        JsonNode value = node.get(key);
        if (value == null || !value.isTextual()) {
            throw new IllegalStateException("the request has no string " + key + ": " + node);
        }
        return value.asText();
    }

    private static byte[] bytes(JsonNode node, String key) {
        return Base64.getDecoder().decode(text(node, key));
    }

    private static String base64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    private static byte[] hex(String text) {
        byte[] key = new byte[text.length() / 2];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return key;
    }

    /** A value built by the SDK's own types, which may refuse it (IllegalArgumentException). */
    private static <T> T buildArgument(Supplier<T> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw new Unexpressible(e.getMessage());
        }
    }

    private static int intArgument(JsonNode value, String what) {
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            throw new Unexpressible(what + " " + value + " is not a Java int");
        }
        return value.intValue();
    }

    private static long longArgument(JsonNode value, String what) {
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw new Unexpressible(what + " " + value + " is not a Java long");
        }
        return value.longValue();
    }

    private static ExpectedVersion expectedVersion(JsonNode v) {
        if (v.isObject()) {
            return ExpectedVersion.exact(v.get("exact").asLong());
        }
        return switch (v.asText()) {
            case "any" -> ExpectedVersion.any();
            case "no_stream" -> ExpectedVersion.noStream();
            case "stream_exists" -> ExpectedVersion.streamExists();
            default -> throw new IllegalStateException("unknown expected version " + v);
        };
    }

    private static StartPosition start(JsonNode v) {
        if (v.isObject()) {
            return StartPosition.after(v.get("after").asLong());
        }
        return switch (v.asText()) {
            case "start" -> StartPosition.start();
            case "end" -> StartPosition.end();
            default -> throw new IllegalStateException("unknown start " + v);
        };
    }

    /** A filter in its JSON form; keys or values the SDK cannot express are refused. */
    private static Filter filter(JsonNode v) {
        if (!v.isObject()) {
            throw new Unexpressible("a filter is an object: " + v);
        }
        Filter filter = Filter.none();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> entry = it.next();
            boolean prefixes = entry.getKey().equals("stream_prefixes");
            if (!prefixes && !entry.getKey().equals("event_types")) {
                throw new Unexpressible("a filter has no \"" + entry.getKey() + "\"");
            }
            if (!entry.getValue().isArray()) {
                throw new Unexpressible("filter." + entry.getKey() + " is a list");
            }
            for (JsonNode item : entry.getValue()) {
                if (!item.isTextual()) {
                    throw new Unexpressible("filter." + entry.getKey() + " holds strings");
                }
                filter = prefixes ? filter.orStreamPrefix(item.asText()) : filter.orEventType(item.asText());
            }
        }
        return filter;
    }

    /** {@code {"stream": name}} or {@code {"all": filter}}, as the scenario wrote it. */
    private static GroupTarget target(JsonNode v) {
        if (!v.isObject() || v.size() != 1) {
            throw new Unexpressible("a group target is {\"stream\": name} or {\"all\": filter}: " + v);
        }
        if (v.has("stream")) {
            if (!v.get("stream").isTextual()) {
                throw new Unexpressible("a target stream is a string: " + v);
            }
            return GroupTarget.stream(v.get("stream").asText());
        }
        if (v.has("all")) {
            return GroupTarget.all(filter(v.get("all")));
        }
        throw new Unexpressible("a group target is {\"stream\": name} or {\"all\": filter}: " + v);
    }

    /** Group settings as the scenario wrote them; what is left out takes the SDK's default. */
    private static GroupSettings settings(JsonNode v) {
        if (!v.isObject()) {
            throw new Unexpressible("group settings are an object: " + v);
        }
        GroupSettings defaults = GroupSettings.defaults();
        int maxRetries = defaults.maxRetries();
        Duration ackTimeout = defaults.ackTimeout();
        int maxInFlight = defaults.maxInFlight();
        GroupStrategy strategy = defaults.strategy();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> entry = it.next();
            JsonNode value = entry.getValue();
            switch (entry.getKey()) {
                case "max_retries" -> maxRetries = intArgument(value, "max_retries");
                case "ack_timeout_ms" -> ackTimeout = Duration.ofMillis(longArgument(value, "ack_timeout_ms"));
                case "max_in_flight" -> maxInFlight = intArgument(value, "max_in_flight");
                case "strategy" -> strategy = Stream.of(GroupStrategy.values())
                        .filter(s -> s.name().toLowerCase(java.util.Locale.ROOT).equals(value.asText()) && value.isTextual())
                        .findFirst().orElseThrow(() -> new Unexpressible("no GroupStrategy is " + value));
                default -> throw new Unexpressible("GroupSettings has no \"" + entry.getKey() + "\"");
            }
        }
        int retries = maxRetries;
        Duration timeout = ackTimeout;
        int inFlight = maxInFlight;
        GroupStrategy chosen = strategy;
        return buildArgument(() -> new GroupSettings(retries, timeout, inFlight, chosen));
    }

    // -----------------------------------------------------------------------------------------
    // Results in the protocol's forms.

    private static JsonNode appendJson(AppendResult r) {
        ObjectNode out = NODES.objectNode();
        out.put("first_revision", r.firstRevision());
        out.put("last_revision", r.lastRevision());
        out.put("first_position", r.firstPosition());
        out.put("last_position", r.lastPosition());
        return out;
    }

    private static JsonNode eventsJson(List<RecordedEvent> events) {
        ObjectNode out = NODES.objectNode();
        ArrayNode list = out.putArray("events");
        events.forEach(e -> list.add(eventJson(e)));
        return out;
    }

    private static JsonNode eventJson(RecordedEvent e) {
        ObjectNode event = NODES.objectNode();
        event.put("stream", e.stream());
        event.put("revision", e.revision());
        event.put("position", e.position());
        event.put("id", e.id().toString());
        event.put("type", e.type());
        event.put("content_type", e.contentType());
        event.put("data", base64(e.data()));
        event.put("metadata", base64(e.metadata()));
        event.put("timestamp", e.timestampMicros());
        event.put("shredded", e.shredded());
        if (e.schemaVersion().isPresent()) {
            event.put("schema_version", e.schemaVersion().getAsInt());
        } else {
            event.putNull("schema_version");
        }
        return event;
    }

    private static JsonNode currentJson(CurrentRevision current) {
        return current.isNoStream() ? NODES.textNode("no_stream") : NODES.numberNode(current.revision());
    }

    private static JsonNode expectedJson(ExpectedVersion expected) {
        return switch (expected.kind()) {
            case ANY -> NODES.textNode("any");
            case NO_STREAM -> NODES.textNode("no_stream");
            case STREAM_EXISTS -> NODES.textNode("stream_exists");
            case EXACT -> NODES.objectNode().put("exact", expected.revision());
        };
    }

    /** Whole milliseconds, rounded up (docs/boundary.md, "JSON"). */
    private static long millis(Duration d) {
        long millis = d.toMillis();
        return d.minusMillis(millis).isZero() ? millis : millis + 1;
    }

    private static JsonNode metadataJson(StreamMetadata m) {
        ObjectNode out = NODES.objectNode();
        if (m.maxCount().isPresent()) {
            out.put("max_count", m.maxCount().getAsLong());
        } else {
            out.putNull("max_count");
        }
        if (m.maxAge().isPresent()) {
            out.put("max_age_ms", millis(m.maxAge().get()));
        } else {
            out.putNull("max_age_ms");
        }
        if (m.truncateBefore().isPresent()) {
            out.put("truncate_before", m.truncateBefore().getAsLong());
        } else {
            out.putNull("truncate_before");
        }
        return out;
    }

    private static JsonNode infoJson(StreamInfo info) {
        ObjectNode out = NODES.objectNode();
        out.set("current", currentJson(info.current()));
        out.put("next_revision", info.nextRevision());
        out.put("deleted", info.deleted());
        out.put("shredded", info.shredded());
        out.set("metadata", metadataJson(info.metadata()));
        return out;
    }

    private static JsonNode schemaJson(RegisteredSchema s) throws IOException {
        ObjectNode out = NODES.objectNode();
        out.put("name", s.name());
        out.put("version", s.version());
        out.set("schema", JSON.readTree(s.definition()));
        return out;
    }

    private static JsonNode filterJson(Filter f) {
        ObjectNode out = NODES.objectNode();
        f.streamPrefixes().forEach(out.putArray("stream_prefixes")::add);
        f.eventTypes().forEach(out.putArray("event_types")::add);
        return out;
    }

    private static JsonNode groupJson(GroupInfo g) {
        ObjectNode out = NODES.objectNode();
        out.put("name", g.name());
        ObjectNode target = out.putObject("target");
        if (g.target().isAll()) {
            target.set("all", filterJson(g.target().filter()));
        } else {
            target.put("stream", g.target().stream());
        }
        ObjectNode settings = out.putObject("settings");
        settings.put("max_retries", g.settings().maxRetries());
        settings.put("ack_timeout_ms", millis(g.settings().ackTimeout()));
        settings.put("max_in_flight", g.settings().maxInFlight());
        settings.put("strategy", g.settings().strategy().name().toLowerCase(java.util.Locale.ROOT));
        out.put("checkpoint", g.checkpoint());
        out.put("lag", g.lag());
        g.members().forEach(out.putArray("members")::add);
        out.put("in_flight", g.inFlight());
        out.put("buffered", g.buffered());
        out.put("parked_stream", g.parkedStream());
        out.put("parked", g.parked());
        out.put("replaying", g.replaying());
        return out;
    }

    /** The code, the message and the typed fields of the error (docs/boundary.md, "Errors"). */
    static JsonNode errorJson(GraveyardException error) {
        ObjectNode out = NODES.objectNode();
        out.put("code", error.getCode().name());
        out.put("message", String.valueOf(error.getMessage()));
        if (error instanceof WrongExpectedVersionException w) {
            out.put("stream", w.getStream());
            out.set("expected", expectedJson(w.getExpected()));
            out.set("actual", currentJson(w.getActual()));
        } else if (error instanceof StreamDeletedException d) {
            out.put("stream", d.getStream());
        } else if (error instanceof SchemaViolationException v) {
            out.put("schema", v.getSchema());
            out.put("version", v.getVersion());
            out.put("event", v.getEventIndex());
            ArrayNode violations = out.putArray("violations");
            for (Violation violation : v.getViolations()) {
                ObjectNode item = violations.addObject();
                item.put("path", violation.path());
                item.put("rule", violation.rule());
                if (violation.value() == null) {
                    item.putNull("value");
                } else {
                    try {
                        item.set("value", JSON.readTree(violation.value()));
                    } catch (IOException e) {
                        // Not JSON text: an SDK bug, kept visible (a string never matches a JSON value).
                        item.put("value", "(not JSON) " + violation.value());
                    }
                }
                item.put("message", violation.message());
            }
        } else if (error instanceof InvalidSchemaException s) {
            out.put("schema", s.getSchema());
            s.getProblems().forEach(out.putArray("problems")::add);
        }
        return out;
    }

    /** One exception class per code (sdk-java/README.md); null when {@code e} is of its code's class. */
    static String classProblem(GraveyardException e) {
        String expected = switch (e.getCode()) {
            case WRONG_EXPECTED_VERSION -> "WrongExpectedVersionException";
            case STREAM_DELETED -> "StreamDeletedException";
            case SCHEMA_VIOLATION -> "SchemaViolationException";
            case INVALID_SCHEMA -> "InvalidSchemaException";
            case INVALID_ARGUMENT -> "InvalidArgumentException";
            case NOT_FOUND -> "NotFoundException";
            case ENCRYPTION -> "EncryptionException";
            case UNAUTHENTICATED -> "UnauthenticatedException";
            case PERMISSION_DENIED -> "PermissionDeniedException";
            case UNAVAILABLE -> "UnavailableException";
            case CLOSED -> "ClosedException";
            case CORRUPTION -> "CorruptionException";
            case INCOMPATIBLE_FORMAT -> "IncompatibleFormatException";
            case IO -> "GraveyardIoException";
            case INTERNAL -> "InternalException";
            case UNSUPPORTED -> "UnsupportedException";
        };
        String actual = e.getClass().getSimpleName();
        return actual.equals(expected) ? null
                : "the SDK threw " + e.getClass().getName() + " for code " + e.getCode() + ", expected io.graveyard." + expected
                        + ": " + e.getMessage();
    }

    static void deleteRecursively(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            e.printStackTrace();
        }
    }
}
