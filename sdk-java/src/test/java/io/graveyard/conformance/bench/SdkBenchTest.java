package io.graveyard.conformance.bench;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Runs {@link SdkBench} from Maven. Off unless {@code -Dgraveyard.bench=true} (a plain
 * {@code mvn test} never benchmarks); {@code -Dgraveyard.bench.quick=true} for the smoke sizes,
 * {@code -Dgraveyard.bench.only=append-8,scan-all} for some workloads,
 * {@code -Dgraveyard.bench.core=FILE} (the Markdown of {@code graveyard-bench embedded --markdown FILE})
 * for the Rust core column and the ratio. The table is printed and
 * written to {@code target/sdk-bench.md}. It fails only when a store does not hold what it
 * acknowledged (never on a number).
 */
@Tag("bench")
@EnabledIfSystemProperty(named = "graveyard.bench", matches = "true")
class SdkBenchTest {
    @Test
    void bench() throws Exception {
        boolean quick = Boolean.getBoolean("graveyard.bench.quick");
        String onlyProperty = System.getProperty("graveyard.bench.only", "");
        List<String> only = onlyProperty.isBlank() ? List.of() : Arrays.asList(onlyProperty.split(","));
        Path dir = Path.of(System.getProperty("graveyard.bench.dir", System.getProperty("java.io.tmpdir")));
        String core = System.getProperty("graveyard.bench.core", "");
        String table = SdkBench.runAndReport(quick, only, dir, core.isBlank() ? null : Path.of(core));
        System.out.print(table);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target", "sdk-bench.md"), table, StandardCharsets.UTF_8);
    }
}
