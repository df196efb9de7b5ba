package io.graveyard.internal;

import java.util.concurrent.CompletableFuture;

/**
 * The native methods of {@code libgraveyard_jni} (crate {@code bindings/jni}). Internal: not part
 * of the SDK's API, may change in any release.
 *
 * <p>Conventions (see bindings/jni/README.md): a {@code long} handle is a pointer to a boxed Rust
 * object, freed exactly once by its {@code *Free}/{@code close} method; Java guards every handle
 * with {@link NativeHandle} so a closed handle is never passed. Unsigned 64-bit values travel as
 * {@code long}; -1 means "not set" where a value is optional. A method taking a
 * {@code CompletableFuture} runs synchronously and returns its result when the future is null;
 * otherwise it starts the work on the native runtime, returns null at once and completes the
 * future from a runtime thread. Results are {@code byte[]} (packed, see {@code io.graveyard.Wire}),
 * {@code String} (JSON), {@code Long} or null. Failures are thrown (or complete the future) as the
 * {@code GraveyardException} subclass of their code, built by {@link #newException}.
 */
public final class Native {
    private Native() {}

    static {
        NativeLoader.load();
    }

    /** Loads the library (idempotent); for callers that want the failure early. */
    public static void ensureLoaded() {}

    public static native String version();

    // ---- store -------------------------------------------------------------------------------

    public static native long openDb(String path, long maxEventSize, long mapSize, int durability, int maxReaders,
            byte[] masterKey);

    public static native long connect(String endpoints, String token, byte[] caPem, long connectTimeoutMillis,
            long requestTimeoutMillis, int retries, long retryBackoffMillis);

    /** Closes and frees the store handle (waits for the embedded store's calls in flight). */
    public static native void close(long store);

    public static native Object append(long store, String stream, int expectedKind, long expectedRevision,
            byte[] packedEvents, CompletableFuture<Object> future);

    public static native Object readStream(long store, String stream, int direction, long from, long limit,
            CompletableFuture<Object> future);

    public static native Object readAll(long store, int direction, long from, long limit, String filterJson,
            CompletableFuture<Object> future);

    public static native Object streamInfo(long store, String stream, CompletableFuture<Object> future);

    public static native Object setStreamMetadata(long store, String stream, String metadataJson,
            CompletableFuture<Object> future);

    public static native Object getStreamMetadata(long store, String stream, CompletableFuture<Object> future);

    public static native Object deleteStream(long store, String stream, int expectedKind, long expectedRevision,
            boolean tombstone, CompletableFuture<Object> future);

    public static native Object shredStream(long store, String stream, CompletableFuture<Object> future);

    public static native Object rotateMasterKey(long store, byte[] newKey, CompletableFuture<Object> future);

    public static native Object saveSnapshot(long store, String stream, long revision, byte[] data,
            CompletableFuture<Object> future);

    public static native Object getSnapshot(long store, String stream, CompletableFuture<Object> future);

    public static native Object headPosition(long store, CompletableFuture<Object> future);

    public static native Object upsertSchema(long store, String schemaJson, CompletableFuture<Object> future);

    public static native Object getSchema(long store, String name, long version, CompletableFuture<Object> future);

    public static native Object listSchemas(long store, CompletableFuture<Object> future);

    public static native Object createGroup(long store, String name, String targetJson, int startKind,
            long startAfter, String settingsJson, CompletableFuture<Object> future);

    public static native Object updateGroup(long store, String name, String settingsJson,
            CompletableFuture<Object> future);

    public static native Object deleteGroup(long store, String name, CompletableFuture<Object> future);

    public static native Object groupInfo(long store, String name, CompletableFuture<Object> future);

    public static native Object listGroups(long store, CompletableFuture<Object> future);

    public static native Object replayParked(long store, String name, long limit, CompletableFuture<Object> future);

    // ---- subscriptions -------------------------------------------------------------------------

    public static native long subscribeToStream(long store, String stream, int startKind, long after, int pageSize);

    public static native long subscribeToAll(long store, int startKind, long after, String filterJson, int pageSize);

    /**
     * The next message, waiting at most {@code timeoutMillis} (-1: forever): null on timeout, else
     * a packed message (tag 0 caught up, 1 event, 2 ended).
     */
    public static native byte[] subscriptionNext(long subscription, long timeoutMillis);

    /** Wakes a blocked {@code subscriptionNext} and ends the subscription; does not free it. */
    public static native void subscriptionCancel(long subscription);

    public static native void subscriptionFree(long subscription);

    // ---- consumer group members ----------------------------------------------------------------

    public static native long joinGroup(long store, String group, String member);

    /** The next delivery, waiting at most {@code timeoutMillis} (-1: forever): null on timeout. */
    public static native byte[] memberNext(long member, long timeoutMillis);

    public static native void memberAck(long member, long[] deliveries);

    public static native void memberNack(long member, int action, long[] deliveries);

    public static native void memberCancel(long member);

    public static native void memberFree(long member);

    /**
     * For the SDK's own tests: panics in native code, on this thread (future null: must throw
     * {@code InternalException}) or in a runtime task (the future must complete exceptionally).
     */
    public static native Object selfTestPanic(CompletableFuture<Object> future);

    // ---- called by the native side -------------------------------------------------------------

    /** Builds the exception of a failure: resolved once when the library loads. */
    static RuntimeException newException(String code, String message, String detailsJson) {
        return Errors.create(code, message, detailsJson);
    }
}
