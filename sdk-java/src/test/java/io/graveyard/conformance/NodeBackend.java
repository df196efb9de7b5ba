package io.graveyard.conformance;

import io.graveyard.ConnectOptions;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.GraveyardException;
import io.graveyard.ServerBinary;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One real node ({@code graveyard serve}) on a free loopback port, with its data in the
 * scenario's directory, reached with {@link Graveyard#connect}. Reopen = SIGTERM, wait for the
 * exit, start again on the same data and port, connect a new client (as the Rust cluster runner,
 * server/tests/cluster_conformance.rs, restarts its nodes).
 */
final class NodeBackend implements Executor.Backend {
    private static final Duration START = Duration.ofSeconds(30);

    private final Path dir;
    private final Long maxEventSize;
    private final byte[] masterKey;
    private final int port;
    private Process process;

    private NodeBackend(Path dir, Long maxEventSize, byte[] masterKey, int port) {
        this.dir = dir;
        this.maxEventSize = maxEventSize;
        this.masterKey = masterKey;
        this.port = port;
    }

    static NodeBackend start(Path dir, Long maxEventSize, byte[] masterKey) throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        NodeBackend node = new NodeBackend(dir, maxEventSize, masterKey, port);
        node.startProcess();
        return node;
    }

    private void startProcess() throws IOException {
        List<String> command = new ArrayList<>(List.of(ServerBinary.path().toString(), "serve", "--listen", "127.0.0.1:" + port,
                "--data", dir.resolve("data").toString()));
        if (maxEventSize != null) {
            command.addAll(List.of("--max-event-size", maxEventSize.toString()));
        }
        if (masterKey != null) {
            // Raw 32 bytes, beside (not inside) the node's data directory.
            Path keyFile = dir.resolve("master.key");
            java.nio.file.Files.write(keyFile, masterKey);
            command.addAll(List.of("--master-key-file", keyFile.toString()));
        }
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("node.log").toFile()));
        // The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
        builder.environment().keySet().removeIf(key -> key.startsWith("GRAVEYARD_"));
        process = builder.start();
    }

    /** Connects once the node answers (it may still be starting); the node's log on failure. */
    private GraveyardClient connect() throws Exception {
        long deadline = System.nanoTime() + START.toNanos();
        GraveyardException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the node exited with " + process.exitValue() + "; log: " + log());
            }
            try {
                return Graveyard.connect("127.0.0.1:" + port, ConnectOptions.defaults());
            } catch (GraveyardException e) {
                last = e;
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("the node on port " + port + " did not answer within " + START + ": " + last
                + "; log: " + log());
    }

    private String log() {
        try {
            String text = java.nio.file.Files.readString(dir.resolve("node.log"));
            return text.length() > 2000 ? "..." + text.substring(text.length() - 2000) : text;
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    @Override
    public GraveyardClient open() throws Exception {
        return connect();
    }

    @Override
    public GraveyardClient reopen(GraveyardClient old) throws Exception {
        old.close();
        stop();
        startProcess();
        return connect();
    }

    private void stop() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy(); // SIGTERM: the node shuts down cleanly
        if (!process.waitFor(START.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
            throw new IllegalStateException("the node did not stop within " + START + " of SIGTERM");
        }
    }

    @Override
    public void release() throws Exception {
        try {
            stop();
        } finally {
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
            }
        }
    }
}
