package io.graveyard;

import io.graveyard.internal.Native;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Entry point: {@link #open(Path)} an embedded store, or {@link #connect(String)} to a cluster. Both
 * give a {@link GraveyardClient} with the same methods.
 */
public final class Graveyard {
    private Graveyard() {}

    /** Opens (creating it if needed) the embedded store in directory {@code path}. */
    public static GraveyardClient open(Path path) {
        return open(path, OpenOptions.defaults());
    }

    public static GraveyardClient open(Path path, OpenOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        String dir = path.toAbsolutePath().toString();
        byte[] key = options.takeMasterKey();
        long handle;
        try {
            handle = Native.openDb(dir, options.maxEventSizeRaw(), options.mapSizeRaw(), options.durabilityRaw().code(),
                    options.maxReadersRaw(), key);
        } finally {
            // The native side wipes its own copy once the key is built; this one is wiped here.
            if (key != null) {
                Arrays.fill(key, (byte) 0);
            }
        }
        return new GraveyardClient(handle, "embedded " + path);
    }

    /**
     * Connects to a cluster given one or more of its nodes, comma-separated: {@code "host:port,host:port"}
     * (plain HTTP/2) or URLs ({@code http://...}, {@code https://...}).
     */
    public static GraveyardClient connect(String endpoints) {
        return connect(endpoints, ConnectOptions.defaults());
    }

    public static GraveyardClient connect(String endpoints, ConnectOptions options) {
        Objects.requireNonNull(endpoints, "endpoints");
        Objects.requireNonNull(options, "options");
        long handle = Native.connect(endpoints, options.tokenRaw(), options.caPemRaw(), options.connectTimeoutMillis(),
                options.requestTimeoutMillis(), options.retriesRaw(), options.retryBackoffMillis());
        return new GraveyardClient(handle, "cluster " + endpoints);
    }

    /** The version of the native library in use. */
    public static String nativeVersion() {
        return Native.version();
    }
}
