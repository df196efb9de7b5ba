package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Catch-up subscriptions and consumer groups on an embedded store. */
class SubscriptionAndGroupTest {
    static final Duration WAIT = Duration.ofSeconds(10);

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

    void append(String stream, String type) {
        client.append(stream, ExpectedVersion.any(), EventData.json(type, "{}"));
    }

    @Test
    void catchUpThenLiveWithNoGapAndNoDuplicate() throws Exception {
        append("order-1", "Placed");
        append("user-1", "Registered");
        try (Subscription sub = client.subscribeToAll(SubscribeOptions.fromStart().filter(Filter.streamPrefix("order-")))) {
            assertEquals("order-1", sub.next(WAIT).getEvent().stream());
            assertTrue(sub.next(WAIT).isCaughtUp());
            assertNull(sub.next(Duration.ofMillis(50)), "nothing new yet");
            CompletableFuture<RecordedEvent> live = CompletableFuture.supplyAsync(sub::nextEvent);
            append("user-2", "Registered");
            append("order-2", "Placed");
            assertEquals("order-2", live.get(10, TimeUnit.SECONDS).stream());
        }
    }

    @Test
    void streamSubscriptionFromACheckpoint() {
        for (int i = 0; i < 5; i++) {
            append("s", "E");
        }
        try (Subscription sub = client.subscribeToStream("s", SubscribeOptions.after(2))) {
            assertEquals(3, sub.next(WAIT).getEvent().revision());
            assertEquals(4, sub.next(WAIT).getEvent().revision());
            assertTrue(sub.next(WAIT).isCaughtUp());
        }
        try (Subscription sub = client.subscribeToStream("later", SubscribeOptions.fromEnd())) {
            assertTrue(sub.next(WAIT).isCaughtUp());
            append("later", "E");
            assertEquals(0, sub.next(WAIT).getEvent().revision());
        }
    }

    @Test
    void closeWakesABlockedNextAndLaterCallsThrowClosed() throws Exception {
        Subscription sub = client.subscribeToAll(SubscribeOptions.fromEnd());
        assertTrue(sub.next(WAIT).isCaughtUp());
        CompletableFuture<SubscriptionMessage> blocked = CompletableFuture.supplyAsync(sub::next);
        Thread.sleep(100);
        assertFalse(blocked.isDone());
        sub.close();
        Throwable e = assertThrows(Exception.class, () -> blocked.get(10, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(ClosedException.class, e);
        sub.close();
        assertThrows(ClosedException.class, sub::next);
    }

    @Test
    void aTombstoneEndsAStreamSubscriptionWithItsError() {
        append("doomed", "E");
        try (Subscription sub = client.subscribeToStream("doomed", SubscribeOptions.fromStart())) {
            assertTrue(sub.next(WAIT).isEvent());
            assertTrue(sub.next(WAIT).isCaughtUp());
            client.tombstoneStream("doomed", ExpectedVersion.any());
            append("other", "E");
            assertThrows(StreamDeletedException.class, () -> sub.next(WAIT));
            assertThrows(ClosedException.class, () -> sub.next(WAIT));
        }
    }

    @Test
    void closingTheClientEndsItsSubscriptions() {
        Subscription sub = client.subscribeToAll(SubscribeOptions.fromStart());
        assertTrue(sub.next(WAIT).isCaughtUp());
        client.close();
        assertThrows(ClosedException.class, () -> sub.next(WAIT));
        sub.close();
    }

    @Test
    void groupLifecycle() {
        GroupInfo created = client.createGroup("billing", GroupTarget.all(Filter.streamPrefix("order-")),
                StartPosition.start(), GroupSettings.defaults().maxRetries(2).ackTimeout(Duration.ofSeconds(5)));
        assertEquals("billing", created.name());
        assertEquals(GroupTarget.all(Filter.streamPrefix("order-")), created.target());
        assertEquals(2, created.settings().maxRetries());
        assertEquals(Duration.ofSeconds(5), created.settings().ackTimeout());
        assertEquals(0, created.checkpoint());
        assertEquals("$parked-billing", created.parkedStream());
        assertThrows(GraveyardException.class, () -> client.createGroup("billing", GroupTarget.stream("s")));

        client.createGroup("per-stream", GroupTarget.stream("s"), StartPosition.end(),
                GroupSettings.defaults().strategy(GroupStrategy.PINNED_BY_STREAM));
        assertEquals(List.of("billing", "per-stream"), client.listGroups());
        GroupInfo updated = client.updateGroup("per-stream", GroupSettings.defaults().maxInFlight(8));
        assertEquals(8, updated.settings().maxInFlight());
        assertEquals(GroupTarget.stream("s"), client.getGroup("per-stream").target());
        client.deleteGroup("per-stream");
        assertThrows(NotFoundException.class, () -> client.getGroup("per-stream"));
        assertEquals(List.of("billing"), client.listGroupsAsync().join());
    }

    @Test
    void membersAckNackParkAndReplay() {
        client.createGroup("g", GroupTarget.stream("s"), StartPosition.start(),
                GroupSettings.defaults().maxRetries(1).ackTimeout(Duration.ofSeconds(30)));
        for (int i = 0; i < 4; i++) {
            append("s", "E" + i);
        }
        try (GroupMember member = client.joinGroup("g", "worker-1")) {
            Delivery d0 = member.next(WAIT);
            assertEquals("E0", d0.event().type());
            assertEquals(1, d0.attempt());
            assertTrue(d0.parkedRevision().isEmpty());
            member.ack(d0);

            Delivery d1 = member.next(WAIT);
            member.nack(NackAction.RETRY, d1);
            Delivery again = member.next(WAIT);
            assertEquals(d1.event().id(), again.event().id());
            assertEquals(2, again.attempt());
            member.nack(NackAction.PARK, again);

            Delivery d2 = member.next(WAIT);
            Delivery d3 = member.next(WAIT);
            assertEquals(List.of("E2", "E3"), List.of(d2.event().type(), d3.event().type()));
            member.nack(NackAction.SKIP, d2);
            member.ack(d3);
            assertNull(member.next(Duration.ofMillis(100)));

            GroupInfo info = client.getGroup("g");
            assertEquals(4, info.checkpoint());
            assertEquals(1, info.parked());
            assertEquals(List.of("worker-1"), info.members());

            ReplayInfo replay = client.replayParked("g");
            assertEquals(1, replay.handedBack());
            Delivery replayed = member.next(WAIT);
            assertEquals("E1", replayed.event().type());
            assertEquals(0, replayed.parkedRevision().getAsLong());
            member.ack(replayed);
            assertEquals(0, client.getGroup("g").replaying());
        }
        assertEquals(List.of(), client.getGroup("g").members());
    }

    @Test
    void settlesFromOtherThreadsGoThroughWhileNextWaits() throws Exception {
        client.createGroup("g", GroupTarget.stream("s"));
        append("s", "E");
        try (GroupMember member = client.joinGroup("g", "m")) {
            Delivery d = member.next(WAIT);
            CompletableFuture<Delivery> waiting = CompletableFuture.supplyAsync(() -> member.next(WAIT));
            Thread.sleep(50);
            long start = System.nanoTime();
            member.ack(d);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "the ack waited for next");
            append("s", "E");
            assertNotNull(waiting.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aDeliveryIsSettledThroughAnyMemberOfItsGroupAndClient(@TempDir Path otherDir) throws Exception {
        client.createGroup("g", GroupTarget.stream("s"));
        client.createGroup("h", GroupTarget.stream("s"));
        append("s", "E0");
        append("s", "E1");
        append("s", "E2");
        try (GroupMember a = client.joinGroup("g", "a"); GroupMember b = client.joinGroup("g", "b");
                GroupMember other = client.joinGroup("h", "a")) {
            Delivery d0 = a.next(WAIT);
            Delivery d1 = a.next(WAIT);
            assertEquals(List.of("E0", "E1"), List.of(d0.event().type(), d1.event().type()));
            // Another group's member, or a member of a group of the same name in another store, has
            // no such delivery: refused, nothing settled.
            assertThrows(InvalidArgumentException.class, () -> other.ack(d0));
            try (GraveyardClient second = Graveyard.open(otherDir, OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE))) {
                second.createGroup("g", GroupTarget.stream("s"));
                try (GroupMember stranger = second.joinGroup("g", "a")) {
                    assertThrows(InvalidArgumentException.class, () -> stranger.ack(d0));
                }
            }
            assertEquals(2, client.getGroup("g").inFlight());

            // b settles what a received, blocking and async: the ack moves the checkpoint past E0, the
            // nack hands E1 out again.
            b.ack(d0);
            assertEquals(1, client.getGroup("g").checkpoint());
            b.nackAsync(NackAction.RETRY, d1).get(10, TimeUnit.SECONDS);
            List<Delivery> rest = new ArrayList<>();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (rest.size() < 2 && System.nanoTime() < deadline) {
                for (GroupMember m : List.of(a, b)) {
                    Delivery d = m.next(Duration.ofMillis(50));
                    if (d != null) {
                        rest.add(d);
                    }
                }
            }
            rest.sort(java.util.Comparator.comparing(d -> d.event().type()));
            assertEquals(List.of("E1", "E2"), rest.stream().map(d -> d.event().type()).toList());
            assertEquals(2, rest.get(0).attempt());
            assertEquals(d1.id(), rest.get(0).id(), "a redelivery keeps its id");
            // All of them through one member, whoever received them.
            a.ackAsync(rest.toArray(new Delivery[0])).get(10, TimeUnit.SECONDS);
            GroupInfo info = client.getGroup("g");
            assertEquals(3, info.checkpoint());
            assertEquals(0, info.inFlight());
            a.ack(d0); // settled already: harmless
            b.ack(rest.get(1));
        }
    }

    @Test
    void subscriptionsHaveAsyncFormsCompletedFromRuntimeThreads() throws Exception {
        append("order-1", "Placed");
        Subscription sub = client.subscribeToAllAsync(SubscribeOptions.fromStart()).get(10, TimeUnit.SECONDS);
        try {
            assertEquals("order-1", sub.nextAsync(WAIT).get(10, TimeUnit.SECONDS).getEvent().stream());
            assertTrue(sub.nextAsync().get(10, TimeUnit.SECONDS).isCaughtUp());
            assertNull(sub.nextAsync(Duration.ofMillis(50)).get(10, TimeUnit.SECONDS), "a timeout completes with null");
            String completedOn = sub.nextAsync(Duration.ofMillis(300))
                    .thenApply(m -> Thread.currentThread().getName()).get(10, TimeUnit.SECONDS);
            assertTrue(completedOn.startsWith("graveyard"), completedOn);
            CompletableFuture<SubscriptionMessage> live = sub.nextAsync();
            append("user-1", "Registered");
            assertEquals("user-1", live.get(10, TimeUnit.SECONDS).getEvent().stream());

            CompletableFuture<SubscriptionMessage> pending = sub.nextAsync();
            Thread.sleep(50);
            sub.close();
            assertInstanceOf(ClosedException.class,
                    assertThrows(ExecutionException.class, () -> pending.get(10, TimeUnit.SECONDS)).getCause());
            assertInstanceOf(ClosedException.class,
                    assertThrows(ExecutionException.class, () -> sub.nextAsync().get(10, TimeUnit.SECONDS)).getCause());
        } finally {
            sub.close();
        }
        try (Subscription stream = client.subscribeToStreamAsync("order-1", SubscribeOptions.fromStart())
                .get(10, TimeUnit.SECONDS)) {
            assertEquals(0, stream.nextAsync(WAIT).get(10, TimeUnit.SECONDS).getEvent().revision());
        }
        assertInstanceOf(InvalidArgumentException.class, assertThrows(ExecutionException.class,
                () -> client.subscribeToStreamAsync("", SubscribeOptions.fromStart()).get(10, TimeUnit.SECONDS))
                .getCause());
    }

    @Test
    void membersHaveAsyncForms() throws Exception {
        client.createGroup("g", GroupTarget.stream("s"));
        append("s", "E0");
        append("s", "E1");
        GroupMember member = client.joinGroupAsync("g", "m").get(10, TimeUnit.SECONDS);
        try (member) {
            Delivery d0 = member.nextAsync(WAIT).get(10, TimeUnit.SECONDS);
            Delivery d1 = member.nextAsync().get(10, TimeUnit.SECONDS);
            assertEquals(List.of("E0", "E1"), List.of(d0.event().type(), d1.event().type()));
            member.ackAsync(d0).get(10, TimeUnit.SECONDS);
            member.nackAsync(NackAction.SKIP, d1).get(10, TimeUnit.SECONDS);
            assertNull(member.nextAsync(Duration.ofMillis(50)).get(10, TimeUnit.SECONDS));
            assertEquals(2, client.getGroup("g").checkpoint());

            CompletableFuture<Delivery> pending = member.nextAsync();
            Thread.sleep(50);
            member.close();
            assertInstanceOf(ClosedException.class,
                    assertThrows(ExecutionException.class, () -> pending.get(10, TimeUnit.SECONDS)).getCause());
        }
        assertInstanceOf(NotFoundException.class, assertThrows(ExecutionException.class,
                () -> client.joinGroupAsync("missing", "m").get(10, TimeUnit.SECONDS)).getCause());
    }

    @Test
    void aSessionOpenedForACancelledFutureIsClosed() throws Exception {
        client.createGroup("g", GroupTarget.stream("s"));
        CompletableFuture<GroupMember> joining = client.joinGroupAsync("g", "late");
        if (!joining.cancel(false)) {
            joining.get().close(); // the join won the race: the caller had it, and closes it
        }
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (client.getGroup("g").members().contains("late") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(List.of(), client.getGroup("g").members(), "the member left the group");
    }

    @Test
    void memberCloseWakesNextAndDeletedGroupsAreReported() throws Exception {
        client.createGroup("g", GroupTarget.all());
        GroupMember member = client.joinGroup("g", "m");
        CompletableFuture<Delivery> blocked = CompletableFuture.supplyAsync(member::next);
        Thread.sleep(100);
        member.close();
        assertInstanceOf(ClosedException.class,
                assertThrows(Exception.class, () -> blocked.get(10, TimeUnit.SECONDS)).getCause());
        member.close();
        assertThrows(ClosedException.class, () -> member.next(WAIT));

        try (GroupMember other = client.joinGroup("g", "n")) {
            client.deleteGroup("g");
            assertThrows(NotFoundException.class, () -> other.next(WAIT));
        }
        assertThrows(NotFoundException.class, () -> client.joinGroup("missing", "m"));
    }

    @Test
    void manyMembersShareTheWorkAtLeastOnce() throws Exception {
        client.createGroup("g", GroupTarget.all(), StartPosition.start(), GroupSettings.defaults());
        int events = 300;
        for (int i = 0; i < events; i++) {
            append("s-" + (i % 7), "E");
        }
        List<Thread> threads = new ArrayList<>();
        java.util.Set<Long> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        for (int t = 0; t < 4; t++) {
            GroupMember member = client.joinGroup("g", "m" + t);
            Thread thread = new Thread(() -> {
                try (member) {
                    Delivery d;
                    while ((d = member.next(Duration.ofMillis(300))) != null) {
                        seen.add(d.event().position());
                        member.ack(d);
                    }
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(events, seen.size());
        assertEquals(events, client.getGroup("g").checkpoint());
    }
}
