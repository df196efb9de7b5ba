package io.graveyard;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assumptions;

/** The node binary of the workspace build, which the tests of real nodes start. */
public final class ServerBinary {

    private ServerBinary() {}

    /** {@code graveyard.server.binary} (the pom sets it under the cargo target directory), else ../target/release/graveyard. */
    public static Path path() {
        String configured = System.getProperty("graveyard.server.binary");
        return (configured != null ? Path.of(configured) : Path.of("../target/release/graveyard")).toAbsolutePath().normalize();
    }

    /**
     * The binary, or a failed test when it is not built: a skipped test proves nothing, unless
     * {@code GRAVEYARD_ALLOW_SKIPS=1} asks for a partial run, which skips the test instead.
     */
    public static Path require() {
        Path binary = path();
        if (!Files.isExecutable(binary)) {
            String why = "the server binary " + binary + " is not built (cargo build --release --bins)";
            Assumptions.assumeFalse("1".equals(System.getenv("GRAVEYARD_ALLOW_SKIPS")), why);
            fail(why + "; GRAVEYARD_ALLOW_SKIPS=1 skips the tests of real nodes instead");
        }
        return binary;
    }
}
