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
    void aDeliveryIsSettledThroughItsOwnMember() {
        client.createGroup("g", GroupTarget.stream("s"));
        append("s", "E");
        try (GroupMember a = client.joinGroup("g", "a"); GroupMember b = client.joinGroup("g", "b")) {
            Delivery d = a.next(WAIT);
            assertThrows(InvalidArgumentException.class, () -> b.ack(d));
            a.ack(d);
            a.ack(d); // settling twice is harmless
        }
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
