package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graveyard.internal.Native;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every operation of the client on an embedded store, its error paths and its lifecycle. */
class EmbeddedClientTest {
    @TempDir
    Path dir;

    GraveyardClient client;

    @BeforeEach
    void open() {
        client = Graveyard.open(dir, OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE));
    }

    @AfterEach
    void close() {
        client.close();
    }

    static EventData json(String type, String json) {
        return EventData.json(type, json);
    }

    @Test
    void appendReturnsRevisionsAndPositionsAndReadsBackEveryField() {
        UUID id = UUID.randomUUID();
        EventData first = EventData.builder("Placed").id(id).data("{\"total\":42}").metadata("{\"by\":\"me\"}").build();
        EventData second = EventData.binary("Blob", new byte[] {0, 1, 2, (byte) 255});
        AppendResult r = client.append("order-1", ExpectedVersion.noStream(), first, second);
        assertEquals(new AppendResult(0, 1, 0, 1), r);
        assertEquals(new AppendResult(0, 0, 2, 2), client.append("order-2", ExpectedVersion.any(), json("X", "{}")));

        List<RecordedEvent> events = client.readStream("order-1");
        assertEquals(2, events.size());
        RecordedEvent e = events.get(0);
        assertEquals("order-1", e.stream());
        assertEquals(0, e.revision());
        assertEquals(0, e.position());
        assertEquals(id, e.id());
        assertEquals("Placed", e.type());
        assertEquals(EventData.CONTENT_TYPE_JSON, e.contentType());
        assertEquals("{\"total\":42}", e.dataAsString());
        assertEquals("{\"by\":\"me\"}", new String(e.metadata(), StandardCharsets.UTF_8));
        assertFalse(e.shredded());
        assertTrue(e.schemaVersion().isEmpty());
        assertTrue(e.timestampMicros() > 1_600_000_000_000_000L);
        assertTrue(e.timestamp().getEpochSecond() > 1_600_000_000L);
        RecordedEvent b = events.get(1);
        assertArrayEquals(new byte[] {0, 1, 2, (byte) 255}, b.data());
        assertEquals(EventData.CONTENT_TYPE_BINARY, b.contentType());
        assertNotNull(b.id());
        assertEquals(3, client.headPosition());
    }

    @Test
    void aBatchIsAtomicAndLargeBatchesCrossInOneCall() {
        List<EventData> batch = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            batch.add(json("E", "{\"i\":" + i + "}"));
        }
        AppendResult r = client.append("big", ExpectedVersion.noStream(), batch);
        assertEquals(4_999, r.lastRevision());
        List<RecordedEvent> all = client.readStream("big");
        assertEquals(5_000, all.size());
        for (int i = 0; i < all.size(); i++) {
            assertEquals(i, all.get(i).revision());
            assertEquals("{\"i\":" + i + "}", all.get(i).dataAsString());
        }
        // One invalid event (not JSON) refuses the whole batch.
        assertThrows(InvalidArgumentException.class, () -> client.append("atomic", ExpectedVersion.any(),
                json("E", "{}"), EventData.json("E", "not json")));
        assertThrows(NotFoundException.class, () -> client.readStream("atomic"));
    }

    @Test
    void idempotentRetryReturnsTheOriginalResult() {
        EventData e = json("E", "{}").withId(UUID.randomUUID());
        AppendResult first = client.append("s", ExpectedVersion.noStream(), e);
        AppendResult again = client.append("s", ExpectedVersion.noStream(), e);
        assertEquals(first, again);
        assertEquals(1, client.readStream("s").size());
    }

    @Test
    void readOptionsDirectionFromAndLimit() {
        for (int i = 0; i < 10; i++) {
            client.append("s", ExpectedVersion.any(), json("E", "{\"i\":" + i + "}"));
        }
        List<RecordedEvent> page = client.readStream("s", ReadOptions.forwards().from(3).limit(4));
        assertEquals(List.of(3L, 4L, 5L, 6L), page.stream().map(RecordedEvent::revision).toList());
        List<RecordedEvent> back = client.readStream("s", ReadOptions.backwards().limit(2));
        assertEquals(List.of(9L, 8L), back.stream().map(RecordedEvent::revision).toList());
        List<RecordedEvent> backFrom = client.readStream("s", ReadOptions.backwards().from(2));
        assertEquals(List.of(2L, 1L, 0L), backFrom.stream().map(RecordedEvent::revision).toList());
        assertEquals(0, client.readStream("s", ReadOptions.forwards().limit(0)).size());
    }

    @Test
    void readAllWithFiltersAndDirections() {
        client.append("order-1", ExpectedVersion.any(), json("Placed", "{}"));
        client.append("user-1", ExpectedVersion.any(), json("Registered", "{}"));
        client.append("order-2", ExpectedVersion.any(), json("Shipped", "{}"));
        assertEquals(3, client.readAll().size());
        assertEquals(List.of("order-1", "order-2"), client.readAll(ReadAllOptions.forwards()
                .filter(Filter.streamPrefix("order-"))).stream().map(RecordedEvent::stream).toList());
        assertEquals(List.of("user-1", "order-2"), client.readAll(ReadAllOptions.forwards()
                .filter(Filter.eventType("Registered").orEventType("Shipped"))).stream().map(RecordedEvent::stream)
                .toList());
        assertEquals(List.of(2L, 1L), client.readAll(ReadAllOptions.backwards().limit(2)).stream()
                .map(RecordedEvent::position).toList());
        assertEquals(List.of(1L, 2L), client.readAll(ReadAllOptions.forwards().from(1)).stream()
                .map(RecordedEvent::position).toList());
    }

    @Test
    void wrongExpectedVersionCarriesItsTypedFields() {
        client.append("s", ExpectedVersion.noStream(), json("E", "{}"));
        WrongExpectedVersionException e = assertThrows(WrongExpectedVersionException.class,
                () -> client.append("s", ExpectedVersion.exact(5), json("E", "{}")));
        assertEquals(ErrorCode.WRONG_EXPECTED_VERSION, e.getCode());
        assertEquals("s", e.getStream());
        assertEquals(ExpectedVersion.exact(5), e.getExpected());
        assertEquals(CurrentRevision.of(0), e.getActual());

        WrongExpectedVersionException none = assertThrows(WrongExpectedVersionException.class,
                () -> client.append("other", ExpectedVersion.streamExists(), json("E", "{}")));
        assertEquals(ExpectedVersion.streamExists(), none.getExpected());
        assertTrue(none.getActual().isNoStream());
        assertThrows(WrongExpectedVersionException.class,
                () -> client.append("s", ExpectedVersion.noStream(), json("E", "{}")));
        assertEquals(1, client.append("s", ExpectedVersion.exact(0), json("E", "{}")).lastRevision());
        assertEquals(2, client.append("s", ExpectedVersion.streamExists(), json("E", "{}")).lastRevision());
    }

    @Test
    void streamLifecycleMetadataDeleteAndTombstone() {
        assertThrows(NotFoundException.class, () -> client.streamInfo("s"));
        for (int i = 0; i < 5; i++) {
            client.append("s", ExpectedVersion.any(), json("E", "{}"));
        }
        StreamInfo info = client.streamInfo("s");
        assertEquals(CurrentRevision.of(4), info.current());
        assertEquals(5, info.nextRevision());
        assertFalse(info.deleted());
        assertEquals(StreamMetadata.none(), info.metadata());

        StreamMetadata m = StreamMetadata.builder().maxCount(2).maxAge(Duration.ofDays(1)).truncateBefore(1).build();
        client.setStreamMetadata("s", m);
        assertEquals(m, client.getStreamMetadata("s"));
        assertEquals(List.of(3L, 4L), client.readStream("s").stream().map(RecordedEvent::revision).toList());
        client.setStreamMetadata("s", StreamMetadata.none());
        assertEquals(5, client.readStream("s").size());

        client.deleteStream("s", ExpectedVersion.exact(4));
        assertThrows(NotFoundException.class, () -> client.readStream("s"));
        assertTrue(client.streamInfo("s").deleted());
        assertEquals(5, client.append("s", ExpectedVersion.noStream(), json("E", "{}")).firstRevision());

        client.tombstoneStream("s", ExpectedVersion.any());
        StreamDeletedException deleted = assertThrows(StreamDeletedException.class, () -> client.readStream("s"));
        assertEquals(ErrorCode.STREAM_DELETED, deleted.getCode());
        assertEquals("s", deleted.getStream());
        assertThrows(StreamDeletedException.class, () -> client.append("s", ExpectedVersion.any(), json("E", "{}")));
        // Its events stay in $all.
        assertEquals(6, client.readAll().size());
    }

    @Test
    void listStreamsPagesByNameWithEachStreamsState() {
        assertEquals(List.of(), client.listStreams("", null, 1000));
        assertEquals(List.of(), client.listStreams("", null));
        for (String name : List.of("order-2", "order-1", "user-1", "order-3")) {
            client.append(name, ExpectedVersion.noStream(), json("E", "{}"), json("E", "{}"));
        }
        client.deleteStream("order-2", ExpectedVersion.any());
        client.tombstoneStream("order-3", ExpectedVersion.any());
        List<StreamSummary> first = client.listStreams("order-", null, 2);
        assertEquals(List.of("order-1", "order-2"), first.stream().map(StreamSummary::name).toList());
        assertEquals(new StreamSummary("order-1", 2, OptionalLong.of(3), false, 0, false, false), first.get(0));
        assertTrue(first.get(1).deleted());
        assertEquals(2, first.get(1).deletedBefore());
        List<StreamSummary> rest = client.listStreamsAsync("order-", first.get(1).name(), 2).join();
        assertEquals(List.of("order-3"), rest.stream().map(StreamSummary::name).toList());
        assertTrue(rest.get(0).tombstoned());
        assertEquals(List.of("order-1", "order-2", "order-3", "user-1"),
                client.listStreams("", null, 10).stream().map(StreamSummary::name).toList());
        assertEquals(client.listStreams("", null, 10), client.listStreamsAsync("", null).join());
        assertThrows(InvalidArgumentException.class, () -> client.listStreams("", null, 0));
        assertThrows(InvalidArgumentException.class, () -> client.listStreams("", null, -1));
        assertThrows(NullPointerException.class, () -> client.listStreams(null, null, 1));
    }

    @Test
    void snapshots() {
        assertEquals(Optional.empty(), client.getSnapshot("s"));
        client.append("s", ExpectedVersion.any(), json("E", "{}"), json("E", "{}"));
        client.saveSnapshot("s", 1, new byte[] {7, 8, 9});
        Snapshot snapshot = client.getSnapshot("s").orElseThrow();
        assertEquals("s", snapshot.stream());
        assertEquals(1, snapshot.revision());
        assertArrayEquals(new byte[] {7, 8, 9}, snapshot.data());
        assertTrue(snapshot.timestampMicros() > 0);
        assertThrows(NotFoundException.class, () -> client.saveSnapshot("s", 7, new byte[0]));
        assertEquals(snapshot, client.getSnapshotAsync("s").join().orElseThrow());
    }

    static final String ORDER_SCHEMA = """
            {"name": "OrderPlaced", "fields": [
              {"name": "total", "type": "integer", "required": true, "min": 0},
              {"name": "currency", "type": "string", "pattern": "[A-Z]{3}"}
            ]}""";

    @Test
    void schemasGovernAppendsAndReportViolations() {
        SchemaUpsert upsert = client.upsertSchema(ORDER_SCHEMA);
        assertEquals(new SchemaUpsert("OrderPlaced", 1, true), upsert);
        assertEquals(new SchemaUpsert("OrderPlaced", 1, false), client.upsertSchema(ORDER_SCHEMA));
        RegisteredSchema registered = client.getSchema("OrderPlaced");
        assertEquals("OrderPlaced", registered.name());
        assertEquals(1, registered.version());
        assertTrue(registered.definition().contains("\"total\""));
        assertEquals(registered, client.getSchema("OrderPlaced", 1));
        assertEquals(List.of(registered), client.listSchemas());
        assertThrows(NotFoundException.class, () -> client.getSchema("OrderPlaced", 2));
        assertThrows(NotFoundException.class, () -> client.getSchema("Nope"));

        RecordedEvent ok = read(client.append("o", ExpectedVersion.any(),
                json("OrderPlaced", "{\"total\":3,\"currency\":\"EUR\"}")));
        assertEquals(1, ok.schemaVersion().orElseThrow());

        SchemaViolationException e = assertThrows(SchemaViolationException.class, () -> client.append("o",
                ExpectedVersion.any(), json("Other", "{}"), json("OrderPlaced", "{\"total\":-1,\"currency\":\"eur\"}")));
        assertEquals(ErrorCode.SCHEMA_VIOLATION, e.getCode());
        assertEquals("OrderPlaced", e.getSchema());
        assertEquals(1, e.getVersion());
        assertEquals(1, e.getEventIndex());
        assertEquals(2, e.getViolations().size());
        Violation min = e.getViolations().stream().filter(v -> v.path().equals("total")).findFirst().orElseThrow();
        assertEquals("min", min.rule());
        assertEquals("-1", min.value());
        Violation pattern = e.getViolations().stream().filter(v -> v.path().equals("currency")).findFirst()
                .orElseThrow();
        assertEquals("pattern", pattern.rule());
        assertEquals("\"eur\"", pattern.value());
        SchemaViolationException missing = assertThrows(SchemaViolationException.class,
                () -> client.append("o", ExpectedVersion.any(), json("OrderPlaced", "{}")));
        assertEquals("required", missing.getViolations().get(0).rule());
        assertEquals(null, missing.getViolations().get(0).value());
    }

    private RecordedEvent read(AppendResult r) {
        return client.readAll(ReadAllOptions.forwards().from(r.lastPosition()).limit(1)).get(0);
    }

    @Test
    void invalidSchemasNameEveryProblem() {
        InvalidSchemaException e = assertThrows(InvalidSchemaException.class, () -> client.upsertSchema(
                "{\"name\": \"Bad\", \"fields\": [{\"name\": \"a\", \"type\": \"integer\", \"min\": 5, \"max\": 1}]}"));
        assertEquals(ErrorCode.INVALID_SCHEMA, e.getCode());
        assertEquals("Bad", e.getSchema());
        assertFalse(e.getProblems().isEmpty());
        InvalidSchemaException notJson = assertThrows(InvalidSchemaException.class, () -> client.upsertSchema("{"));
        assertFalse(notJson.getProblems().isEmpty());
    }

    @Test
    void asyncTwinsCompleteWithResultsAndTypedFailures() throws Exception {
        AppendResult r = client.appendAsync("a", ExpectedVersion.noStream(), json("E", "{}")).get();
        assertEquals(0, r.lastRevision());
        assertEquals(1, client.readStreamAsync("a", ReadOptions.forwards()).get().size());
        assertEquals(1L, client.headPositionAsync().get());
        assertEquals(CurrentRevision.of(0), client.streamInfoAsync("a").get().current());
        client.setStreamMetadataAsync("a", StreamMetadata.builder().maxCount(10).build()).get();
        assertEquals(10, client.getStreamMetadataAsync("a").get().maxCount().getAsLong());
        client.saveSnapshotAsync("a", 0, new byte[] {1}).get();
        assertEquals(1, client.upsertSchemaAsync(ORDER_SCHEMA).get().version());
        assertEquals(1, client.getSchemaAsync("OrderPlaced").get().version());
        assertEquals(1, client.listSchemasAsync().get().size());

        ExecutionException failed = assertThrows(ExecutionException.class,
                () -> client.appendAsync("a", ExpectedVersion.noStream(), json("E", "{}")).get());
        WrongExpectedVersionException wev = assertInstanceOf(WrongExpectedVersionException.class, failed.getCause());
        assertEquals(CurrentRevision.of(0), wev.getActual());
        CompletionException joined = assertThrows(CompletionException.class,
                () -> client.readStreamAsync("missing", ReadOptions.forwards()).join());
        assertInstanceOf(NotFoundException.class, joined.getCause());

        client.deleteStreamAsync("a", ExpectedVersion.any()).get();
        client.tombstoneStreamAsync("a", ExpectedVersion.any()).get();
        assertInstanceOf(StreamDeletedException.class, assertThrows(ExecutionException.class,
                () -> client.readStreamAsync("a", ReadOptions.forwards()).get()).getCause());

        // A blocking call from a continuation (a runtime thread) works.
        assertEquals(1, client.appendAsync("cont", ExpectedVersion.any(), json("E", "{}"))
                .thenApply(x -> client.readStream("cont")).get(10, TimeUnit.SECONDS).size());

        // Many at once, completed from the runtime's threads.
        List<CompletableFuture<AppendResult>> futures = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            futures.add(client.appendAsync("many", ExpectedVersion.any(), json("E", "{}")));
        }
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get();
        assertEquals(200, client.readStream("many").size());
    }

    @Test
    void badInputIsRefusedClearly() {
        NullPointerException npe = assertThrows(NullPointerException.class,
                () -> client.append(null, ExpectedVersion.any(), json("E", "{}")));
        assertTrue(npe.getMessage().contains("stream"), npe.getMessage());
        assertThrows(NullPointerException.class, () -> client.append("s", null, json("E", "{}")));
        assertThrows(NullPointerException.class, () -> client.append("s", ExpectedVersion.any(), (EventData) null));
        assertThrows(NullPointerException.class, () -> client.readStream("s", null));
        assertThrows(NullPointerException.class, () -> client.readAll(null));
        assertThrows(NullPointerException.class, () -> EventData.json(null, "{}"));
        assertThrows(NullPointerException.class, () -> client.upsertSchema((String) null));
        assertThrows(NullPointerException.class, () -> Graveyard.open(null));

        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> ExpectedVersion.exact(-1));
        assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ReadOptions.forwards().from(-5));
        assertThrows(IllegalArgumentException.class, () -> ReadOptions.forwards().limit(-1));
        assertThrows(IllegalArgumentException.class, () -> ReadAllOptions.forwards().from(-1));
        assertThrows(IllegalArgumentException.class, () -> client.saveSnapshot("s", -1, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> SubscribeOptions.after(-1));
        assertThrows(IllegalArgumentException.class, () -> client.getSchema("x", 0));

        InvalidArgumentException empty = assertThrows(InvalidArgumentException.class,
                () -> client.append("", ExpectedVersion.any(), json("E", "{}")));
        assertEquals(ErrorCode.INVALID_ARGUMENT, empty.getCode());
        assertThrows(InvalidArgumentException.class, () -> client.append("a\0b", ExpectedVersion.any(), json("E", "{}")));
        assertThrows(InvalidArgumentException.class, () -> client.append("x".repeat(257), ExpectedVersion.any(),
                json("E", "{}")));
        assertThrows(InvalidArgumentException.class, () -> client.append("$system", ExpectedVersion.any(),
                json("E", "{}")));
        assertThrows(InvalidArgumentException.class, () -> client.append("s", ExpectedVersion.any()));
        // Non-ASCII names and data survive the trip.
        client.append("ünïcødé-\uD83D\uDE00", ExpectedVersion.any(), json("Événement", "{\"v\":\"ß\"}"));
        RecordedEvent e = client.readStream("ünïcødé-\uD83D\uDE00").get(0);
        assertEquals("Événement", e.type());
        assertEquals("{\"v\":\"ß\"}", e.dataAsString());
    }

    @Test
    void eventsLargerThanTheLimitAreRefused(@TempDir Path other) {
        try (GraveyardClient small = Graveyard.open(other, OpenOptions.defaults().maxEventSize(1024))) {
            assertThrows(InvalidArgumentException.class, () -> small.append("s", ExpectedVersion.any(),
                    EventData.binary("E", new byte[2048])));
            small.append("s", ExpectedVersion.any(), EventData.binary("E", new byte[512]));
        }
    }

    @Test
    void closeIsIdempotentAndEveryLaterCallThrowsClosed() {
        client.append("s", ExpectedVersion.any(), json("E", "{}"));
        client.close();
        client.close();
        assertTrue(client.isClosed());
        ClosedException closed = assertThrows(ClosedException.class, () -> client.readStream("s"));
        assertEquals(ErrorCode.CLOSED, closed.getCode());
        assertThrows(ClosedException.class, () -> client.append("s", ExpectedVersion.any(), json("E", "{}")));
        assertThrows(ClosedException.class, () -> client.subscribeToAll(SubscribeOptions.fromStart()));
        assertThrows(ClosedException.class, () -> client.joinGroup("g", "m"));
        ExecutionException async = assertThrows(ExecutionException.class,
                () -> client.headPositionAsync().get());
        assertInstanceOf(ClosedException.class, async.getCause());
        // The directory can be opened again, with its data.
        try (GraveyardClient again = Graveyard.open(dir)) {
            assertEquals(1, again.readStream("s").size());
        }
    }

    @Test
    void closeWhileCallsAreInFlightIsSafe() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> unexpected = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread thread = new Thread(() -> {
                try {
                    for (int i = 0; i < 10_000; i++) {
                        client.append("s", ExpectedVersion.any(), json("E", "{}"));
                        client.readStream("s", ReadOptions.backwards().limit(5));
                    }
                } catch (ClosedException expected) {
                    // The close won the race.
                } catch (Throwable e) {
                    synchronized (unexpected) {
                        unexpected.add(e);
                    }
                }
            });
            threads.add(thread);
            thread.start();
        }
        Thread.sleep(100);
        client.close();
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(List.of(), unexpected);
    }

    @Test
    void twoHandlesOnOneDirectoryShareTheStore() {
        try (GraveyardClient second = Graveyard.open(dir, OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE))) {
            client.append("s", ExpectedVersion.any(), json("E", "{}"));
            assertEquals(1, second.readStream("s").size());
        }
        assertEquals(1, client.readStream("s").size());
    }

    @Test
    void openingSomethingThatIsNotAStoreFails(@TempDir Path other) throws Exception {
        Path file = other.resolve("file");
        Files.writeString(file, "not a directory");
        GraveyardException e = assertThrows(GraveyardException.class, () -> Graveyard.open(file));
        assertTrue(e.getCode() == ErrorCode.IO || e.getCode() == ErrorCode.INVALID_ARGUMENT
                || e.getCode() == ErrorCode.INCOMPATIBLE_FORMAT || e.getCode() == ErrorCode.CORRUPTION, e.toString());
    }

    @Test
    void aPanicInNativeCodeIsAnInternalExceptionNeverACrash() throws Exception {
        InternalException e = assertThrows(InternalException.class, () -> Native.selfTestPanic(null));
        assertEquals(ErrorCode.INTERNAL, e.getCode());
        assertTrue(e.getMessage().contains("self-test panic"), e.getMessage());
        CompletableFuture<Object> future = new CompletableFuture<>();
        Native.selfTestPanic(future);
        ExecutionException async = assertThrows(ExecutionException.class, () -> future.get(10, TimeUnit.SECONDS));
        assertInstanceOf(InternalException.class, async.getCause());
        // The library and the store still work afterwards.
        client.append("s", ExpectedVersion.any(), json("E", "{}"));
        assertEquals(1, client.readStream("s").size());
    }

    @Test
    void clusterOnlyCallsAreUnsupportedOnAnEmbeddedStore() {
        UnsupportedException e = assertThrows(UnsupportedException.class, () -> client.onNode("n1"));
        assertEquals(ErrorCode.UNSUPPORTED, e.getCode());
        assertEquals(16, e.getCode().code());
        assertFalse(client.isEncrypted());
        assertThrows(NullPointerException.class, () -> client.onNode(null));
    }

    @Test
    void readsDecodeEachStringOncePerPageAndKeepTheDataAsAView() {
        List<EventData> batch = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            batch.add(EventData.json("Placed", "{\"n\":" + i + "}").withMetadata("m" + i));
        }
        client.append("view-1", ExpectedVersion.any(), batch);
        client.append("view-2", ExpectedVersion.any(), batch);
        List<RecordedEvent> all = client.readAll(ReadAllOptions.forwards().filter(Filter.streamPrefix("view-")));
        assertEquals(100, all.size());
        for (int i = 0; i < all.size(); i++) {
            RecordedEvent e = all.get(i);
            assertEquals("{\"n\":" + (i % 50) + "}", e.dataAsString());
            assertEquals("m" + (i % 50), new String(e.metadata(), StandardCharsets.UTF_8));
            assertEquals(e.dataAsString(), StandardCharsets.UTF_8.decode(e.dataBuffer()).toString());
            assertEquals(e.dataSize(), e.data().length);
            // One String per distinct value of the page.
            assertSame(all.get(i < 50 ? 0 : 50).stream(), e.stream());
            assertSame(all.get(0).type(), e.type());
            assertSame(all.get(0).contentType(), e.contentType());
        }
        assertTrue(all.get(0).dataBuffer().isReadOnly());
        byte[] copy = all.get(0).data();
        copy[0] = 'X';
        assertEquals("{\"n\":0}", all.get(0).dataAsString(), "data() hands out a copy");
        assertEquals(all.get(3), client.readStream("view-1", ReadOptions.forwards().from(3).limit(1)).get(0));
    }

    @Test
    void theNativeLibraryReportsItsVersion() {
        assertEquals("0.1.0", Graveyard.nativeVersion());
    }
}
