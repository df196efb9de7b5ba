package io.graveyard.internal;

import java.util.concurrent.CompletableFuture;

/**
 * The native methods of {@code libgraveyard_jni} (crate {@code bindings/jni}), one per operation of
 * the core's {@code graveyard::Store} façade, its subscriptions and its group members. Internal: not
 * part of the SDK's API, may change in any release.
 *
 * <p>Conventions (see bindings/jni/README.md and docs/boundary.md): a {@code long} handle is a
 * pointer to a boxed Rust object, freed exactly once by its {@code close}/{@code release}/{@code *Free}
 * method; Java guards every handle with {@link NativeHandle} so a closed handle is never passed.
 * Enums cross as their documented numbers (never {@code ordinal()}): expected-version kinds 0 any,
 * 1 no stream, 2 stream exists, 3 exact; directions 0 forwards, 1 backwards; starts 0 start, 1 end,
 * 2 after; nack actions 1 retry, 2 park, 3 skip; durability (this binding's own) 0 fsync, 1 no fsync.
 * Unsigned 64-bit values travel as {@code long}; -1 means "not set" where a value is optional.
 *
 * <p>A method taking a {@code CompletableFuture} runs the façade's blocking form and returns its
 * result when the future is null; otherwise it starts the async form on the shared native runtime,
 * returns null at once and completes the future from a runtime thread. Results are {@code byte[]}
 * (packed, see {@code io.graveyard.Wire}), {@code String} (JSON), {@code Long} (a number, or the
 * handle of a new session) or null. A session's next item is a packed message or delivery,
 * {@code null} on a timeout, and an empty array once the session has ended. Failures are thrown (or
 * complete the future) as the {@code GraveyardException} subclass of their code, built by
 * {@link #newException}.
 */
public final class Native {
    private Native() {}

    static {
        NativeLoader.load();
    }

    /** Loads the library (idempotent); for callers that want the failure early. */
    public static void ensureLoaded() {}

    public static native String version();

    // ---- stores ------------------------------------------------------------------------------

    public static native long openDb(String path, long maxEventSize, long mapSize, int durability, int maxReaders,
            byte[] masterKey);

    public static native long connect(String endpoints, String token, byte[] caPem, long connectTimeoutMillis,
            long requestTimeoutMillis, int retries, long retryBackoffMillis);

    /** A handle on the same cluster client whose node-scoped calls go to member {@code nodeId}. */
    public static native long onNode(long store, String nodeId);

    public static native boolean isEncrypted(long store);

    /** Closes the store for every handle on it and frees this one (waits for embedded calls in flight). */
    public static native void close(long store);

    /** Frees a handle without closing the store it shares (a handle of {@link #onNode}). */
    public static native void release(long store);

    // ---- operations --------------------------------------------------------------------------

    public static native Object append(long store, String stream, int expectedKind, long expectedRevision,
            byte[] packedEvents, CompletableFuture<Object> future);

    public static native Object readStream(long store, String stream, int direction, long from, long limit,
            CompletableFuture<Object> future);

    public static native Object readAll(long store, int direction, long from, long limit, String filterJson,
            CompletableFuture<Object> future);

    public static native Object listStreams(long store, String prefix, String after, long limit,
            CompletableFuture<Object> future);

    public static native Object streamInfo(long store, String stream, CompletableFuture<Object> future);

    public static native Object setStreamMetadata(long store, String stream, String metadataJson,
            CompletableFuture<Object> future);

    public static native Object getStreamMetadata(long store, String stream, CompletableFuture<Object> future);

    public static native Object deleteStream(long store, String stream, int expectedKind, long expectedRevision,
            CompletableFuture<Object> future);

    public static native Object tombstoneStream(long store, String stream, int expectedKind, long expectedRevision,
            CompletableFuture<Object> future);

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

    /** A {@code Long}: the handle of the new subscription. */
    public static native Object subscribeToStream(long store, String stream, int startKind, long after, int pageSize,
            CompletableFuture<Object> future);

    /** A {@code Long}: the handle of the new subscription. */
    public static native Object subscribeToAll(long store, int startKind, long after, String filterJson, int pageSize,
            CompletableFuture<Object> future);

    /**
     * The next message, waiting at most {@code timeoutMillis} (-1: as long as it takes): a packed
     * subscription message ({@code u8} tag 0 caught up, 1 event then the event), null on timeout,
     * empty once ended.
     */
    public static native Object subscriptionNext(long subscription, long timeoutMillis,
            CompletableFuture<Object> future);

    /** Ends the subscription for good, waking a waiting {@code subscriptionNext}; does not free it. */
    public static native void subscriptionCancel(long subscription);

    public static native void subscriptionFree(long subscription);

    // ---- consumer group members ----------------------------------------------------------------

    /** A {@code Long}: the handle of the new member. */
    public static native Object joinGroup(long store, String group, String member, CompletableFuture<Object> future);

    /**
     * The next delivery, waiting at most {@code timeoutMillis} (-1: as long as it takes): packed
     * ({@code u64 id, u32 attempt, i64 parked revision (-1: none)}, then the event), null on
     * timeout, empty once ended.
     */
    public static native Object memberNext(long member, long timeoutMillis, CompletableFuture<Object> future);

    /** Acks deliveries by id; ids handed out by any member of the group joined through the same store. */
    public static native Object memberAck(long member, long[] deliveryIds, CompletableFuture<Object> future);

    public static native Object memberNack(long member, int action, long[] deliveryIds,
            CompletableFuture<Object> future);

    /** Ends the member's waits for good, waking a waiting {@code memberNext}; does not free it. */
    public static native void memberCancel(long member);

    /** Frees the member: it leaves the group. */
    public static native void memberFree(long member);

    /**
     * For the SDK's own tests: panics in native code, on this thread (future null: must throw
     * {@code InternalException}) or in a runtime task (the future must complete exceptionally).
     */
    public static native Object selfTestPanic(CompletableFuture<Object> future);

    // ---- called by the native side -------------------------------------------------------------

    /** Builds the exception of a failure from its code number: resolved once when the library loads. */
    static RuntimeException newException(int code, String message, String detailsJson) {
        return Errors.create(code, message, detailsJson);
    }
}
