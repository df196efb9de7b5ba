package io.graveyard.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the language-neutral scenarios of {@code ../conformance/*.json} (format:
 * conformance/README.md) through the Java SDK on embedded stores: one dynamic test per file, each
 * on a fresh store in its own temporary directory, with the checks of the reference runner
 * (core/tests/conformance/runner.rs), once through the blocking methods and once through their
 * {@code ...Async} twins; then once more through {@code Graveyard.connect} on one real node
 * ({@link #conformanceThroughOneNode}). A scenario runs every step and fails with every difference,
 * naming the file, the scenario, the step index and op, the expectation and the actual outcome.
 *
 * <p>{@code CONFORMANCE_FILTER=<text>} (environment) or {@code -Dconformance.filter=<text>} runs
 * only the files whose name holds the text; {@code -Dconformance.dir=<dir>} reads the scenarios
 * from another folder.
 */
class ConformanceTest {
    /** A scenario that hangs (a deadlock in the binding) fails instead of stalling the build. */
    static final Duration SCENARIO_TIMEOUT = Duration.ofMinutes(2);

    private static final AtomicInteger SCENARIOS = new AtomicInteger();
    private static final AtomicInteger STEPS = new AtomicInteger();
    /** The ops of consumer groups and subscriptions, which this runner does not run yet. */
    static final java.util.Set<String> SESSION_OPS = java.util.Set.of("create_group", "update_group",
            "delete_group", "group_info", "list_groups", "replay_parked", "join_group", "subscribe_to_stream",
            "subscribe_to_all", "next", "ack", "nack", "cancel", "close_session");
    private static final AtomicInteger FAILURES = new AtomicInteger();

    static Path scenarioDir() {
        return Path.of(System.getProperty("conformance.dir", "../conformance")).toAbsolutePath().normalize();
    }

    static String filter() {
        String filter = System.getProperty("conformance.filter");
        if (filter == null) {
            filter = System.getenv("CONFORMANCE_FILTER");
        }
        return filter == null ? "" : filter;
    }

    static List<Path> scenarioFiles() throws IOException {
        Path dir = scenarioDir();
        List<Path> files;
        try (Stream<Path> listing = Files.list(dir)) {
            // boundary_vectors.json holds the boundary's golden vectors (BoundaryVectorsTest), not a scenario.
            files = listing.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .filter(p -> !p.getFileName().toString().equals("boundary_vectors.json")).sorted().toList();
        }
        return files;
    }

    @TestFactory
    Stream<DynamicTest> conformance() throws IOException {
        Path dir = scenarioDir();
        List<Path> all = scenarioFiles();
        if (all.isEmpty()) {
            fail("no scenario (*.json) in " + dir);
        }
        String filter = filter();
        List<Path> files = all.stream().filter(p -> p.getFileName().toString().contains(filter)).toList();
        if (files.isEmpty()) {
            fail("CONFORMANCE_FILTER=" + Json.quote(filter) + " matches no scenario in " + dir);
        }
        // Each scenario twice: through the blocking methods, then through their async twins.
        return Stream.of(false, true).flatMap(async -> files.stream().map(file -> DynamicTest.dynamicTest(
                file.getFileName() + (async ? " (async)" : ""), file.toUri(),
                () -> assertTimeoutPreemptively(SCENARIO_TIMEOUT, () -> runFile(file, async, false),
                        () -> "conformance/" + file.getFileName() + " did not finish within " + SCENARIO_TIMEOUT))));
    }

    /**
     * The same scenarios through {@link io.graveyard.Graveyard#connect} on one real node
     * ({@code graveyard serve}, the binary of {@code -Dgraveyard.server.binary}): the cluster client
     * of the binding and the wire keep the contract too. With one node every stream, $all and the
     * head are on that node, as the README's cluster runners require; {@code reopen} restarts the
     * node (SIGTERM, then start again on the same data) and connects a new client. Skipped, with
     * the reason, when the binary is not built.
     */
    @TestFactory
    Stream<DynamicTest> conformanceThroughOneNode() throws IOException {
        List<Path> files = scenarioFiles().stream().filter(p -> p.getFileName().toString().contains(filter())).toList();
        if (files.isEmpty()) {
            fail("no scenario (*.json) in " + scenarioDir() + " matches " + Json.quote(filter()));
        }
        return files.stream().map(file -> DynamicTest.dynamicTest(file.getFileName() + " (node)", file.toUri(), () -> {
            org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(NodeBackend.binary()),
                    "the server binary " + NodeBackend.binary() + " is not built (cargo build --release -p graveyard-server)");
            assertTimeoutPreemptively(SCENARIO_TIMEOUT, () -> runFile(file, false, true),
                    () -> "conformance/" + file.getFileName() + " (node) did not finish within " + SCENARIO_TIMEOUT);
        }));
    }

    @AfterAll
    static void summary() {
        System.out.println("conformance (Java SDK: embedded blocking, embedded async, one node): " + SCENARIOS.get()
                + " scenario run(s), " + STEPS.get() + " step(s) run, " + FAILURES.get() + " failure(s)");
    }

    /** Parses and runs one scenario file on a fresh store; fails with every difference. */
    static void runFile(Path file, boolean async, boolean node) throws Exception {
        String label = "conformance/" + file.getFileName() + (node ? " (one node, Graveyard.connect)" : "")
                + (async ? " (async twins)" : "");
        JsonNode value;
        try {
            value = Json.MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            FAILURES.incrementAndGet();
            throw new AssertionError("--- " + label + ": invalid JSON: " + e.getMessage(), e);
        }
        // The session ops (consumer groups, subscriptions) are not in this runner: the scenarios that
        // use them run through graveyard::Store (embedded and on 3-node clusters) and the reference
        // executor, and will run in Java through a Java executor of graveyard-conformance
        // (conformance/README.md, "Running the scenarios in an SDK"). Reported as skipped, by name.
        for (JsonNode step : value.path("steps")) {
            String op = step.path("op").asText();
            org.junit.jupiter.api.Assumptions.assumeFalse(SESSION_OPS.contains(op), label
                    + " uses the session op '" + op + "', which the Java runner does not run yet (a Java executor of"
                    + " graveyard-conformance is the next step)");
        }
        Scenario.Ids ids = new Scenario.Ids();
        Scenario scenario;
        try {
            scenario = Scenario.parse(value, ids);
        } catch (Scenario.Malformed e) {
            FAILURES.incrementAndGet();
            throw new AssertionError("--- " + label + ": malformed scenario: " + e.getMessage());
        }
        SCENARIOS.incrementAndGet();

        List<String> failures = new ArrayList<>();
        Path dir = Files.createTempDirectory("graveyard-conformance-");
        try {
            SdkStore store;
            try {
                store = new SdkStore(node ? NodeBackend.start(dir, scenario.maxEventSize, scenario.masterKey)
                        : SdkStore.embedded(dir, scenario.maxEventSize, scenario.masterKey), async);
            } catch (Exception | LinkageError e) {
                FAILURES.incrementAndGet();
                throw new AssertionError("--- " + label + ": scenario " + Json.quote(scenario.name)
                        + ": cannot open a fresh store: " + e, e);
            }
            try {
                for (int index = 0; index < scenario.steps.size(); index++) {
                    Scenario.Step step = scenario.steps.get(index);
                    STEPS.incrementAndGet();
                    Matcher.Outcome outcome;
                    try {
                        outcome = store.execute(step.op());
                    } catch (RuntimeException e) {
                        // Not a GraveyardException: the SDK reported an error without a code
                        // (or crashed in its own code). The store is still usable: go on.
                        failures.add(failure(label, scenario.name, index, step,
                                "the SDK threw " + describe(e) + " instead of a GraveyardException"));
                        continue;
                    } catch (Error e) {
                        failures.add(failure(label, scenario.name, index, step,
                                "the SDK threw " + describe(e) + "\n  (the rest of the scenario is skipped)"));
                        break;
                    }
                    String problem = Matcher.check(step, outcome, ids);
                    if (problem != null) {
                        failures.add(failure(label, scenario.name, index, step, problem));
                    }
                }
            } finally {
                store.close();
            }
        } finally {
            deleteRecursively(dir);
        }
        FAILURES.addAndGet(failures.size());
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.size() + " conformance failure(s) in " + label
                    + " (format: conformance/README.md):\n\n" + String.join("\n\n", failures));
        }
    }

    private static String describe(Throwable e) {
        StackTraceElement[] trace = e.getStackTrace();
        return e + (trace.length > 0 ? " at " + trace[0] : "");
    }

    static String failure(String label, String scenario, int index, Scenario.Step step, String problem) {
        String raw = Json.text(step.raw());
        if (raw.length() > 400) {
            raw = raw.substring(0, 400) + " ...";
        }
        return "--- " + label + ": scenario " + Json.quote(scenario) + ", step " + index + " (" + step.opName() + ")\n  step: "
                + raw + "\n  " + problem;
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
}
