package io.graveyard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same client over the cluster: two real `graveyard` nodes (the binary cargo built) on loopback
 * ports, one of them requiring a token, reached with {@link Graveyard#connect}.
 */
class ClusterTest {
    static final Duration WAIT = Duration.ofSeconds(10);
    static final String TOKEN = "s3cret-token";

    @TempDir
    static Path dir;

    static final List<Process> nodes = new ArrayList<>();
    static String endpoints;

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    static Process start(String id, int port, String members, Path tokenFile, String... extra) throws IOException {
        List<String> command = new ArrayList<>(List.of(ServerBinary.path().toString(), "serve", "--listen", "127.0.0.1:" + port,
                "--data", dir.resolve(id).toString(), "--node-id", id, "--members", members));
        if (tokenFile != null) {
            command.addAll(List.of("--token-file", tokenFile.toString()));
        }
        command.addAll(List.of(extra));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve(id + ".log").toFile());
        builder.environment().remove("GRAVEYARD_LISTEN");
        builder.environment().remove("GRAVEYARD_DATA");
        Process process = builder.start();
        nodes.add(process);
        return process;
    }

    static void awaitListening(int port, Process process) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("a node exited with " + process.exitValue());
            }
            try (Socket probe = new Socket("127.0.0.1", port)) {
                if (probe.isConnected()) {
                    return;
                }
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("a node did not listen on " + port);
    }

    static int tokenPort;
    static int encryptedPort;

    @BeforeAll
    static void startNodes() throws Exception {
        ServerBinary.require();
        int p1 = freePort();
        int p2 = freePort();
        String members = "n1=127.0.0.1:" + p1 + ",n2=127.0.0.1:" + p2;
        Process n1 = start("n1", p1, members, null);
        Process n2 = start("n2", p2, members, null);
        awaitListening(p1, n1);
        awaitListening(p2, n2);
        endpoints = "127.0.0.1:" + p1 + ",http://127.0.0.1:" + p2;

        Path keyFile = dir.resolve("master.key");
        Files.writeString(keyFile, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        encryptedPort = freePort();
        Process encrypted = start("encrypted", encryptedPort, "encrypted=127.0.0.1:" + encryptedPort, null,
                "--master-key-file", keyFile.toString());
        awaitListening(encryptedPort, encrypted);

        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, TOKEN);
        tokenPort = freePort();
        Process secured = start("secured", tokenPort, "secured=127.0.0.1:" + tokenPort, tokenFile);
        awaitListening(tokenPort, secured);
    }

    @AfterAll
    static void stopNodes() throws InterruptedException {
        for (Process node : nodes) {
            node.destroyForcibly();
        }
        for (Process node : nodes) {
            node.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theWholeApiThroughTheCluster() throws Exception {
        try (GraveyardClient client = Graveyard.connect(endpoints)) {
            for (int i = 0; i < 20; i++) {
                String stream = "order-" + i;
                AppendResult r = client.append(stream, ExpectedVersion.noStream(), EventData.json("Placed", "{}"),
                        EventData.json("Paid", "{}"));
                assertEquals(1, r.lastRevision());
            }
            assertEquals(2, client.readStream("order-7").size());
            assertEquals(List.of(1L), client.readStream("order-7", ReadOptions.backwards().limit(1)).stream()
                    .map(RecordedEvent::revision).toList());
            WrongExpectedVersionException wev = assertThrows(WrongExpectedVersionException.class,
                    () -> client.append("order-3", ExpectedVersion.exact(0), EventData.json("X", "{}")));
            assertEquals(CurrentRevision.of(1), wev.getActual());
            assertEquals(ExpectedVersion.exact(0), wev.getExpected());
            assertEquals("order-3", wev.getStream());

            // $all is the home node's log.
            long head = client.headPosition();
            assertTrue(head > 0 && head <= 40, "head " + head);
            assertEquals(head, client.readAll().size());

            client.setStreamMetadata("order-1", StreamMetadata.builder().maxCount(1).build());
            assertEquals(1, client.getStreamMetadata("order-1").maxCount().getAsLong());
            assertEquals(CurrentRevision.of(1), client.streamInfo("order-1").current());
            client.saveSnapshot("order-2", 1, new byte[] {4, 2});
            assertEquals(1, client.getSnapshot("order-2").orElseThrow().revision());
            client.deleteStream("order-4", ExpectedVersion.any());
            assertThrows(NotFoundException.class, () -> client.readStream("order-4"));
            client.tombstoneStream("order-5", ExpectedVersion.any());
            assertThrows(StreamDeletedException.class, () -> client.readStream("order-5"));

            assertEquals(1, client.upsertSchema(EmbeddedClientTest.ORDER_SCHEMA).version());
            SchemaViolationException sv = assertThrows(SchemaViolationException.class,
                    () -> client.append("order-99", ExpectedVersion.any(), EventData.json("OrderPlaced", "{}")));
            assertEquals("total", sv.getViolations().get(0).path());
            assertEquals(1, client.getSchema("OrderPlaced").version());
            assertTrue(client.listSchemas().stream().anyMatch(s -> s.name().equals("OrderPlaced")));

            assertEquals(2, client.readStreamAsync("order-8", ReadOptions.forwards()).get().size());
            ExecutionException failed = assertThrows(ExecutionException.class,
                    () -> client.appendAsync("order-8", ExpectedVersion.noStream(), EventData.json("X", "{}")).get());
            assertInstanceOf(WrongExpectedVersionException.class, failed.getCause());
        }
    }

    @Test
    void blockingCallsFromAFutureContinuationWork() throws Exception {
        try (GraveyardClient client = Graveyard.connect(endpoints)) {
            // The continuation runs on a runtime thread: the blocking call must not stall or panic it.
            List<RecordedEvent> events = client.appendAsync("cont-1", ExpectedVersion.any(), EventData.json("E", "{}"))
                    .thenApply(r -> client.readStream("cont-1"))
                    .thenCompose(read -> client.readStreamAsync("cont-1", ReadOptions.forwards()))
                    .get(30, TimeUnit.SECONDS);
            assertEquals(1, events.size());
        }
    }

    @Test
    void subscriptionsAndGroupsThroughTheCluster() {
        try (GraveyardClient client = Graveyard.connect(endpoints)) {
            client.append("sub-1", ExpectedVersion.any(), EventData.json("E", "{}"));
            try (Subscription sub = client.subscribeToStream("sub-1", SubscribeOptions.fromStart())) {
                assertEquals(0, sub.next(WAIT).getEvent().revision());
                assertTrue(sub.next(WAIT).isCaughtUp());
                client.append("sub-1", ExpectedVersion.any(), EventData.json("E", "{}"));
                assertEquals(1, sub.next(WAIT).getEvent().revision());
            }
            client.createGroup("cluster-group", GroupTarget.stream("work"), StartPosition.start(),
                    GroupSettings.defaults());
            client.append("work", ExpectedVersion.any(), EventData.json("Job", "{}"), EventData.json("Job", "{}"));
            try (GroupMember member = client.joinGroup("cluster-group", "w1")) {
                Delivery first = member.next(WAIT);
                Delivery second = member.next(WAIT);
                member.ack(first);
                member.nack(NackAction.SKIP, second);
            }
            assertEquals(2, client.getGroup("cluster-group").checkpoint());
            assertTrue(client.listGroups().contains("cluster-group"));
            client.deleteGroup("cluster-group");
        }
    }

    @Test
    void tokensAndUnreachableNodes() {
        UnauthenticatedException refused = assertThrows(UnauthenticatedException.class,
                () -> Graveyard.connect("127.0.0.1:" + tokenPort));
        assertEquals(ErrorCode.UNAUTHENTICATED, refused.getCode());
        try (GraveyardClient client = Graveyard.connect("127.0.0.1:" + tokenPort,
                ConnectOptions.defaults().token(TOKEN).requestTimeout(Duration.ofSeconds(10)))) {
            client.append("secured", ExpectedVersion.any(), EventData.json("E", "{}"));
            assertEquals(1, client.readStream("secured").size());
        }
        assertThrows(UnavailableException.class, () -> Graveyard.connect("127.0.0.1:1",
                ConnectOptions.defaults().connectTimeout(Duration.ofMillis(500))));
        assertThrows(InvalidArgumentException.class, () -> Graveyard.connect(" , "));
    }

    @Test
    void shreddingAndKeyRotationThroughANode() {
        try (GraveyardClient client = Graveyard.connect("127.0.0.1:" + encryptedPort)) {
            client.append("user-1", ExpectedVersion.any(), EventData.json("Registered", "{\"email\":\"a@b\"}"));
            client.shredStream("user-1");
            RecordedEvent shredded = client.readStream("user-1").get(0);
            assertTrue(shredded.shredded());
            assertEquals(0, shredded.data().length);
            assertThrows(StreamDeletedException.class,
                    () -> client.append("user-1", ExpectedVersion.any(), EventData.json("Registered", "{}")));
            byte[] newKey = new byte[32];
            newKey[5] = 9;
            client.rotateMasterKey(newKey);
            client.append("user-2", ExpectedVersion.any(), EventData.json("Registered", "{}"));
            assertEquals(1, client.readStream("user-2").size());
        }
        try (GraveyardClient plain = Graveyard.connect(endpoints)) {
            plain.append("plain-1", ExpectedVersion.any(), EventData.json("E", "{}"));
            assertThrows(InvalidArgumentException.class, () -> plain.shredStream("plain-1"));
        }
    }

    @Test
    void nodeScopedCallsGoToTheChosenNode() {
        GraveyardClient client = Graveyard.connect(endpoints);
        try (GraveyardClient n1 = client.onNode("n1"); GraveyardClient n2 = client.onNode("n2")) {
            long before = n1.headPosition() + n2.headPosition();
            for (int i = 0; i < 10; i++) {
                client.append("node-scoped-" + i, ExpectedVersion.any(), EventData.json("E", "{}"));
            }
            // Each event is in the log of its stream's owner, and of no other node.
            assertEquals(before + 10, n1.headPosition() + n2.headPosition());
            assertEquals(n1.headPosition(), n1.readAll().size());
            assertEquals(n2.headPosition(), (long) n2.headPositionAsync().join());
            assertEquals(client.readStream("node-scoped-3"), n2.readStream("node-scoped-3"),
                    "stream calls go to the owner whichever node is chosen");
            assertThrows(InvalidArgumentException.class, () -> client.onNode("n3"));
            UnsupportedException unsupported = assertThrows(UnsupportedException.class, client::isEncrypted);
            assertEquals(ErrorCode.UNSUPPORTED, unsupported.getCode());
        }
        // Closing a client of onNode released it only; closing the client closes every one.
        assertEquals(1, client.readStream("node-scoped-0").size());
        GraveyardClient n1 = client.onNode("n1");
        client.close();
        assertThrows(ClosedException.class, n1::headPosition);
        n1.close();
    }

    @Test
    void clusterMembersSettleEachOthersDeliveriesAsync() throws Exception {
        try (GraveyardClient client = Graveyard.connect(endpoints)) {
            client.createGroup("shared-work", GroupTarget.stream("shared-work"), StartPosition.start(),
                    GroupSettings.defaults());
            client.append("shared-work", ExpectedVersion.any(), EventData.json("Job", "{}"), EventData.json("Job", "{}"));
            try (GroupMember a = client.joinGroupAsync("shared-work", "a").get(10, TimeUnit.SECONDS)) {
                Delivery d0 = a.nextAsync(WAIT).get(10, TimeUnit.SECONDS);
                Delivery d1 = a.next(WAIT);
                try (GroupMember b = client.joinGroup("shared-work", "b")) {
                    b.ackAsync(d0).get(10, TimeUnit.SECONDS);
                    b.nack(NackAction.SKIP, d1);
                }
                assertNull(a.nextAsync(Duration.ofMillis(200)).get(10, TimeUnit.SECONDS));
            }
            assertEquals(2, client.getGroup("shared-work").checkpoint());
            client.deleteGroup("shared-work");
        }
    }

    @Test
    void aClosedClusterClientThrowsClosed() {
        GraveyardClient client = Graveyard.connect(endpoints);
        client.close();
        client.close();
        assertThrows(ClosedException.class, () -> client.readStream("x"));
    }
}
