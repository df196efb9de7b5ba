package io.graveyard.conformance;

import io.graveyard.AppendResult;
import io.graveyard.ClosedException;
import io.graveyard.CurrentRevision;
import io.graveyard.ErrorCode;
import io.graveyard.EventData;
import io.graveyard.ExpectedVersion;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.GraveyardException;
import io.graveyard.ReadAllOptions;
import io.graveyard.ReadOptions;
import io.graveyard.RecordedEvent;
import io.graveyard.SubscribeOptions;
import io.graveyard.Subscription;
import io.graveyard.SubscriptionMessage;
import io.graveyard.WrongExpectedVersionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The concurrency rules of docs/semantics.md, through the Java SDK on an embedded durable store,
 * from many threads at once: exact-version races have exactly one winner; revisions of a stream
 * and positions of $all are consecutive, without gap or duplicate, and hold every acknowledged
 * event once; idempotent retries write once; the async twins keep the same rules; a live
 * subscription sees every event once and in order; closing while calls are in flight never
 * crashes the JVM (every call succeeds or fails with CLOSED) and loses nothing acknowledged.
 *
 * <p>No assertion is about time: the timeouts only turn a hang into a failure.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ConcurrencyTest {
    static final int THREADS = 16;
    /** How long a test may wait for its threads before it calls the wait a hang. */
    static final Duration HANG = Duration.ofMinutes(2);

    @TempDir
    Path dir;

    GraveyardClient client;
    ExecutorService pool;

    @BeforeEach
    void open() {
        client = Graveyard.open(dir);
        pool = Executors.newFixedThreadPool(THREADS);
    }

    @AfterEach
    void close() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(HANG.toSeconds(), TimeUnit.SECONDS), "worker threads did not stop");
        if (client != null) {
            client.close();
        }
    }

    static EventData event(String type, int thread, int seq) {
        return EventData.json(type, "{\"thread\":" + thread + ",\"seq\":" + seq + "}").withId(UUID.randomUUID());
    }

    /** Runs {@code task(thread)} on THREADS threads at once and returns their results in thread order. */
    <T> List<T> onAllThreads(ThreadTask<T> task) throws Exception {
        CyclicBarrier start = new CyclicBarrier(THREADS);
        List<Future<T>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            futures.add(pool.submit(() -> {
                start.await();
                return task.run(thread);
            }));
        }
        List<T> results = new ArrayList<>();
        for (Future<T> f : futures) {
            results.add(await(f));
        }
        return results;
    }

    interface ThreadTask<T> {
        T run(int thread) throws Exception;
    }

    static <T> T await(Future<T> future) throws Exception {
        try {
            return future.get(HANG.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("a thread did not finish within " + HANG + " (hang or deadlock)", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** The exception a future completed with, unwrapped; null when it completed normally. */
    static Throwable failureOf(CompletableFuture<?> future) throws InterruptedException {
        try {
            future.get(HANG.toMillis(), TimeUnit.MILLISECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("a future did not complete within " + HANG + " (hang or deadlock)", e);
        }
    }

    /** Every event of a stream, forwards, checked to carry revisions 0..n-1 of that stream. */
    List<RecordedEvent> readWholeStream(String stream) {
        List<RecordedEvent> events = client.readStream(stream, ReadOptions.forwards());
        for (int i = 0; i < events.size(); i++) {
            RecordedEvent e = events.get(i);
            assertEquals(stream, e.stream(), "event " + i + " of " + stream + " names another stream");
            assertEquals(i, e.revision(), "revisions of " + stream + " are not consecutive from 0 at index " + i);
        }
        return events;
    }

    /** All of $all, forwards in pages, checked to be gapless positions 0..head-1. */
    List<RecordedEvent> readWholeLog() {
        long head = client.headPosition();
        List<RecordedEvent> all = new ArrayList<>();
        while (true) {
            List<RecordedEvent> page = client.readAll(ReadAllOptions.forwards().from(all.size()).limit(1000));
            if (page.isEmpty()) {
                break;
            }
            for (RecordedEvent e : page) {
                assertEquals(all.size(), e.position(), "$all has a gap or a duplicate at position " + all.size());
                all.add(e);
            }
        }
        assertEquals(head, all.size(), "head position and the number of events in $all differ");
        return all;
    }

    static void assertEachIdOnce(List<RecordedEvent> events, Set<UUID> written, String where) {
        Set<UUID> seen = new HashSet<>();
        for (RecordedEvent e : events) {
            assertTrue(seen.add(e.id()), where + ": event " + e.id() + " appears twice (at position " + e.position() + ")");
        }
        assertEquals(written, seen, where + ": the events read are not exactly the events acknowledged");
    }

    // -----------------------------------------------------------------------------------------

    @Test
    void everyExactVersionRaceHasExactlyOneWinner() throws Exception {
        int rounds = 40;
        String stream = "race";
        List<UUID> winners = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            ExpectedVersion expected = round == 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(round - 1);
            int r = round;
            List<Object> outcomes = onAllThreads(thread -> {
                EventData e = event("Raced", thread, r);
                try {
                    AppendResult result = client.append(stream, expected, e);
                    return new Object[] {e.id(), result};
                } catch (WrongExpectedVersionException conflict) {
                    return conflict;
                }
            });
            int wins = 0;
            for (Object outcome : outcomes) {
                if (outcome instanceof Object[] won) {
                    wins++;
                    AppendResult result = (AppendResult) won[1];
                    assertEquals(round, result.firstRevision(), "round " + round + ": the winner's revision");
                    assertEquals(round, result.lastRevision());
                    winners.add((UUID) won[0]);
                } else {
                    WrongExpectedVersionException conflict = (WrongExpectedVersionException) outcome;
                    assertEquals(ErrorCode.WRONG_EXPECTED_VERSION, conflict.getCode());
                    assertEquals(stream, conflict.getStream());
                    assertEquals(expected, conflict.getExpected(), "round " + round + ": the typed expected version");
                    assertEquals(CurrentRevision.of(round), conflict.getActual(),
                            "round " + round + ": a loser must see the winner's revision as actual");
                }
            }
            assertEquals(1, wins, "round " + round + ": exactly one of " + THREADS + " racing appends must win");
        }
        List<RecordedEvent> events = readWholeStream(stream);
        assertEquals(rounds, events.size(), "the stream holds one event per round");
        for (int i = 0; i < rounds; i++) {
            assertEquals(winners.get(i), events.get(i).id(), "revision " + i + " is not the winner of round " + i);
        }
        assertEquals(rounds, client.headPosition(), "losers must write nothing");
    }

    @Test
    void concurrentAppendsKeepStreamsAndTheLogGapless() throws Exception {
        int appendsPerThread = 60;
        // Each thread alternates: its own stream with exact versions, a shared stream with any,
        // in batches of 1 to 4 events.
        List<Map<String, List<UUID>>> perThread = onAllThreads(thread -> {
            Map<String, List<UUID>> written = new HashMap<>();
            String own = "own-" + thread;
            long ownLast = -1;
            for (int i = 0; i < appendsPerThread; i++) {
                int size = 1 + (i + thread) % 4;
                List<EventData> batch = new ArrayList<>();
                for (int k = 0; k < size; k++) {
                    batch.add(event("E", thread, i * 10 + k));
                }
                List<UUID> ids = batch.stream().map(EventData::id).toList();
                if (i % 2 == 0) {
                    ExpectedVersion expected = ownLast < 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(ownLast);
                    AppendResult r = client.append(own, expected, batch);
                    assertEquals(ownLast + 1, r.firstRevision(), own + ": first revision");
                    assertEquals(ownLast + size, r.lastRevision(), own + ": last revision");
                    assertEquals(size - 1, r.lastPosition() - r.firstPosition(), own + ": an append's positions are consecutive");
                    ownLast = r.lastRevision();
                    written.computeIfAbsent(own, s -> new ArrayList<>()).addAll(ids);
                } else {
                    AppendResult r = client.append("shared", ExpectedVersion.any(), batch);
                    assertEquals(size - 1, r.lastRevision() - r.firstRevision(), "shared: an append's revisions are consecutive");
                    assertEquals(size - 1, r.lastPosition() - r.firstPosition(), "shared: an append's positions are consecutive");
                    written.computeIfAbsent("shared", s -> new ArrayList<>()).addAll(ids);
                }
            }
            return written;
        });

        Set<UUID> all = new HashSet<>();
        List<UUID> sharedWritten = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            Map<String, List<UUID>> written = perThread.get(t);
            List<UUID> own = written.get("own-" + t);
            List<RecordedEvent> ownEvents = readWholeStream("own-" + t);
            assertEquals(own, ownEvents.stream().map(RecordedEvent::id).toList(), "own-" + t + " holds its events in order");
            all.addAll(own);
            sharedWritten.addAll(written.get("shared"));
            all.addAll(written.get("shared"));
        }
        List<RecordedEvent> shared = readWholeStream("shared");
        assertEachIdOnce(shared, new HashSet<>(sharedWritten), "stream shared");
        // Each thread's shared events appear in the order it appended them.
        for (int t = 0; t < THREADS; t++) {
            List<UUID> mine = perThread.get(t).get("shared");
            Set<UUID> mineSet = new HashSet<>(mine);
            List<UUID> inStream = shared.stream().map(RecordedEvent::id).filter(mineSet::contains).toList();
            assertEquals(mine, inStream, "thread " + t + "'s events in stream shared are out of order");
        }
        assertEachIdOnce(readWholeLog(), all, "$all");
    }

    @Test
    void concurrentIdempotentRetriesWriteOnce() throws Exception {
        String stream = "idempotent";
        int rounds = 20;
        for (int round = 0; round < rounds; round++) {
            List<EventData> batch = List.of(event("Once", -1, 2 * round), event("Once", -1, 2 * round + 1));
            ExpectedVersion expected = round == 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(2L * round - 1);
            // Every thread sends the same append (same ids): one writes it, the others are retries
            // and get the original result (the retry check comes before the expected version).
            List<AppendResult> results = onAllThreads(thread -> client.append(stream, expected, batch));
            AppendResult first = results.get(0);
            assertEquals(2L * round, first.firstRevision(), "round " + round);
            for (AppendResult r : results) {
                assertEquals(first, r, "round " + round + ": every retry returns the original result");
            }
            // And with "any", as a client retrying after a lost answer would.
            List<AppendResult> again = onAllThreads(thread -> client.append(stream, ExpectedVersion.any(), batch));
            for (AppendResult r : again) {
                assertEquals(first, r, "round " + round + ": a later retry with any returns the original result");
            }
        }
        List<RecordedEvent> events = readWholeStream(stream);
        assertEquals(2 * rounds, events.size(), "each batch was written once");
        assertEquals(2L * rounds, client.headPosition(), "retries took no position");
    }

    @Test
    void asyncTwinsKeepTheRulesUnderLoad() throws Exception {
        int perThread = 100;
        // Many async appends in flight at once, from every thread: any on a shared stream.
        List<List<CompletableFuture<AppendResult>>> futures = new ArrayList<>();
        List<List<UUID>> ids = onAllThreads(thread -> {
            List<CompletableFuture<AppendResult>> mine = new ArrayList<>();
            List<UUID> written = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
                EventData e = event("Async", thread, i);
                written.add(e.id());
                mine.add(client.appendAsync("async-shared", ExpectedVersion.any(), e));
            }
            synchronized (futures) {
                futures.add(mine);
            }
            return written;
        });
        Set<Long> revisions = new HashSet<>();
        Set<Long> positions = new HashSet<>();
        for (List<CompletableFuture<AppendResult>> list : futures) {
            for (CompletableFuture<AppendResult> f : list) {
                Throwable failure = failureOf(f);
                if (failure != null) {
                    throw new AssertionError("an async append failed", failure);
                }
                AppendResult r = f.join();
                assertTrue(revisions.add(r.firstRevision()), "two async appends got revision " + r.firstRevision());
                assertTrue(positions.add(r.firstPosition()), "two async appends got position " + r.firstPosition());
            }
        }
        int total = THREADS * perThread;
        Set<UUID> written = new HashSet<>();
        ids.forEach(written::addAll);
        List<RecordedEvent> events = readWholeStream("async-shared");
        assertEachIdOnce(events, written, "stream async-shared");
        assertEquals(total, revisions.size());
        assertEachIdOnce(readWholeLog(), written, "$all");

        // Async exact-version races: exactly one winner per round; losers fail with the typed error.
        long base = client.headPosition();
        for (int round = 0; round < 20; round++) {
            ExpectedVersion expected = round == 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(round - 1);
            int r = round;
            List<CompletableFuture<AppendResult>> race = onAllThreads(
                    thread -> client.appendAsync("async-race", expected, event("Raced", thread, r)));
            int wins = 0;
            for (CompletableFuture<AppendResult> f : race) {
                Throwable failure = failureOf(f);
                if (failure == null) {
                    wins++;
                    assertEquals(round, f.join().firstRevision());
                } else {
                    Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
                    WrongExpectedVersionException conflict = assertInstanceOf(WrongExpectedVersionException.class, cause,
                            "a losing async append must fail with WrongExpectedVersionException");
                    assertEquals(CurrentRevision.of(round), conflict.getActual());
                }
            }
            assertEquals(1, wins, "async round " + round + ": exactly one winner");
        }
        assertEquals(base + 20, client.headPosition(), "async losers wrote nothing");

        // Async reads under load agree with the sync ones.
        List<CompletableFuture<List<RecordedEvent>>> reads = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            reads.add(client.readStreamAsync("async-shared", ReadOptions.forwards().from(i).limit(10)));
            reads.add(client.readAllAsync(ReadAllOptions.forwards().from(i).limit(10)));
        }
        for (int i = 0; i < reads.size(); i++) {
            Throwable failure = failureOf(reads.get(i));
            if (failure != null) {
                throw new AssertionError("an async read failed", failure);
            }
            List<RecordedEvent> page = reads.get(i).join();
            assertEquals(10, page.size(), "async read " + i);
            long from = i / 2;
            for (int k = 0; k < page.size(); k++) {
                assertEquals(from + k, i % 2 == 0 ? page.get(k).revision() : page.get(k).position(), "async read " + i);
            }
        }
    }

    @Test
    void aLiveSubscriptionSeesEveryEventOnceInOrder() throws Exception {
        int writers = 8;
        int perWriter = 150;
        int total = writers * perWriter;
        // A few events before the subscription starts, so it catches up and then goes live.
        Set<UUID> written = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 20; i++) {
            EventData e = event("Before", -1, i);
            client.append("sub-" + (i % 3), ExpectedVersion.any(), e);
            written.add(e.id());
        }
        int expectedTotal = total + 20;

        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<RecordedEvent> seenAll = new ArrayList<>();
        List<RecordedEvent> seenStream = new ArrayList<>();
        CountDownLatch subscribed = new CountDownLatch(2);
        AtomicBoolean caughtUp = new AtomicBoolean();
        try (Subscription all = client.subscribeToAll(SubscribeOptions.fromStart());
             Subscription one = client.subscribeToStream("sub-0", SubscribeOptions.fromStart())) {
            Future<?> allReader = pool.submit(() -> {
                subscribed.countDown();
                readSubscription(all, expectedTotal, seenAll, caughtUp, errors);
                return null;
            });
            // Stream sub-0 gets 7 of the first 20 and every event of writer 0.
            int streamTotal = 7 + perWriter;
            Future<?> streamReader = pool.submit(() -> {
                subscribed.countDown();
                readSubscription(one, streamTotal, seenStream, new AtomicBoolean(), errors);
                return null;
            });
            assertTrue(subscribed.await(HANG.toMillis(), TimeUnit.MILLISECONDS));
            List<Future<?>> writing = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                writing.add(pool.submit(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        EventData e = event("Live", writer, i);
                        written.add(e.id());
                        client.append("sub-" + writer, ExpectedVersion.any(), e);
                    }
                    return null;
                }));
            }
            for (Future<?> f : writing) {
                await(f);
            }
            await(allReader);
            await(streamReader);
        }
        if (!errors.isEmpty()) {
            AssertionError error = new AssertionError("a subscription failed");
            errors.forEach(error::addSuppressed);
            throw error;
        }
        assertTrue(caughtUp.get(), "the $all subscription never said it caught up");
        assertEquals(expectedTotal, seenAll.size());
        for (int i = 0; i < seenAll.size(); i++) {
            assertEquals(i, seenAll.get(i).position(), "the $all subscription skipped or repeated position " + i);
        }
        assertEachIdOnce(seenAll, written, "the $all subscription");
        for (int i = 0; i < seenStream.size(); i++) {
            assertEquals("sub-0", seenStream.get(i).stream());
            assertEquals(i, seenStream.get(i).revision(), "the stream subscription skipped or repeated revision " + i);
        }
        List<RecordedEvent> stored = readWholeStream("sub-0");
        assertEquals(stored.stream().map(RecordedEvent::id).toList(), seenStream.stream().map(RecordedEvent::id).toList(),
                "the stream subscription delivered what the stream holds");
        assertEachIdOnce(readWholeLog(), written, "$all");
    }

    /** Pulls {@code count} events (the caught-up notice noted apart); errors go to {@code errors}. */
    static void readSubscription(Subscription sub, int count, List<RecordedEvent> out, AtomicBoolean caughtUp,
            ConcurrentLinkedQueue<Throwable> errors) {
        long deadline = System.nanoTime() + HANG.toNanos();
        try {
            while (out.size() < count) {
                if (System.nanoTime() > deadline) {
                    errors.add(new AssertionError("the subscription delivered " + out.size() + " of " + count
                            + " events within " + HANG));
                    return;
                }
                SubscriptionMessage m = sub.next(Duration.ofSeconds(1));
                if (m == null) {
                    continue;
                }
                if (m.isCaughtUp()) {
                    if (!caughtUp.compareAndSet(false, true)) {
                        errors.add(new AssertionError("two caught-up notices"));
                    }
                    continue;
                }
                out.add(m.getEvent());
            }
            // Nothing more must come: no duplicate after the last event.
            SubscriptionMessage extra = sub.next(Duration.ofMillis(200));
            if (extra != null && extra.isEvent()) {
                errors.add(new AssertionError("the subscription delivered an extra event: " + extra));
            }
        } catch (Throwable t) {
            errors.add(t);
        }
    }

    @Test
    void concurrentSchemaUpsertsGetConsecutiveVersionsNeverAFork() throws Exception {
        // docs/semantics.md: upserts are serialised; concurrent upserts of one name produce
        // consecutive versions. Each thread upserts its own definition (compatibility none, so
        // every order is accepted).
        List<io.graveyard.SchemaUpsert> results = onAllThreads(thread -> client.upsertSchema(
                "{\"name\":\"contested\",\"description\":\"thread " + thread + "\",\"compatibility\":\"none\","
                        + "\"fields\":[{\"name\":\"f" + thread + "\",\"type\":\"string\"}]}"));
        Set<Integer> versions = new HashSet<>();
        for (int t = 0; t < THREADS; t++) {
            io.graveyard.SchemaUpsert r = results.get(t);
            assertTrue(r.changed(), "thread " + t + ": a new definition must change the schema");
            assertTrue(versions.add(r.version()), "two upserts got version " + r.version());
            // The version a thread got holds that thread's definition.
            String stored = client.getSchema("contested", r.version()).definition();
            assertTrue(stored.contains("\"thread " + t + "\""), "version " + r.version() + " holds " + stored + ", not thread " + t + "'s");
        }
        for (int v = 1; v <= THREADS; v++) {
            assertTrue(versions.contains(v), "versions are not 1.." + THREADS + ": " + versions);
        }
        assertEquals(THREADS, client.getSchema("contested").version());
        List<RecordedEvent> history = readWholeStream("$schema-contested");
        assertEquals(THREADS, history.size(), "one event per version in $schema-contested");
    }

    @Test
    void aTombstoneRacingAppendsLeavesExactlyTheAcknowledgedEvents() throws Exception {
        String stream = "doomed";
        client.append(stream, ExpectedVersion.noStream(), event("First", -1, 0));
        Set<UUID> acknowledged = ConcurrentHashMap.newKeySet();
        AtomicInteger appended = new AtomicInteger();
        List<Object> ends = onAllThreads(thread -> {
            if (thread == 0) {
                while (appended.get() < 100) {
                    Thread.onSpinWait();
                }
                client.tombstoneStream(stream, ExpectedVersion.any());
                return "tombstoned";
            }
            for (int i = 0; ; i++) {
                if (i > 100_000) {
                    return "still appending: the tombstone never took effect";
                }
                EventData e = event("Racing", thread, i);
                try {
                    client.append(stream, ExpectedVersion.any(), e);
                    acknowledged.add(e.id());
                    appended.incrementAndGet();
                } catch (GraveyardException error) {
                    return error;
                }
            }
        });
        for (int t = 1; t < THREADS; t++) {
            Object end = ends.get(t);
            io.graveyard.StreamDeletedException deleted = assertInstanceOf(io.graveyard.StreamDeletedException.class, end,
                    "thread " + t + " must stop on STREAM_DELETED, got " + end);
            assertEquals(stream, deleted.getStream());
        }
        assertThrows(io.graveyard.StreamDeletedException.class, () -> client.readStream(stream));
        assertThrows(io.graveyard.StreamDeletedException.class, () -> client.append(stream, ExpectedVersion.any(), event("Late", 0, 0)));
        // $all keeps the stream's events: exactly the acknowledged ones, none refused yet written.
        Set<UUID> inLog = new HashSet<>();
        for (RecordedEvent e : readWholeLog()) {
            if (e.stream().equals(stream) && !e.type().equals("First")) {
                assertTrue(inLog.add(e.id()));
            }
        }
        assertEquals(acknowledged, inLog, "$all must hold exactly the acknowledged appends of the tombstoned stream");
    }

    @Test
    void aConsumerGroupWithConcurrentMembersSettlesEveryEventWhileWritersAppend() throws Exception {
        int writers = 4;
        int perWriter = 100;
        int total = writers * perWriter;
        String stream = "grouped";
        client.createGroup("workers", io.graveyard.GroupTarget.stream(stream), io.graveyard.StartPosition.start(),
                io.graveyard.GroupSettings.defaults());
        Set<UUID> written = ConcurrentHashMap.newKeySet();
        Set<UUID> acked = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<io.graveyard.GroupMember> members = new ArrayList<>();
        List<Future<?>> consuming = new ArrayList<>();
        try {
            for (int m = 0; m < 4; m++) {
                io.graveyard.GroupMember member = client.joinGroup("workers", "member-" + m);
                members.add(member);
                consuming.add(pool.submit(() -> {
                    try {
                        while (!stop.get()) {
                            io.graveyard.Delivery d = member.next(Duration.ofMillis(200));
                            if (d != null) {
                                member.ack(d);
                                acked.add(d.event().id());
                            }
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                    return null;
                }));
            }
            List<Future<?>> writing = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                writing.add(pool.submit(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        EventData e = event("Work", writer, i);
                        client.append(stream, ExpectedVersion.any(), e);
                        written.add(e.id());
                    }
                    return null;
                }));
            }
            for (Future<?> f : writing) {
                await(f);
            }
            // Wait (hang guard only) until every event has been acknowledged by some member.
            long deadline = System.nanoTime() + HANG.toNanos();
            while (acked.size() < total && errors.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            stop.set(true);
            for (Future<?> f : consuming) {
                await(f);
            }
        } finally {
            stop.set(true);
            members.forEach(io.graveyard.GroupMember::close);
        }
        if (!errors.isEmpty()) {
            AssertionError error = new AssertionError("a group member failed");
            errors.forEach(error::addSuppressed);
            throw error;
        }
        assertEquals(written, acked, "every appended event must be delivered and acknowledged (at least once)");
        io.graveyard.GroupInfo info = client.getGroup("workers");
        assertEquals(0, info.lag(), "every event settled: no lag");
        assertEquals(0, info.inFlight(), "nothing left in flight");
        assertEquals(total, info.checkpoint(), "the checkpoint is past the stream's last revision");
    }

    @Test
    void closeRacingWithCallsInFlightFailsThemWithClosedOrLetsThemFinish() throws Exception {
        for (int attempt = 0; attempt < 5; attempt++) {
            raceClose(attempt);
        }
    }

    private void raceClose(int attempt) throws Exception {
        Path storeDir = dir.resolve("close-" + attempt);
        GraveyardClient racing = Graveyard.open(storeDir);
        Set<UUID> acknowledged = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<CompletableFuture<?>> asyncCalls = new ConcurrentLinkedQueue<>();
        AtomicInteger successes = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(THREADS);
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            workers.add(pool.submit(() -> {
                started.countDown();
                for (int i = 0; ; i++) {
                    try {
                        switch ((thread + i) % 5) {
                            case 0, 1 -> {
                                EventData e = event("C", thread, i);
                                racing.append("close-" + thread, ExpectedVersion.any(), e);
                                acknowledged.add(e.id());
                            }
                            case 2 -> racing.readStream("close-" + thread, ReadOptions.backwards().limit(5));
                            case 3 -> racing.readAll(ReadAllOptions.backwards().limit(5));
                            default -> {
                                EventData e = event("A", thread, i);
                                CompletableFuture<AppendResult> f = racing.appendAsync("close-async-" + thread,
                                        ExpectedVersion.any(), e);
                                asyncCalls.add(f.whenComplete((r, err) -> {
                                    if (err == null) {
                                        acknowledged.add(e.id());
                                    }
                                }));
                            }
                        }
                        successes.incrementAndGet();
                    } catch (GraveyardException e) {
                        if (e.getCode() == ErrorCode.NOT_FOUND) {
                            continue; // a read before the thread's first append
                        }
                        if (e.getCode() != ErrorCode.CLOSED || !(e instanceof ClosedException)) {
                            unexpected.add(e);
                        } else {
                            closed.incrementAndGet();
                        }
                        return null;
                    } catch (Throwable e) {
                        unexpected.add(e);
                        return null;
                    }
                }
            }));
        }
        assertTrue(started.await(HANG.toMillis(), TimeUnit.MILLISECONDS));
        // Let the calls get going (no timing is asserted: any interleaving is valid).
        while (successes.get() < 200 && unexpected.isEmpty()) {
            Thread.onSpinWait();
        }
        racing.close();
        for (Future<?> f : workers) {
            await(f);
        }
        for (CompletableFuture<?> f : asyncCalls) {
            Throwable failure = failureOf(f);
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
                if (!(cause instanceof ClosedException)) {
                    unexpected.add(cause);
                }
            }
        }
        if (!unexpected.isEmpty()) {
            AssertionError error = new AssertionError("attempt " + attempt + ": calls racing close failed with something else than CLOSED");
            unexpected.forEach(error::addSuppressed);
            throw error;
        }
        assertEquals(THREADS, closed.get(), "every worker ends with CLOSED once the client is closed");

        // After close: every form fails with CLOSED, async ones as a failed future.
        assertThrows(ClosedException.class, () -> racing.append("x", ExpectedVersion.any(), event("X", 0, 0)));
        assertThrows(ClosedException.class, racing::headPosition);
        Throwable asyncFailure = failureOf(racing.appendAsync("x", ExpectedVersion.any(), event("X", 0, 0)));
        assertInstanceOf(ClosedException.class, asyncFailure instanceof CompletionException ? asyncFailure.getCause() : asyncFailure);
        racing.close(); // twice is harmless

        // Nothing acknowledged was lost: reopen and find every acknowledged event.
        try (GraveyardClient reopened = Graveyard.open(storeDir)) {
            Set<UUID> stored = new HashSet<>();
            long head = reopened.headPosition();
            for (long from = 0; from < head; from += 1000) {
                for (RecordedEvent e : reopened.readAll(ReadAllOptions.forwards().from(from).limit(1000))) {
                    assertTrue(stored.add(e.id()), "event " + e.id() + " stored twice");
                }
            }
            assertEquals(head, stored.size());
            for (UUID id : acknowledged) {
                assertTrue(stored.contains(id), "attempt " + attempt + ": acknowledged event " + id + " is missing after reopen");
            }
        }
    }

    @Test
    void closingTheClientEndsOrLeavesUsableTheSubscriptionsButNeverCrashes() throws Exception {
        client.append("s", ExpectedVersion.any(), event("S", 0, 0));
        Subscription sub = client.subscribeToAll(SubscribeOptions.fromStart());
        assertEquals("s", sub.nextEvent().stream());
        // Past the history, so the next call waits for a live event.
        SubscriptionMessage m0 = sub.next(HANG);
        assertNotNull(m0, "no caught-up notice after the history");
        assertTrue(m0.isCaughtUp(), "expected the caught-up notice, got " + m0);
        CompletableFuture<Object> blocked = CompletableFuture.supplyAsync(() -> {
            try {
                return sub.next();
            } catch (Throwable t) {
                return t;
            }
        }, pool);
        client.close();
        client = null;
        // Either the store's close ended the subscription (CLOSED, or another coded error), or it
        // is still waiting: closing the subscription must then wake it with ClosedException.
        Object outcome;
        try {
            outcome = blocked.get(2, TimeUnit.SECONDS);
        } catch (TimeoutException stillWaiting) {
            sub.close();
            outcome = blocked.get(HANG.toMillis(), TimeUnit.MILLISECONDS);
        }
        sub.close();
        System.out.println("a subscription blocked in next() when its client closed ended with: " + outcome);
        if (outcome instanceof SubscriptionMessage m) {
            assertFalse(m.isEvent(), "a subscription delivered an event nobody appended: " + m);
        } else {
            assertNotNull(outcome);
            GraveyardException e = assertInstanceOf(GraveyardException.class, outcome,
                    "a subscription's next must fail with a GraveyardException, not " + outcome);
            assertTrue(e.getCode() == ErrorCode.CLOSED || e.getCode() == ErrorCode.UNAVAILABLE,
                    "unexpected code " + e.getCode() + ": " + e.getMessage());
        }
        assertThrows(ClosedException.class, sub::next);
    }
}
