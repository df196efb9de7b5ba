package io.graveyard;

import io.graveyard.Calls.Call;
import io.graveyard.internal.Native;
import io.graveyard.internal.NativeHandle;
import io.graveyard.schema.Entities;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * A GraveyardDB store: embedded ({@link Graveyard#open}) or a cluster ({@link Graveyard#connect}),
 * with the same methods. Thread-safe: share one client between threads. Close it when done;
 * every call after {@link #close()} throws {@link ClosedException}.
 *
 * <p>Each operation has a blocking form and an {@code ...Async} twin returning a
 * {@link CompletableFuture}, and so do opening a subscription or joining a group (their sessions'
 * calls have twins too). The async twins run as tasks of the native runtime (an embedded append is
 * queued to the writer without holding a thread; other embedded calls block a runtime thread only
 * while they read or commit) and complete the future from a runtime thread, named
 * {@code graveyard}:
 * stages added with {@code thenApply} and the like run there too, so keep them short, or add them
 * with {@code thenApplyAsync}. Failures complete the future exceptionally with the
 * {@link GraveyardException} subclass of their code; bad arguments (null, negative numbers) throw
 * at once.
 */
public final class GraveyardClient implements AutoCloseable {
    private final NativeHandle handle;
    private final String description;
    /** A client of {@link #onNode}: it shares its store with the client it came from. */
    private final boolean view;

    GraveyardClient(long handle, String description) {
        this(handle, description, false);
    }

    private GraveyardClient(long handle, String description, boolean view) {
        this.handle = new NativeHandle(handle, "the GraveyardDB client (" + description + ")");
        this.description = description;
        this.view = view;
    }

    private <T> T sync(Call call, Function<Object, T> decode) {
        return Calls.sync(handle, call, decode);
    }

    private <T> CompletableFuture<T> async(Call call, Function<Object, T> decode) {
        return Calls.async(handle, call, decode);
    }

    private static Void none(Object raw) {
        return null;
    }

    // ---- append ------------------------------------------------------------------------------

    /** Appends {@code events} atomically (all or none, consecutive revisions) if the stream satisfies {@code expected}. */
    public AppendResult append(String stream, ExpectedVersion expected, List<EventData> events) {
        return sync(appendCall(stream, expected, events), Wire::appendResult);
    }

    public AppendResult append(String stream, ExpectedVersion expected, EventData... events) {
        return append(stream, expected, Arrays.asList(Objects.requireNonNull(events, "events")));
    }

    /**
     * Appends annotated entities (see {@code io.graveyard.schema}): each is serialised to JSON with its
     * entity name as the event type, so the store validates it against the schema of that name.
     * {@link EventData} arguments are appended as they are.
     */
    public AppendResult append(String stream, ExpectedVersion expected, Object... entities) {
        return append(stream, expected, toEvents(entities));
    }

    public CompletableFuture<AppendResult> appendAsync(String stream, ExpectedVersion expected, List<EventData> events) {
        return async(appendCall(stream, expected, events), Wire::appendResult);
    }

    public CompletableFuture<AppendResult> appendAsync(String stream, ExpectedVersion expected, EventData... events) {
        return appendAsync(stream, expected, Arrays.asList(Objects.requireNonNull(events, "events")));
    }

    public CompletableFuture<AppendResult> appendAsync(String stream, ExpectedVersion expected, Object... entities) {
        return appendAsync(stream, expected, toEvents(entities));
    }

    private static List<EventData> toEvents(Object[] entities) {
        Objects.requireNonNull(entities, "entities");
        List<EventData> events = new ArrayList<>(entities.length);
        for (Object entity : entities) {
            Objects.requireNonNull(entity, "an entity to append is null");
            if (entity instanceof EventData e) {
                events.add(e);
            } else {
                events.add(EventData.json(Entities.eventType(entity.getClass()), Entities.toJson(entity)));
            }
        }
        return events;
    }

    private static Call appendCall(String stream, ExpectedVersion expected, List<EventData> events) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(expected, "expected");
        Objects.requireNonNull(events, "events");
        for (EventData e : events) {
            Objects.requireNonNull(e, "an event to append is null");
        }
        byte[] packed = Wire.packEvents(events);
        int kind = expected.kind().code();
        long revision = expected.rawRevision();
        return (h, f) -> Native.append(h, stream, kind, revision, packed, f);
    }

    // ---- reads -------------------------------------------------------------------------------

    /** Reads a stream's events. NOT_FOUND for a stream with no visible events; STREAM_DELETED if tombstoned. */
    public List<RecordedEvent> readStream(String stream, ReadOptions options) {
        return sync(readStreamCall(stream, options), Wire::events);
    }

    /** Every event of a stream, forwards. */
    public List<RecordedEvent> readStream(String stream) {
        return readStream(stream, ReadOptions.forwards());
    }

    public CompletableFuture<List<RecordedEvent>> readStreamAsync(String stream, ReadOptions options) {
        return async(readStreamCall(stream, options), Wire::events);
    }

    private static Call readStreamCall(String stream, ReadOptions options) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(options, "options");
        return (h, f) -> Native.readStream(h, stream, options.direction().code(), options.fromRevision(),
                options.maxCount(), f);
    }

    /** Reads the global log ($all) in position order (or reverse), optionally filtered. */
    public List<RecordedEvent> readAll(ReadAllOptions options) {
        return sync(readAllCall(options), Wire::events);
    }

    public List<RecordedEvent> readAll() {
        return readAll(ReadAllOptions.forwards());
    }

    public CompletableFuture<List<RecordedEvent>> readAllAsync(ReadAllOptions options) {
        return async(readAllCall(options), Wire::events);
    }

    private static Call readAllCall(ReadAllOptions options) {
        Objects.requireNonNull(options, "options");
        String filter = options.filter().isEmpty() ? null : Wire.filterJson(options.filter());
        return (h, f) -> Native.readAll(h, options.direction().code(), options.fromPosition(), options.maxCount(),
                filter, f);
    }

    /** The position the next event of $all will get (the number of events in the log). */
    public long headPosition() {
        return sync(Native::headPosition, raw -> (Long) raw);
    }

    public CompletableFuture<Long> headPositionAsync() {
        return async(Native::headPosition, raw -> (Long) raw);
    }

    // ---- stream lifecycle --------------------------------------------------------------------

    /**
     * One page of the streams this store holds (on a cluster, those of this client's node:
     * {@link #onNode} lists the others): names starting with {@code prefix}, in byte order, after
     * {@code after} (the last name of the previous page; null for the first page), at most
     * {@code limit} (1 to 10,000). A page shorter than the limit is the last.
     */
    public List<StreamSummary> listStreams(String prefix, String after, long limit) {
        return sync(listStreamsCall(prefix, after, OptionalLong.of(limit)), Wire::streamSummaries);
    }

    /** {@link #listStreams(String, String, long)} with the core's default limit (1,000). */
    public List<StreamSummary> listStreams(String prefix, String after) {
        return sync(listStreamsCall(prefix, after, OptionalLong.empty()), Wire::streamSummaries);
    }

    public CompletableFuture<List<StreamSummary>> listStreamsAsync(String prefix, String after, long limit) {
        return async(listStreamsCall(prefix, after, OptionalLong.of(limit)), Wire::streamSummaries);
    }

    public CompletableFuture<List<StreamSummary>> listStreamsAsync(String prefix, String after) {
        return async(listStreamsCall(prefix, after, OptionalLong.empty()), Wire::streamSummaries);
    }

    /** An absent limit crosses as -1, which the native layer reads as the core's default; a negative one is refused here. */
    private static Call listStreamsCall(String prefix, String after, OptionalLong limit) {
        Objects.requireNonNull(prefix, "prefix");
        long nativeLimit = limit.orElse(-1);
        if (limit.isPresent() && nativeLimit < 0) {
            throw new InvalidArgumentException("a listing's limit cannot be negative: " + nativeLimit);
        }
        return (h, f) -> Native.listStreams(h, prefix, after, nativeLimit, f);
    }

    /** The state of a stream: NOT_FOUND if it was never written nor given metadata. */
    public StreamInfo streamInfo(String stream) {
        Objects.requireNonNull(stream, "stream");
        return sync((h, f) -> Native.streamInfo(h, stream, f), Wire::streamInfo);
    }

    public CompletableFuture<StreamInfo> streamInfoAsync(String stream) {
        Objects.requireNonNull(stream, "stream");
        return async((h, f) -> Native.streamInfo(h, stream, f), Wire::streamInfo);
    }

    /** Replaces the retention rules of a stream (which may not exist yet). */
    public void setStreamMetadata(String stream, StreamMetadata metadata) {
        sync(setMetadataCall(stream, metadata), GraveyardClient::none);
    }

    public CompletableFuture<Void> setStreamMetadataAsync(String stream, StreamMetadata metadata) {
        return async(setMetadataCall(stream, metadata), GraveyardClient::none);
    }

    private static Call setMetadataCall(String stream, StreamMetadata metadata) {
        Objects.requireNonNull(stream, "stream");
        String json = Wire.metadataJson(Objects.requireNonNull(metadata, "metadata"));
        return (h, f) -> Native.setStreamMetadata(h, stream, json, f);
    }

    public StreamMetadata getStreamMetadata(String stream) {
        Objects.requireNonNull(stream, "stream");
        return sync((h, f) -> Native.getStreamMetadata(h, stream, f), raw -> Wire.metadata(Wire.readTree(raw)));
    }

    public CompletableFuture<StreamMetadata> getStreamMetadataAsync(String stream) {
        Objects.requireNonNull(stream, "stream");
        return async((h, f) -> Native.getStreamMetadata(h, stream, f), raw -> Wire.metadata(Wire.readTree(raw)));
    }

    /** Soft delete: the stream reads as absent until written again; its revisions continue. */
    public void deleteStream(String stream, ExpectedVersion expected) {
        sync(deleteCall(stream, expected, false), GraveyardClient::none);
    }

    public CompletableFuture<Void> deleteStreamAsync(String stream, ExpectedVersion expected) {
        return async(deleteCall(stream, expected, false), GraveyardClient::none);
    }

    /** Tombstone: the stream is gone and its name can never be used again (STREAM_DELETED). */
    public void tombstoneStream(String stream, ExpectedVersion expected) {
        sync(deleteCall(stream, expected, true), GraveyardClient::none);
    }

    public CompletableFuture<Void> tombstoneStreamAsync(String stream, ExpectedVersion expected) {
        return async(deleteCall(stream, expected, true), GraveyardClient::none);
    }

    private static Call deleteCall(String stream, ExpectedVersion expected, boolean tombstone) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(expected, "expected");
        int kind = expected.kind().code();
        long revision = expected.rawRevision();
        return tombstone ? (h, f) -> Native.tombstoneStream(h, stream, kind, revision, f)
                : (h, f) -> Native.deleteStream(h, stream, kind, revision, f);
    }

    // ---- encryption --------------------------------------------------------------------------

    /**
     * Crypto-shredding (encrypted stores): destroys the stream's data key, so its data and metadata
     * can never be read again, not even with the master key. Its events stay, reading back
     * {@link RecordedEvent#shredded()} with no data; appends to it fail with STREAM_DELETED.
     * Shredding twice is not an error; NOT_FOUND for a stream that never existed;
     * INVALID_ARGUMENT on a store without encryption.
     */
    public void shredStream(String stream) {
        Objects.requireNonNull(stream, "stream");
        sync((h, f) -> Native.shredStream(h, stream, f), GraveyardClient::none);
    }

    public CompletableFuture<Void> shredStreamAsync(String stream) {
        Objects.requireNonNull(stream, "stream");
        return async((h, f) -> Native.shredStream(h, stream, f), GraveyardClient::none);
    }

    /**
     * Rewraps every data key under {@code newKey} (32 bytes) while the store stays open; open it with
     * the new key from then on. Crash-safe. On a cluster: the client's home node, which accepts it
     * over TLS or from loopback only.
     */
    public void rotateMasterKey(byte[] newKey) {
        byte[] key = checkKey(newKey);
        sync((h, f) -> Native.rotateMasterKey(h, key, f), GraveyardClient::none);
    }

    public CompletableFuture<Void> rotateMasterKeyAsync(byte[] newKey) {
        byte[] key = checkKey(newKey);
        return async((h, f) -> Native.rotateMasterKey(h, key, f), GraveyardClient::none);
    }

    private static byte[] checkKey(byte[] key) {
        Objects.requireNonNull(key, "newKey");
        if (key.length != 32) {
            throw new IllegalArgumentException("a master key is 32 bytes, not " + key.length);
        }
        return key;
    }

    // ---- snapshots ---------------------------------------------------------------------------

    /** Stores the snapshot of {@code stream} at {@code revision} (a visible revision), replacing the previous one. */
    public void saveSnapshot(String stream, long revision, byte[] data) {
        sync(saveSnapshotCall(stream, revision, data), GraveyardClient::none);
    }

    public CompletableFuture<Void> saveSnapshotAsync(String stream, long revision, byte[] data) {
        return async(saveSnapshotCall(stream, revision, data), GraveyardClient::none);
    }

    private static Call saveSnapshotCall(String stream, long revision, byte[] data) {
        Objects.requireNonNull(stream, "stream");
        Revisions.check(revision, "a revision");
        byte[] copy = Objects.requireNonNull(data, "data").clone();
        return (h, f) -> Native.saveSnapshot(h, stream, revision, copy, f);
    }

    /** The latest snapshot of a stream, if one was saved. */
    public Optional<Snapshot> getSnapshot(String stream) {
        Objects.requireNonNull(stream, "stream");
        return sync((h, f) -> Native.getSnapshot(h, stream, f), raw -> Optional.ofNullable(Wire.snapshot(raw)));
    }

    public CompletableFuture<Optional<Snapshot>> getSnapshotAsync(String stream) {
        Objects.requireNonNull(stream, "stream");
        return async((h, f) -> Native.getSnapshot(h, stream, f), raw -> Optional.ofNullable(Wire.snapshot(raw)));
    }

    // ---- schemas -----------------------------------------------------------------------------

    /**
     * Registers a schema (its JSON definition, see docs/semantics.md) as the next version of its
     * name if it differs from the latest. INVALID_SCHEMA names every problem.
     */
    public SchemaUpsert upsertSchema(String schemaJson) {
        Objects.requireNonNull(schemaJson, "schemaJson");
        return sync((h, f) -> Native.upsertSchema(h, schemaJson, f), Wire::schemaUpsert);
    }

    /** Derives the schema of an annotated entity class (see {@code io.graveyard.schema}) and registers it. */
    public SchemaUpsert upsertSchema(Class<?> entity) {
        return upsertSchema(Entities.schemaJson(Objects.requireNonNull(entity, "entity")));
    }

    public CompletableFuture<SchemaUpsert> upsertSchemaAsync(String schemaJson) {
        Objects.requireNonNull(schemaJson, "schemaJson");
        return async((h, f) -> Native.upsertSchema(h, schemaJson, f), Wire::schemaUpsert);
    }

    public CompletableFuture<SchemaUpsert> upsertSchemaAsync(Class<?> entity) {
        return upsertSchemaAsync(Entities.schemaJson(Objects.requireNonNull(entity, "entity")));
    }

    /** The latest version of schema {@code name}; NOT_FOUND if there is none. */
    public RegisteredSchema getSchema(String name) {
        return sync(getSchemaCall(name, -1), raw -> Wire.registeredSchema(Wire.readTree(raw)));
    }

    /** Version {@code version} (from 1) of schema {@code name}; NOT_FOUND if there is none. */
    public RegisteredSchema getSchema(String name, int version) {
        return sync(getSchemaCall(name, checkVersion(version)), raw -> Wire.registeredSchema(Wire.readTree(raw)));
    }

    public CompletableFuture<RegisteredSchema> getSchemaAsync(String name) {
        return async(getSchemaCall(name, -1), raw -> Wire.registeredSchema(Wire.readTree(raw)));
    }

    public CompletableFuture<RegisteredSchema> getSchemaAsync(String name, int version) {
        return async(getSchemaCall(name, checkVersion(version)), raw -> Wire.registeredSchema(Wire.readTree(raw)));
    }

    private static long checkVersion(int version) {
        if (version < 1) {
            throw new IllegalArgumentException("schema versions start at 1: " + version);
        }
        return version;
    }

    private static Call getSchemaCall(String name, long version) {
        Objects.requireNonNull(name, "name");
        return (h, f) -> Native.getSchema(h, name, version, f);
    }

    /** The latest version of every schema. */
    public List<RegisteredSchema> listSchemas() {
        return sync(Native::listSchemas, Wire::registeredSchemas);
    }

    public CompletableFuture<List<RegisteredSchema>> listSchemasAsync() {
        return async(Native::listSchemas, Wire::registeredSchemas);
    }

    // ---- subscriptions -----------------------------------------------------------------------

    /** Subscribes to one stream: its events from {@code options.start()} (a revision), then live ones. */
    public Subscription subscribeToStream(String stream, SubscribeOptions options) {
        return sync(subscribeToStreamCall(stream, options), raw -> streamSubscription((Long) raw, stream));
    }

    /** {@link #subscribeToStream}, async. */
    public CompletableFuture<Subscription> subscribeToStreamAsync(String stream, SubscribeOptions options) {
        return Calls.asyncOpen(handle, subscribeToStreamCall(stream, options), h -> streamSubscription(h, stream));
    }

    private static Call subscribeToStreamCall(String stream, SubscribeOptions options) {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(options, "options");
        StartPosition start = options.start();
        return (h, f) -> Native.subscribeToStream(h, stream, start.kind().code(), start.checkpoint(),
                options.pageSize(), f);
    }

    private static Subscription streamSubscription(long handle, String stream) {
        return new Subscription(handle, "the subscription to stream '" + stream + "'");
    }

    /** Subscribes to $all: history from {@code options.start()} (a position), then live events, filtered. */
    public Subscription subscribeToAll(SubscribeOptions options) {
        return sync(subscribeToAllCall(options), raw -> allSubscription((Long) raw));
    }

    /** {@link #subscribeToAll}, async. */
    public CompletableFuture<Subscription> subscribeToAllAsync(SubscribeOptions options) {
        return Calls.asyncOpen(handle, subscribeToAllCall(options), GraveyardClient::allSubscription);
    }

    private static Call subscribeToAllCall(SubscribeOptions options) {
        Objects.requireNonNull(options, "options");
        StartPosition start = options.start();
        String filter = options.filter().isEmpty() ? null : Wire.filterJson(options.filter());
        return (h, f) -> Native.subscribeToAll(h, start.kind().code(), start.checkpoint(), filter, options.pageSize(),
                f);
    }

    private static Subscription allSubscription(long handle) {
        return new Subscription(handle, "the subscription to $all");
    }

    // ---- consumer groups ---------------------------------------------------------------------

    /** Creates a consumer group whose checkpoint starts at {@code start}. */
    public GroupInfo createGroup(String name, GroupTarget target, StartPosition start, GroupSettings settings) {
        return sync(createGroupCall(name, target, start, settings), Wire::groupInfo);
    }

    /** Creates a consumer group from the start of its target, with default settings. */
    public GroupInfo createGroup(String name, GroupTarget target) {
        return createGroup(name, target, StartPosition.start(), GroupSettings.defaults());
    }

    public CompletableFuture<GroupInfo> createGroupAsync(String name, GroupTarget target, StartPosition start,
            GroupSettings settings) {
        return async(createGroupCall(name, target, start, settings), Wire::groupInfo);
    }

    private static Call createGroupCall(String name, GroupTarget target, StartPosition start, GroupSettings settings) {
        Objects.requireNonNull(name, "name");
        String targetJson = Wire.targetJson(Objects.requireNonNull(target, "target"));
        Objects.requireNonNull(start, "start");
        String settingsJson = Wire.settingsJson(Objects.requireNonNull(settings, "settings"));
        return (h, f) -> Native.createGroup(h, name, targetJson, start.kind().code(), start.checkpoint(),
                settingsJson, f);
    }

    /** Changes a group's settings (not its target). */
    public GroupInfo updateGroup(String name, GroupSettings settings) {
        return sync(updateGroupCall(name, settings), Wire::groupInfo);
    }

    public CompletableFuture<GroupInfo> updateGroupAsync(String name, GroupSettings settings) {
        return async(updateGroupCall(name, settings), Wire::groupInfo);
    }

    private static Call updateGroupCall(String name, GroupSettings settings) {
        Objects.requireNonNull(name, "name");
        String json = Wire.settingsJson(Objects.requireNonNull(settings, "settings"));
        return (h, f) -> Native.updateGroup(h, name, json, f);
    }

    /** Deletes a group; its members get NOT_FOUND from their next call. */
    public void deleteGroup(String name) {
        Objects.requireNonNull(name, "name");
        sync((h, f) -> Native.deleteGroup(h, name, f), GraveyardClient::none);
    }

    public CompletableFuture<Void> deleteGroupAsync(String name) {
        Objects.requireNonNull(name, "name");
        return async((h, f) -> Native.deleteGroup(h, name, f), GraveyardClient::none);
    }

    /** The state of a group; NOT_FOUND if there is none. */
    public GroupInfo getGroup(String name) {
        Objects.requireNonNull(name, "name");
        return sync((h, f) -> Native.groupInfo(h, name, f), Wire::groupInfo);
    }

    public CompletableFuture<GroupInfo> getGroupAsync(String name) {
        Objects.requireNonNull(name, "name");
        return async((h, f) -> Native.groupInfo(h, name, f), Wire::groupInfo);
    }

    /** The names of every group. */
    public List<String> listGroups() {
        return sync(Native::listGroups, Wire::strings);
    }

    public CompletableFuture<List<String>> listGroupsAsync() {
        return async(Native::listGroups, Wire::strings);
    }

    /** Hands every event waiting in the group's parked stream back to its members. */
    public ReplayInfo replayParked(String group) {
        Objects.requireNonNull(group, "group");
        return sync((h, f) -> Native.replayParked(h, group, -1, f), Wire::replayInfo);
    }

    /**
     * Hands the oldest {@code limit} parked events back to the group's members; a limit below 1
     * is {@link InvalidArgumentException} (the store's rule, checked there).
     */
    public ReplayInfo replayParked(String group, long limit) {
        Objects.requireNonNull(group, "group");
        return sync((h, f) -> Native.replayParked(h, group, limit, f), Wire::replayInfo);
    }

    public CompletableFuture<ReplayInfo> replayParkedAsync(String group) {
        Objects.requireNonNull(group, "group");
        return async((h, f) -> Native.replayParked(h, group, -1, f), Wire::replayInfo);
    }

    public CompletableFuture<ReplayInfo> replayParkedAsync(String group, long limit) {
        Objects.requireNonNull(group, "group");
        return async((h, f) -> Native.replayParked(h, group, limit, f), Wire::replayInfo);
    }

    /** Joins group {@code group} as member {@code member}. Close the member to leave. */
    public GroupMember joinGroup(String group, String member) {
        return sync(joinCall(group, member), raw -> new GroupMember((Long) raw, this, group, member));
    }

    /** {@link #joinGroup}, async. */
    public CompletableFuture<GroupMember> joinGroupAsync(String group, String member) {
        return Calls.asyncOpen(handle, joinCall(group, member), h -> new GroupMember(h, this, group, member));
    }

    private static Call joinCall(String group, String member) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(member, "member");
        return (h, f) -> Native.joinGroup(h, group, member, f);
    }

    // ---- the store itself --------------------------------------------------------------------

    /**
     * A client of the same cluster whose node-scoped calls ($all reads and subscriptions, the head
     * position, groups on $all, key rotation) go to member {@code nodeId} instead of this client's
     * home node; every other call goes where it would anyway. It shares this client's connections:
     * closing it releases it only, closing this client closes both. {@link UnsupportedException}
     * on an embedded store; {@link InvalidArgumentException} when the cluster has no such member.
     */
    public GraveyardClient onNode(String nodeId) {
        Objects.requireNonNull(nodeId, "nodeId");
        long h = handle.call(store -> Native.onNode(store, nodeId));
        return new GraveyardClient(h, description + " on node " + nodeId, true);
    }

    /**
     * Whether the store encrypts at rest (it was opened with a master key).
     * {@link UnsupportedException} on a cluster: encryption is each node's own setting, not visible
     * to clients.
     */
    public boolean isEncrypted() {
        return handle.call(Native::isEncrypted);
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    public boolean isClosed() {
        return handle.isClosed();
    }

    /**
     * Closes the client. Waits for the calls in flight (an embedded append in flight finishes and
     * is durable); later calls throw {@link ClosedException}. Subscriptions and group members are
     * closed on their own. Closing twice is harmless. A client of {@link #onNode} is only released:
     * the store it shares stays open until the client it came from is closed.
     */
    @Override
    public void close() {
        handle.close(null, view ? Native::release : Native::close);
    }

    @Override
    public String toString() {
        return "GraveyardClient{" + description + (isClosed() ? ", closed" : "") + "}";
    }
}
