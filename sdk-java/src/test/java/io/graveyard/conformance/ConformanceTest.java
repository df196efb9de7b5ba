package io.graveyard.conformance;

import io.graveyard.ServerBinary;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the language-neutral scenarios of {@code ../conformance/*.json} through the Java SDK: the
 * Rust runner ({@code graveyard-conformance}, the one parser and matcher of every SDK) drives
 * {@link Executor} in a child JVM over the protocol of conformance/README.md, three times: on
 * embedded stores through the blocking methods, through their {@code ...Async} twins, then on one
 * real node through {@code Graveyard.connect} (a failure when the server binary is not built, unless
 * {@code GRAVEYARD_ALLOW_SKIPS=1}). Each run fails with every failing step, as the runner prints it.
 *
 * <p>{@code CONFORMANCE_FILTER=<text>} (environment) or {@code -Dconformance.filter=<text>} runs
 * only the files whose name holds the text; {@code -Dconformance.dir=<dir>} reads the scenarios
 * from another folder; {@code -Dgraveyard.conformance.binary=<path>} names the runner (default: beside
 * the server binary, {@code ../target/release/graveyard-conformance}).
 */
class ConformanceTest {
    /** A run that hangs (a deadlock in the binding) fails instead of stalling the build. */
    private static final long RUN_TIMEOUT_MINUTES = 10;

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

    static Path runner() {
        String configured = System.getProperty("graveyard.conformance.binary");
        Path path = configured != null ? Path.of(configured)
                : ServerBinary.path().resolveSibling("graveyard-conformance");
        return path.toAbsolutePath().normalize();
    }

    @TestFactory
    Stream<DynamicTest> conformance() {
        return Stream.of(
                DynamicTest.dynamicTest("embedded, blocking methods", () -> run("")),
                DynamicTest.dynamicTest("embedded, async twins", () -> run("--async")),
                DynamicTest.dynamicTest("one node, Graveyard.connect", () -> {
                    ServerBinary.require();
                    run("--node");
                }));
    }

    /** The runner over an executor started with {@code flag}; fails with the runner's report. */
    static void run(String flag) throws Exception {
        Path runner = runner();
        if (!Files.isExecutable(runner)) {
            fail("the conformance runner " + runner + " is not built: cargo build --release -p graveyard-conformance");
        }
        // The child JVM: this test's class path (the SDK, its native library, this executor), with
        // the JNI checks surefire runs the tests with, and the server binary for --node.
        List<String> executor = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xcheck:jni", "-cp", System.getProperty("java.class.path"),
                "-Dgraveyard.server.binary=" + ServerBinary.path(), Executor.class.getName()));
        if (!flag.isEmpty()) {
            executor.add(flag);
        }
        List<String> command = new ArrayList<>(List.of(runner.toString(), "--exec", shell(executor)));
        if (!filter().isEmpty()) {
            command.addAll(List.of("--filter", filter()));
        }
        command.add(scenarioDir().toString());
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
        if (!process.waitFor(RUN_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            fail("the conformance run (" + flag + ") did not finish within " + RUN_TIMEOUT_MINUTES + " minutes:\n"
                    + output.getNow("(no output yet)"));
        }
        String report = output.get();
        System.out.println(report);
        assertEquals(0, process.exitValue(), () -> "conformance failures through the Java SDK (" + flag + "):\n" + report);
        assertTrue(report.contains(" 0 failure(s)"), report);
    }

    private static String read(InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read the runner's output: " + e + ")";
        }
    }

    /** The words quoted for {@code sh -c}, which the runner starts the executor with. */
    static String shell(List<String> words) {
        StringBuilder out = new StringBuilder();
        for (String word : words) {
            if (out.length() > 0) {
                out.append(' ');
            }
            out.append('\'').append(word.replace("'", "'\\''")).append('\'');
        }
        return out.toString();
    }
}
