package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.graveyard.AppendResult;
import io.graveyard.CurrentRevision;
import io.graveyard.Durability;
import io.graveyard.EventData;
import io.graveyard.ExpectedVersion;
import io.graveyard.Filter;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.GraveyardException;
import io.graveyard.InvalidSchemaException;
import io.graveyard.OpenOptions;
import io.graveyard.ReadAllOptions;
import io.graveyard.ReadOptions;
import io.graveyard.RecordedEvent;
import io.graveyard.RegisteredSchema;
import io.graveyard.SchemaUpsert;
import io.graveyard.SchemaViolationException;
import io.graveyard.Snapshot;
import io.graveyard.StreamDeletedException;
import io.graveyard.StreamInfo;
import io.graveyard.StreamMetadata;
import io.graveyard.Violation;
import io.graveyard.WrongExpectedVersionException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The embedded store through the Java SDK: every op is the {@link GraveyardClient} method of the
 * same name, and every result and error is turned into the JSON the reference runner builds
 * (core/tests/conformance/runner.rs: append_json, read_json, info_json, error_json, ...), so the
 * same expectations match it.
 */
final class SdkStore {
    /** Where the client comes from: an embedded store, or a node reached over gRPC. */
    interface Backend {
        /** Opens (or connects) the first client. */
        GraveyardClient open() throws Exception;

        /** Closes {@code old} (if open) and everything under it, then opens the same data again. */
        GraveyardClient reopen(GraveyardClient old) throws Exception;

        /** Releases what the backend holds (a node process); the client is already closed. */
        void release() throws Exception;
    }

    /** The embedded store in {@code dir}: reopen closes the store and opens the directory again. */
    static Backend embedded(Path dir, Long maxEventSize, byte[] masterKey) {
        // No scenario depends on fsync (conformance/README.md: runners may relax durability).
        OpenOptions o = OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE);
        if (maxEventSize != null) {
            o = o.maxEventSize(maxEventSize);
        }
        if (masterKey != null) {
            o = o.masterKey(masterKey);
        }
        OpenOptions options = o;
        return new Backend() {
            @Override
            public GraveyardClient open() {
                return Graveyard.open(dir, options);
            }

            @Override
            public GraveyardClient reopen(GraveyardClient old) {
                old.close();
                return Graveyard.open(dir, options);
            }

            @Override
            public void release() {}
        };
    }

    private final Backend backend;
    /** Every op through its {@code ...Async} twin (CompletableFuture) instead of the blocking form. */
    private final boolean async;
    private GraveyardClient client;

    SdkStore(Backend backend, boolean async) throws Exception {
        this.backend = backend;
        this.async = async;
        this.client = backend.open();
    }

    void close() throws Exception {
        try {
            client.close();
        } finally {
            backend.release();
        }
    }

    /**
     * Runs one op. A {@link GraveyardException} is an outcome to check; any other exception
     * escapes (the runner reports it as a failure of the step: the SDK must report errors by code).
     */
    Matcher.Outcome execute(Scenario.Op op) throws Exception {
        try {
            return Matcher.Outcome.success(run(op));
        } catch (GraveyardException e) {
            return Matcher.Outcome.error(errorJson(e), e.getClass().getSimpleName() + ": " + e.getMessage(),
                    classProblem(e));
        }
    }

    /**
     * The blocking form, or the async twin awaited: a failed future's cause is thrown as it is,
     * so both forms must fail with the same exception.
     */
    private <T> T call(java.util.function.Supplier<T> blocking,
            java.util.function.Supplier<java.util.concurrent.CompletableFuture<T>> twin) throws InterruptedException {
        if (!async) {
            return blocking.get();
        }
        java.util.concurrent.CompletableFuture<T> future = twin.get();
        try {
            return future.get(ConformanceTest.SCENARIO_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("an async twin failed with a checked exception or an error", cause);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("an async twin never completed its future", e);
        }
    }

    private JsonNode run(Scenario.Op op) throws Exception {
        if (op instanceof Scenario.Append a) {
            List<EventData> events = new ArrayList<>();
            for (Scenario.EventSpec e : a.events()) {
                EventData.Builder b = EventData.builder(e.type()).data(e.data()).metadata(e.metadata())
                        .contentType(e.contentType());
                if (e.id() != null) {
                    b.id(e.id());
                }
                events.add(b.build());
            }
            ExpectedVersion expected = expectedVersion(a.expected());
            return appendJson(call(() -> client.append(a.stream(), expected, events),
                    () -> client.appendAsync(a.stream(), expected, events)));
        } else if (op instanceof Scenario.ReadStream r) {
            ReadOptions o = r.read().backwards() ? ReadOptions.backwards() : ReadOptions.forwards();
            if (r.read().from() != null) {
                o = o.from(r.read().from());
            }
            if (r.read().limit() != null) {
                o = o.limit(r.read().limit());
            }
            ReadOptions options = o;
            return readJson(call(() -> client.readStream(r.stream(), options), () -> client.readStreamAsync(r.stream(), options)));
        } else if (op instanceof Scenario.ReadAll r) {
            ReadAllOptions o = r.read().backwards() ? ReadAllOptions.backwards() : ReadAllOptions.forwards();
            if (r.read().from() != null) {
                o = o.from(r.read().from());
            }
            if (r.read().limit() != null) {
                o = o.limit(r.read().limit());
            }
            Filter filter = Filter.none();
            for (String prefix : r.filter().streamPrefixes()) {
                filter = filter.orStreamPrefix(prefix);
            }
            for (String type : r.filter().eventTypes()) {
                filter = filter.orEventType(type);
            }
            ReadAllOptions options = o.filter(filter);
            return readJson(call(() -> client.readAll(options), () -> client.readAllAsync(options)));
        } else if (op instanceof Scenario.StreamInfo s) {
            return infoJson(call(() -> client.streamInfo(s.stream()), () -> client.streamInfoAsync(s.stream())));
        } else if (op instanceof Scenario.SetStreamMetadata s) {
            StreamMetadata.Builder b = StreamMetadata.builder();
            Scenario.MetadataSpec m = s.metadata();
            if (m.maxCount() != null) {
                b.maxCount(m.maxCount());
            }
            if (m.maxAgeMs() != null) {
                b.maxAge(Duration.ofMillis(m.maxAgeMs()));
            }
            if (m.truncateBefore() != null) {
                b.truncateBefore(m.truncateBefore());
            }
            StreamMetadata metadata = b.build();
            call(() -> {
                client.setStreamMetadata(s.stream(), metadata);
                return null;
            }, () -> client.setStreamMetadataAsync(s.stream(), metadata));
            return Json.object();
        } else if (op instanceof Scenario.GetStreamMetadata s) {
            return metadataJson(call(() -> client.getStreamMetadata(s.stream()), () -> client.getStreamMetadataAsync(s.stream())));
        } else if (op instanceof Scenario.DeleteStream d) {
            ExpectedVersion expected = expectedVersion(d.expected());
            call(() -> {
                client.deleteStream(d.stream(), expected);
                return null;
            }, () -> client.deleteStreamAsync(d.stream(), expected));
            return Json.object();
        } else if (op instanceof Scenario.TombstoneStream t) {
            ExpectedVersion expected = expectedVersion(t.expected());
            call(() -> {
                client.tombstoneStream(t.stream(), expected);
                return null;
            }, () -> client.tombstoneStreamAsync(t.stream(), expected));
            return Json.object();
        } else if (op instanceof Scenario.ShredStream s) {
            call(() -> {
                client.shredStream(s.stream());
                return null;
            }, () -> client.shredStreamAsync(s.stream()));
            return Json.object();
        } else if (op instanceof Scenario.SaveSnapshot s) {
            call(() -> {
                client.saveSnapshot(s.stream(), s.revision(), s.data());
                return null;
            }, () -> client.saveSnapshotAsync(s.stream(), s.revision(), s.data()));
            return Json.object();
        } else if (op instanceof Scenario.GetSnapshot s) {
            Optional<Snapshot> snapshot = call(() -> client.getSnapshot(s.stream()), () -> client.getSnapshotAsync(s.stream()));
            ObjectNode out = Json.object();
            out.set("snapshot", snapshot.map(SdkStore::snapshotJson).orElse(NullNode.getInstance()));
            return out;
        } else if (op instanceof Scenario.HeadPosition) {
            ObjectNode out = Json.object();
            out.put("head_position", (long) call(() -> client.headPosition(), () -> client.headPositionAsync()));
            return out;
        } else if (op instanceof Scenario.UpsertSchema u) {
            String definition = Json.text(u.definition());
            SchemaUpsert result = call(() -> client.upsertSchema(definition), () -> client.upsertSchemaAsync(definition));
            ObjectNode out = Json.object();
            out.put("name", result.name());
            out.put("version", result.version());
            out.put("changed", result.changed());
            return out;
        } else if (op instanceof Scenario.GetSchema g) {
            RegisteredSchema schema = g.version() == null
                    ? call(() -> client.getSchema(g.name()), () -> client.getSchemaAsync(g.name()))
                    : call(() -> client.getSchema(g.name(), Math.toIntExact(g.version())),
                            () -> client.getSchemaAsync(g.name(), Math.toIntExact(g.version())));
            return registeredJson(schema);
        } else if (op instanceof Scenario.ListSchemas) {
            ArrayNode list = Json.array();
            for (RegisteredSchema schema : call(() -> client.listSchemas(), () -> client.listSchemasAsync())) {
                list.add(registeredJson(schema));
            }
            ObjectNode out = Json.object();
            out.set("schemas", list);
            return out;
        } else if (op instanceof Scenario.Close) {
            client.close();
            return Json.object();
        } else if (op instanceof Scenario.Reopen) {
            client = backend.reopen(client);
            return Json.object();
        } else if (op instanceof Scenario.Sleep s) {
            Thread.sleep(s.ms());
            return Json.object();
        }
        throw new AssertionError("an op the runner does not execute: " + op);
    }

    static ExpectedVersion expectedVersion(Scenario.Expected e) {
        return switch (e.kind()) {
            case ANY -> ExpectedVersion.any();
            case NO_STREAM -> ExpectedVersion.noStream();
            case STREAM_EXISTS -> ExpectedVersion.streamExists();
            case EXACT -> ExpectedVersion.exact(e.exact());
        };
    }

    // -----------------------------------------------------------------------------------------
    // Results as JSON, the reference runner's shapes.

    static JsonNode appendJson(AppendResult r) {
        ObjectNode out = Json.object();
        out.put("first_revision", r.firstRevision());
        out.put("last_revision", r.lastRevision());
        out.put("first_position", r.firstPosition());
        out.put("last_position", r.lastPosition());
        return out;
    }

    static JsonNode readJson(List<RecordedEvent> events) {
        List<RecordedEvent> byPosition = new ArrayList<>(events);
        byPosition.sort(Comparator.comparingLong(RecordedEvent::position));
        boolean nonDecreasing = true;
        for (int i = 1; i < byPosition.size(); i++) {
            if (byPosition.get(i - 1).timestampMicros() > byPosition.get(i).timestampMicros()) {
                nonDecreasing = false;
            }
        }
        ArrayNode list = Json.array();
        for (RecordedEvent e : events) {
            ObjectNode event = Json.object();
            event.put("stream", e.stream());
            event.put("revision", e.revision());
            event.put("position", e.position());
            event.set("id", e.id() == null ? NullNode.getInstance() : TextNode.valueOf(e.id().toString()));
            event.put("type", e.type());
            event.put("content_type", e.contentType());
            event.set("data", Json.bytes(e.data()));
            event.set("metadata", Json.bytes(e.metadata()));
            event.put("shredded", e.shredded());
            if (e.schemaVersion().isPresent()) {
                event.put("schema_version", e.schemaVersion().getAsInt());
            } else {
                event.putNull("schema_version");
            }
            list.add(event);
        }
        ObjectNode out = Json.object();
        out.put("count", events.size());
        out.set("events", list);
        out.put("timestamps_non_decreasing", nonDecreasing);
        return out;
    }

    static JsonNode currentJson(CurrentRevision current) {
        if (current == null) {
            return NullNode.getInstance();
        }
        return current.isNoStream() ? TextNode.valueOf("no_stream") : Json.NODES.numberNode(current.revision());
    }

    static JsonNode expectedJson(ExpectedVersion expected) {
        if (expected == null) {
            return NullNode.getInstance();
        }
        return switch (expected.kind()) {
            case ANY -> TextNode.valueOf("any");
            case NO_STREAM -> TextNode.valueOf("no_stream");
            case STREAM_EXISTS -> TextNode.valueOf("stream_exists");
            case EXACT -> {
                ObjectNode exact = Json.object();
                exact.put("exact", expected.revision());
                yield exact;
            }
        };
    }

    static JsonNode metadataJson(StreamMetadata m) {
        ObjectNode out = Json.object();
        if (m.maxCount().isPresent()) {
            out.put("max_count", m.maxCount().getAsLong());
        } else {
            out.putNull("max_count");
        }
        if (m.maxAge().isPresent()) {
            Duration age = m.maxAge().get();
            // Whole milliseconds as an integer, else fractional (as the reference runner does).
            long micros = age.toNanos() / 1_000;
            if (micros % 1_000 == 0) {
                out.put("max_age_ms", age.toMillis());
            } else {
                out.put("max_age_ms", age.toNanos() / 1_000_000.0);
            }
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

    static JsonNode infoJson(StreamInfo info) {
        ObjectNode out = Json.object();
        out.set("current", currentJson(info.current()));
        out.put("next_revision", info.nextRevision());
        out.put("deleted", info.deleted());
        out.put("shredded", info.shredded());
        out.set("metadata", metadataJson(info.metadata()));
        return out;
    }

    static JsonNode registeredJson(RegisteredSchema s) {
        ObjectNode out = Json.object();
        out.put("name", s.name());
        out.put("version", s.version());
        JsonNode definition = s.definition() == null ? null : Json.parseOrNull(s.definition().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        out.set("schema", definition == null ? TextNode.valueOf("(not JSON) " + s.definition()) : definition);
        return out;
    }

    static JsonNode snapshotJson(Snapshot s) {
        ObjectNode out = Json.object();
        out.put("stream", s.stream());
        out.put("revision", s.revision());
        out.set("data", Json.bytes(s.data()));
        return out;
    }

    /** DESIGN.md: one exception class per code. Null when {@code e} is of its code's class. */
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
            default -> "(a class for the new code " + e.getCode() + ")";
        };
        String actual = e.getClass().getSimpleName();
        return actual.equals(expected) ? null
                : "the SDK threw " + e.getClass().getName() + " for code " + e.getCode() + ", expected io.graveyard." + expected;
    }

    static JsonNode errorJson(GraveyardException error) {
        ObjectNode out = Json.object();
        out.put("code", error.getCode().name());
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
            ArrayNode violations = Json.array();
            for (Violation violation : v.getViolations()) {
                ObjectNode item = Json.object();
                item.put("path", violation.path());
                item.put("rule", violation.rule());
                if (violation.value() == null) {
                    item.putNull("value");
                } else {
                    JsonNode value = Json.parseOrNull(violation.value().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    // A value that is not JSON text is an SDK bug; keep it visible as a string.
                    item.set("value", value != null ? value : TextNode.valueOf("(not JSON) " + violation.value()));
                }
                violations.add(item);
            }
            out.set("violations", violations);
        } else if (error instanceof InvalidSchemaException s) {
            out.put("schema", s.getSchema());
            out.put("problem_count", s.getProblems().size());
        }
        return out;
    }
}
