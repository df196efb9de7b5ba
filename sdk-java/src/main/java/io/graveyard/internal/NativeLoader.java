package io.graveyard.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads {@code graveyard_jni}: from {@code java.library.path} when it is there (a system install,
 * or {@code -Djava.library.path=target/release} in development), else from the jar, where the build
 * put it at {@code native/<os>-<arch>/<library file>}, extracted to a temporary file that is
 * removed as soon as it is loaded (see {@link #removeExtracted}).
 */
final class NativeLoader {
    static final String LIBRARY = "graveyard_jni";

    private NativeLoader() {}

    static synchronized void load() {
        UnsatisfiedLinkError fromPath;
        try {
            System.loadLibrary(LIBRARY);
            return;
        } catch (UnsatisfiedLinkError e) {
            fromPath = e;
        }
        String resource = "/native/" + platform() + "/" + System.mapLibraryName(LIBRARY);
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in == null) {
                UnsatisfiedLinkError error = new UnsatisfiedLinkError("the GraveyardDB native library "
                        + System.mapLibraryName(LIBRARY) + " is neither on java.library.path ("
                        + System.getProperty("java.library.path") + ") nor in the jar at " + resource
                        + " (platform " + platform() + "). Build it with `cargo build --release -p graveyard-jni` "
                        + "before packaging sdk-java, or pass -Djava.library.path=<directory of the library>.");
                error.addSuppressed(fromPath);
                throw error;
            }
            Path dir = Files.createTempDirectory("graveyard-jni");
            Path file = dir.resolve(System.mapLibraryName(LIBRARY));
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                System.load(file.toAbsolutePath().toString());
            } finally {
                removeExtracted(dir, file);
            }
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                    "could not extract the GraveyardDB native library " + resource + " to a temporary file: " + e);
            error.initCause(e);
            throw error;
        }
    }

    /**
     * Removes the extracted copy at once, loaded or not: on Linux and macOS a loaded library stays
     * mapped after its file is unlinked, so nothing is left in the temporary directory, not even
     * when the JVM is killed later. Where the OS refuses (Windows locks a loaded DLL), it falls back
     * to {@code deleteOnExit} with the folder registered before the file: the JVM deletes in the
     * reverse order of registration, so the file must be registered last to go first and leave the
     * folder empty when its turn comes (registered the other way round, an empty
     * {@code graveyard-jni*} folder stayed behind at every exit). Whether Windows lets the JVM
     * delete a DLL still loaded at exit is not tested here. A failure to remove never fails the load.
     */
    private static void removeExtracted(Path dir, Path file) {
        try {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        } catch (IOException | SecurityException e) {
            dir.toFile().deleteOnExit();
            file.toFile().deleteOnExit();
        }
    }

    /** {@code linux-x86_64}, {@code linux-aarch64}, {@code macos-aarch64}, {@code windows-x86_64}... */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("win") ? "windows" : os.contains("mac") || os.contains("darwin") ? "macos" : os.contains("linux") ? "linux" : os.replaceAll("\\W", "");
        String a = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch.replaceAll("\\W", "");
        };
        return o + "-" + a;
    }
}
