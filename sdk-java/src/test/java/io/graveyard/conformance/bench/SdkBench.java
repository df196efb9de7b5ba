package io.graveyard.conformance.bench;

import io.graveyard.AppendResult;
import io.graveyard.Durability;
import io.graveyard.EventData;
import io.graveyard.ExpectedVersion;
import io.graveyard.Graveyard;
import io.graveyard.GraveyardClient;
import io.graveyard.NotFoundException;
import io.graveyard.OpenOptions;
import io.graveyard.ReadAllOptions;
import io.graveyard.ReadOptions;
import io.graveyard.RecordedEvent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The Java SDK's throughput on an embedded durable store (default {@link Durability#FSYNC}), with
 * the workloads of the Rust bench ({@code graveyard-bench embedded}, bench/src/workload.rs) so the
 * two can be divided: same event (the ~100-byte JSON {@code payload(seq)}), same stream names,
 * same expected versions, same sizes and durations, a fresh store per workload.
 *
 * <pre>
 * append-1, append-8, append-64  1 event per append, N threads, each on its own stream, Exact(previous)
 * append-64-async                64 chains of appendAsync (one in flight per chain), each on its own stream
 * batch-100                      100 events per append, 8 threads, each on its own stream
 * read-stream                    one stream of 100k events read whole per readStream, repeated
 * read-stream-pages              the same stream read in pages of 1,000 (no Rust counterpart)
 * scan-all                       $all of 1M events (100 streams) read in pages of 10k, repeated
 * </pre>
 *
 * Run with {@code main} (arguments: {@code --quick}, {@code --only a,b}, {@code --markdown FILE},
 * {@code --dir DIR}) or through {@link SdkBenchTest}; the commands are in sdk-java/README.md,
 * "Benchmark". Every write workload checks afterwards that the store holds exactly the events it
 * acknowledged, and every read that it got every preloaded event in order: a wrong store fails the
 * run instead of producing a number.
 */
public final class SdkBench {
    static final String EVENT_TYPE = "Bench";

    record Scale(double writeSeconds, long streamEvents, long logEvents, long page, long logStreams, long preloadBatch,
            double readSeconds, int readMinReps) {
        static Scale full() {
            return new Scale(5.0, 100_000, 1_000_000, 10_000, 100, 1_000, 2.0, 3);
        }

        static Scale quick() {
            return new Scale(0.3, 2_000, 20_000, 10_000, 10, 1_000, 0.1, 2);
        }
    }

    /** One row of the results. */
    public record Result(String workload, String description, long events, long ops, double seconds, long p50Micros,
            long p99Micros) {
        public double eventsPerSecond() {
            return events / Math.max(seconds, 1e-9);
        }
    }

    public static final List<String> WORKLOADS = List.of("append-1", "append-8", "append-64", "append-64-async",
            "batch-100", "read-stream", "read-stream-pages", "scan-all");

    private final Scale scale;
    private final Path baseDir;

    SdkBench(boolean quick, Path baseDir) {
        this.scale = quick ? Scale.quick() : Scale.full();
        this.baseDir = baseDir;
    }

    /**
     * A JSON object of about 100 bytes, different for every {@code seq}: byte for byte the
     * {@code payload} of bench/src/workload.rs.
     */
    static byte[] payload(long seq) {
        String json = String.format(Locale.ROOT,
                "{\"order_id\":\"ord-%012d\",\"customer\":\"cust-%06d\",\"amount_cents\":%d,\"currency\":\"EUR\",\"items\":%d}",
                seq, seq % 1_000_000, 10_000_000 + Long.remainderUnsigned(seq * 7919, 90_000_000), 1 + seq % 9);
        return json.getBytes(StandardCharsets.UTF_8);
    }

    static String streamName(long i) {
        return "bench-" + i;
    }

    /** Payload sequence numbers of thread i start at i << 40, as in the Rust driver. */
    static long firstSeq(int thread) {
        return ((long) thread) << 40;
    }

    List<Result> run(List<String> only) throws Exception {
        warmUp();
        List<Result> results = new ArrayList<>();
        for (String workload : WORKLOADS) {
            if (!only.isEmpty() && !only.contains(workload)) {
                continue;
            }
            System.err.println("running " + workload + " ...");
            Result r = switch (workload) {
                case "append-1" -> appendThreads(workload, 1, 1);
                case "append-8" -> appendThreads(workload, 8, 1);
                case "append-64" -> appendThreads(workload, 64, 1);
                case "append-64-async" -> appendAsyncChains(workload, 64);
                case "batch-100" -> appendThreads(workload, 8, 100);
                case "read-stream" -> readStream(workload, false);
                case "read-stream-pages" -> readStream(workload, true);
                case "scan-all" -> scanAll(workload);
                default -> throw new IllegalArgumentException(workload);
            };
            System.err.printf(Locale.ROOT, "  %s: %,.0f events/s, p50 %d us, p99 %d us%n", workload, r.eventsPerSecond(),
                    r.p50Micros(), r.p99Micros());
            results.add(r);
        }
        return results;
    }

    // -----------------------------------------------------------------------------------------
    // Write workloads.

    private Result appendThreads(String name, int threads, int perAppend) throws Exception {
        Path dir = Files.createTempDirectory(baseDir, "sdk-bench-");
        try (GraveyardClient client = Graveyard.open(dir)) {
            long[][] latencies = new long[threads][];
            long[] events = new long[threads];
            long[] ops = new long[threads];
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CyclicBarrier startLine = new CyclicBarrier(threads + 1);
            long durationNanos = (long) (scale.writeSeconds() * 1e9);
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                Thread worker = new Thread(() -> {
                    LongList latency = new LongList();
                    String stream = streamName(thread);
                    long last = -1;
                    long seq = firstSeq(thread);
                    try {
                        startLine.await();
                        long deadline = System.nanoTime() + durationNanos;
                        while (System.nanoTime() < deadline && failure.get() == null) {
                            // Events are built before the clock starts: we time the store, not formatting.
                            List<EventData> batch = new ArrayList<>(perAppend);
                            for (int k = 0; k < perAppend; k++) {
                                batch.add(EventData.json(EVENT_TYPE, payload(seq++)));
                            }
                            ExpectedVersion expected = last < 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(last);
                            long started = System.nanoTime();
                            AppendResult r = client.append(stream, expected, batch);
                            latency.add(System.nanoTime() - started);
                            if (r.firstRevision() != last + 1 || r.lastRevision() != last + perAppend) {
                                throw new IllegalStateException("append to " + stream + " after " + expected + " returned " + r);
                            }
                            last = r.lastRevision();
                            events[thread] += perAppend;
                            ops[thread]++;
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                    latencies[thread] = latency.toArray();
                }, "bench-writer-" + t);
                workers.add(worker);
                worker.start();
            }
            startLine.await();
            long start = System.nanoTime();
            for (Thread worker : workers) {
                worker.join();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (failure.get() != null) {
                throw new IllegalStateException(name + " failed", failure.get());
            }
            long total = Arrays.stream(events).sum();
            verifyWritten(client, name, total, threads);
            return result(name, total, Arrays.stream(ops).sum(), seconds, latencies);
        } finally {
            deleteRecursively(dir);
        }
    }

    /** 64 chains: each issues its next appendAsync when the previous one completes. */
    private Result appendAsyncChains(String name, int chains) throws Exception {
        Path dir = Files.createTempDirectory(baseDir, "sdk-bench-");
        try (GraveyardClient client = Graveyard.open(dir)) {
            long durationNanos = (long) (scale.writeSeconds() * 1e9);
            long start = System.nanoTime();
            long deadline = start + durationNanos;
            List<Chain> all = new ArrayList<>();
            for (int c = 0; c < chains; c++) {
                Chain chain = new Chain(client, c, deadline);
                all.add(chain);
                chain.next();
            }
            long[][] latencies = new long[chains][];
            long total = 0;
            long ops = 0;
            for (int c = 0; c < chains; c++) {
                Chain chain = all.get(c);
                chain.done.get();
                latencies[c] = chain.latency.toArray();
                total += chain.events;
                ops += chain.events;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            verifyWritten(client, name, total, chains);
            return result(name, total, ops, seconds, latencies);
        } finally {
            deleteRecursively(dir);
        }
    }

    /** One stream's chain of async appends, each issued from the completion of the previous one. */
    private static final class Chain {
        final GraveyardClient client;
        final String stream;
        final long deadline;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final LongList latency = new LongList();
        long seq;
        long last = -1;
        long events;

        Chain(GraveyardClient client, int index, long deadline) {
            this.client = client;
            this.stream = streamName(index);
            this.deadline = deadline;
            this.seq = firstSeq(index);
        }

        void next() {
            if (System.nanoTime() >= deadline) {
                done.complete(null);
                return;
            }
            EventData event = EventData.json(EVENT_TYPE, payload(seq++));
            ExpectedVersion expected = last < 0 ? ExpectedVersion.noStream() : ExpectedVersion.exact(last);
            long started = System.nanoTime();
            client.appendAsync(stream, expected, event).whenComplete((r, error) -> {
                if (error != null) {
                    done.completeExceptionally(error);
                    return;
                }
                latency.add(System.nanoTime() - started);
                if (r.firstRevision() != last + 1) {
                    done.completeExceptionally(new IllegalStateException("append to " + stream + " returned " + r));
                    return;
                }
                last = r.lastRevision();
                events++;
                next();
            });
        }
    }

    /** The store holds exactly the acknowledged events: the head position, and each stream's count. */
    private static void verifyWritten(GraveyardClient client, String name, long total, int streams) {
        long head = client.headPosition();
        if (head != total) {
            throw new IllegalStateException(name + ": acknowledged " + total + " events but the log holds " + head);
        }
        long counted = 0;
        for (int s = 0; s < streams; s++) {
            String stream = streamName(s);
            try {
                List<RecordedEvent> last = client.readStream(stream, ReadOptions.backwards().limit(1));
                counted += last.isEmpty() ? 0 : last.get(0).revision() + 1;
            } catch (NotFoundException e) {
                // A writer that never got an append in (possible only with --quick on a busy machine).
            }
        }
        if (counted != total) {
            throw new IllegalStateException(name + ": the streams hold " + counted + " events, " + total + " acknowledged");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Read workloads: preloaded without fsync (throwaway data), then reopened with the defaults.

    private GraveyardClient preload(Path dir, long streams, long events) {
        try (GraveyardClient relaxed = Graveyard.open(dir, OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE))) {
            // Batch b goes to stream b % streams, as the Rust bench's Preload::appends does.
            long batches = (events + scale.preloadBatch() - 1) / scale.preloadBatch();
            for (long b = 0; b < batches; b++) {
                long first = b * scale.preloadBatch();
                long count = Math.min(scale.preloadBatch(), events - first);
                List<EventData> batch = new ArrayList<>((int) count);
                for (long k = 0; k < count; k++) {
                    batch.add(EventData.json(EVENT_TYPE, payload(first + k)));
                }
                relaxed.append(streamName(b % streams), ExpectedVersion.any(), batch);
            }
        }
        return Graveyard.open(dir);
    }

    private Result readStream(String name, boolean paged) throws Exception {
        Path dir = Files.createTempDirectory(baseDir, "sdk-bench-");
        try (GraveyardClient client = preload(dir, 1, scale.streamEvents())) {
            LongList latency = new LongList();
            long events = 0;
            long ops = 0;
            int reps = 0;
            long start = System.nanoTime();
            long minNanos = (long) (scale.readSeconds() * 1e9);
            while (reps < scale.readMinReps() || System.nanoTime() - start < minNanos) {
                long got = 0;
                if (paged) {
                    while (got < scale.streamEvents()) {
                        long started = System.nanoTime();
                        List<RecordedEvent> page = client.readStream(streamName(0), ReadOptions.forwards().from(got).limit(1000));
                        latency.add(System.nanoTime() - started);
                        ops++;
                        got = consume(page, got, false, name);
                        if (page.isEmpty()) {
                            break;
                        }
                    }
                } else {
                    long started = System.nanoTime();
                    List<RecordedEvent> all = client.readStream(streamName(0), ReadOptions.forwards());
                    latency.add(System.nanoTime() - started);
                    ops++;
                    got = consume(all, 0, false, name);
                }
                if (got != scale.streamEvents()) {
                    throw new IllegalStateException(name + ": read " + got + " of " + scale.streamEvents() + " events");
                }
                events += got;
                reps++;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return result(name, events, ops, seconds, new long[][] {latency.toArray()});
        } finally {
            deleteRecursively(dir);
        }
    }

    private Result scanAll(String name) throws Exception {
        Path dir = Files.createTempDirectory(baseDir, "sdk-bench-");
        try (GraveyardClient client = preload(dir, scale.logStreams(), scale.logEvents())) {
            LongList latency = new LongList();
            long events = 0;
            long ops = 0;
            int reps = 0;
            long start = System.nanoTime();
            long minNanos = (long) (scale.readSeconds() * 1e9);
            while (reps < scale.readMinReps() || System.nanoTime() - start < minNanos) {
                long next = 0;
                while (true) {
                    long started = System.nanoTime();
                    List<RecordedEvent> page = client.readAll(ReadAllOptions.forwards().from(next).limit(scale.page()));
                    latency.add(System.nanoTime() - started);
                    if (page.isEmpty()) {
                        break;
                    }
                    ops++;
                    next = consume(page, next, true, name);
                }
                if (next != scale.logEvents()) {
                    throw new IllegalStateException(name + ": scanned " + next + " of " + scale.logEvents() + " events");
                }
                events += next;
                reps++;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return result(name, events, ops, seconds, new long[][] {latency.toArray()});
        } finally {
            deleteRecursively(dir);
        }
    }

    /** Touches each event as a user would (its data) and checks it comes next; returns the next index. */
    private static long consume(List<RecordedEvent> events, long next, boolean positions, String name) {
        long sink = 0;
        for (RecordedEvent e : events) {
            long at = positions ? e.position() : e.revision();
            if (at != next) {
                throw new IllegalStateException(name + ": expected " + (positions ? "position " : "revision ") + next + ", got " + at);
            }
            sink += e.data().length;
            next++;
        }
        if (sink < 0) {
            throw new AssertionError();
        }
        return next;
    }

    // -----------------------------------------------------------------------------------------

    private Result result(String name, long events, long ops, double seconds, long[][] latencies) {
        long[] all = Arrays.stream(latencies).filter(a -> a != null).flatMapToLong(Arrays::stream).sorted().toArray();
        long p50 = all.length == 0 ? 0 : all[(int) Math.min(all.length - 1, Math.floor(all.length * 0.50))] / 1_000;
        long p99 = all.length == 0 ? 0 : all[(int) Math.min(all.length - 1, Math.floor(all.length * 0.99))] / 1_000;
        return new Result(name, describe(name), events, ops, seconds, p50, p99);
    }

    String describe(String workload) {
        return switch (workload) {
            case "append-1" -> "1 event per append, 1 writer thread, own stream, Exact(previous)";
            case "append-8" -> "1 event per append, 8 writer threads, each on its own stream, Exact(previous)";
            case "append-64" -> "1 event per append, 64 writer threads, each on its own stream, Exact(previous)";
            case "append-64-async" -> "1 event per appendAsync, 64 chains (one call in flight each), own streams, Exact(previous)";
            case "batch-100" -> "100 events per append, 8 writer threads, each on its own stream, Exact(previous)";
            case "read-stream" -> String.format(Locale.ROOT, "readStream of one %,d-event stream, whole stream per call", scale.streamEvents());
            case "read-stream-pages" -> String.format(Locale.ROOT, "readStream of one %,d-event stream in pages of 1,000", scale.streamEvents());
            case "scan-all" -> String.format(Locale.ROOT, "readAll of a %,d-event log (%d streams) in pages of %,d",
                    scale.logEvents(), scale.logStreams(), scale.page());
            default -> workload;
        };
    }

    /** The Rust bench's workload measuring the same thing as {@code workload}, or null. */
    static String coreCounterpart(String workload) {
        return switch (workload) {
            case "append-64-async" -> "append-64-tasks";
            case "read-stream-pages" -> null;
            default -> workload;
        };
    }

    /**
     * GraveyardDB's events/s per workload from the Markdown of {@code graveyard-bench embedded
     * --markdown FILE}: the row starting with "| GraveyardDB" under each "### workload".
     */
    static java.util.Map<String, Double> parseCoreMarkdown(String markdown) {
        java.util.Map<String, Double> out = new java.util.HashMap<>();
        String section = null;
        for (String line : markdown.split("\n")) {
            if (line.startsWith("### ")) {
                section = line.substring(4).trim();
            } else if (section != null && line.startsWith("| GraveyardDB") && !line.startsWith("| GraveyardDB +")
                    && !out.containsKey(section)) {
                String[] cells = line.split("\\|");
                out.put(section, Double.parseDouble(cells[2].trim().replace(",", "")));
            }
        }
        return out;
    }

    static String markdown(List<Result> results, boolean quick, java.util.Map<String, Double> core) {
        StringBuilder out = new StringBuilder();
        if (core == null) {
            out.append("| workload | what | Java SDK events/s | p50 µs | p99 µs |\n");
            out.append("|---|---|---:|---:|---:|\n");
        } else {
            out.append("| workload | what | Java SDK events/s | p50 µs | p99 µs | Rust core events/s | SDK ÷ core |\n");
            out.append("|---|---|---:|---:|---:|---:|---:|\n");
        }
        for (Result r : results) {
            out.append(String.format(Locale.ROOT, "| %s | %s | %,.0f | %,d | %,d |", r.workload(), r.description(),
                    r.eventsPerSecond(), r.p50Micros(), r.p99Micros()));
            if (core != null) {
                String counterpart = coreCounterpart(r.workload());
                Double coreRate = counterpart == null ? null : core.get(counterpart);
                if (coreRate == null) {
                    out.append(counterpart == null ? " n/a (no Rust counterpart) | |" : " not run | |");
                } else {
                    out.append(String.format(Locale.ROOT, " %,.0f%s | %.2f |", coreRate,
                            counterpart.equals(r.workload()) ? "" : " (" + counterpart + ")", r.eventsPerSecond() / coreRate));
                }
            }
            out.append("\n");
        }
        out.append(quick ? "\n(--quick: sizes and durations cut for a smoke test; not for comparison)\n" : "");
        return out.toString();
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /**
     * Warms the JIT and loads the native library on a throwaway store, so the first measured
     * workload does not pay for class loading and interpretation (the Rust bench has no such cost).
     */
    private void warmUp() throws Exception {
        Path dir = Files.createTempDirectory(baseDir, "sdk-bench-warmup-");
        try (GraveyardClient client = Graveyard.open(dir, OpenOptions.defaults().durability(Durability.NO_FSYNC_UNSAFE))) {
            long deadline = System.nanoTime() + (long) (Math.min(2.0, scale.writeSeconds() * 2) * 1e9);
            long seq = 0;
            while (System.nanoTime() < deadline) {
                List<EventData> batch = new ArrayList<>();
                for (int k = 0; k < 10; k++) {
                    batch.add(EventData.json(EVENT_TYPE, payload(seq++)));
                }
                String stream = streamName(seq % 7);
                client.append(stream, ExpectedVersion.any(), batch);
                client.appendAsync(stream, ExpectedVersion.any(), EventData.json(EVENT_TYPE, payload(seq++))).join();
                client.readStream(stream, ReadOptions.backwards().limit(100));
                client.readAll(ReadAllOptions.backwards().limit(100));
            }
        } finally {
            deleteRecursively(dir);
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A growable long[] (latency samples) without boxing. */
    static final class LongList {
        private long[] items = new long[1024];
        private int size;

        void add(long value) {
            if (size == items.length) {
                items = Arrays.copyOf(items, size * 2);
            }
            items[size++] = value;
        }

        long[] toArray() {
            return Arrays.copyOf(items, size);
        }
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        List<String> only = new ArrayList<>();
        Path markdownFile = null;
        Path coreFile = null;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only.addAll(Arrays.asList(args[++i].split(",")));
                case "--markdown" -> markdownFile = Path.of(args[++i]);
                case "--core" -> coreFile = Path.of(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: SdkBench [--quick] [--only W[,W...]] [--markdown FILE] [--core CORE.md] [--dir DIR]\n"
                            + "workloads: " + String.join(", ", WORKLOADS) + "\n"
                            + "--core: the Markdown written by `graveyard-bench embedded --markdown CORE.md`, for the ratio column");
                    System.exit(2);
                }
            }
        }
        String table = runAndReport(quick, only, dir, coreFile);
        System.out.print(table);
        if (markdownFile != null) {
            Files.writeString(markdownFile, table, StandardCharsets.UTF_8);
        }
    }

    /** Runs the workloads and returns the Markdown table, with a header saying what ran where. */
    public static String runAndReport(boolean quick, List<String> only, Path dir, Path coreFile) throws Exception {
        for (String w : only) {
            if (!WORKLOADS.contains(w)) {
                throw new IllegalArgumentException("unknown workload '" + w + "'; known: " + String.join(", ", WORKLOADS));
            }
        }
        java.util.Map<String, Double> core = coreFile == null ? null
                : parseCoreMarkdown(Files.readString(coreFile, StandardCharsets.UTF_8));
        Files.createDirectories(dir);
        String loadBefore = loadAverage();
        List<Result> results = new SdkBench(quick, dir).run(only);
        String header = String.format(Locale.ROOT,
                "Java SDK (io.graveyard over JNI) on an embedded store, default Durability.FSYNC; %d cores, Java %s, "
                        + "native %s, data in %s; load average %s at start, %s at end%s%n%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), Graveyard.nativeVersion(), dir,
                loadBefore, loadAverage(), core == null ? "" : "; Rust core figures from " + coreFile);
        return header + markdown(results, quick, core);
    }
}
