// The client: one class over an embedded store and a cluster connection (the core's `Store`
// through the N-API addon). It converts arguments and results; every rule is the core's.
import { addon, type NativeCancel, type NativeStore } from "./native";
import { call, type CallOptions } from "./call";
import {
  type AppendResult,
  type Direction,
  type ExpectedVersion,
  type Filter,
  type GroupInfo,
  type GroupSettings,
  type GroupTarget,
  type RegisteredSchema,
  type ReplayInfo,
  type SchemaUpsert,
  type Snapshot,
  type StreamInfo,
  type StreamSummary,
  type StreamMetadata,
  type SubscriptionStart,
  RecordedEvent,
  directionCode,
  expectedVersionCode,
  filterToJson,
  groupInfoFromJson,
  groupSettingsToJson,
  groupTargetToJson,
  parseJsonLossless,
  registeredSchemaFromJson,
  stringifyJsonLossless,
  replayInfoFromJson,
  schemaUpsertFromJson,
  streamInfoFromJson,
  streamSummariesFromJson,
  streamMetadataFromJson,
  streamMetadataToJson,
  subscriptionStartCode,
} from "./model";
import { decodeAppendResult, decodePage, decodeSnapshot, encodeEvents, type EventToEncode } from "./packed";
import { NotFoundError, fromNative } from "./errors";
import { entityNameOf, isEntity, schemaJson, serializeEntity, type EntityClass, type EntityDefinition } from "./schema";
import { GroupMember, Subscription } from "./sessions";

/** Options of an embedded store. */
export interface OpenOptions {
  /** `"fsync"` (default): every acknowledged append is on disk. `"none"`: no fsync, for tests and throwaway data only. */
  durability?: "fsync" | "none";
  /** The most the store may grow to, in bytes (LMDB's map size). */
  mapSize?: number;
  /** The largest event (type, data, metadata and content type together), in bytes. */
  maxEventSize?: number;
  /** The most concurrent read transactions. */
  maxReaders?: number;
  /** The deepest JSON nesting accepted in `application/json` data. */
  maxJsonDepth?: number;
  /** A 32-byte master key: the store encrypts events and snapshots at rest. */
  masterKey?: Uint8Array;
}

/** Options of a cluster connection. */
export interface ConnectOptions {
  /** Sent as a bearer token; never logged. */
  token?: string;
  /** PEM of the CA that signs the nodes' certificates: the connection uses TLS. */
  caPem?: string | Uint8Array;
  connectTimeoutMs?: number;
  /** Longest a unary call may take; absent: no limit. */
  requestTimeoutMs?: number;
  /** Further attempts of an idempotent call on another node when one is down. */
  retries?: number;
  retryBackoffMs?: number;
}

/** An event to append, sent as given. */
export interface EventData {
  /** A UUID naming the event for idempotent retries; absent: the store generates a UUIDv7. */
  id?: string;
  type: string;
  /**
   * A `Uint8Array` is sent as is (content type `application/octet-stream` unless given);
   * a string as UTF-8 (`text/plain`); anything else as JSON (`application/json`).
   */
  data?: unknown;
  /** Bytes, a string (UTF-8) or a value sent as JSON. */
  metadata?: unknown;
  contentType?: string;
}

/** What `append` takes: event data, or instances of entities (`@GraveyardEntity`, `defineEntity`). */
export type AppendInput = EventData | object;

export interface AppendOptions extends CallOptions {
  /** What the stream must be for the append to happen (default `"any"`). */
  expectedVersion?: ExpectedVersion;
}

export interface ReadOptions extends CallOptions {
  direction?: Direction;
  /** The first revision (streams) or position ($all) read, inclusive. */
  from?: bigint;
  /** At most this many events in all. */
  maxCount?: bigint | number;
  /** Events fetched per call into the store (default 1024). */
  pageSize?: number;
}

export interface ReadAllOptions extends ReadOptions {
  filter?: Filter;
}

export interface SubscribeOptions extends CallOptions {
  /** Where history starts (default `"start"`). */
  from?: SubscriptionStart;
  /** Events the store reads per page of history (default: the core's). */
  pageSize?: number;
}

export interface SubscribeToAllOptions extends SubscribeOptions {
  filter?: Filter;
}

export interface CreateGroupOptions extends CallOptions {
  from?: SubscriptionStart;
  settings?: GroupSettings;
}

const DEFAULT_PAGE = 1024;
const ZERO = 0n;

function ignore(): void {
  // A rejection handled elsewhere (see `pages`).
}

/**
 * Events read a page at a time as you iterate, the next page read while you handle the
 * current one (leaving the loop early cancels that read). `pages()` iterates over the pages
 * themselves (one promise per page instead of one per event: the fast way through long
 * reads); `toArray()` reads them all.
 */
export interface EventIterable extends AsyncIterable<RecordedEvent> {
  pages(): AsyncIterable<RecordedEvent[]>;
  toArray(): Promise<RecordedEvent[]>;
}

/**
 * A GraveyardDB store: embedded (`Graveyard.open`) or a cluster (`Graveyard.connect`), with the
 * same operations. Close it with `close()` or `await using`.
 */
export class Graveyard implements AsyncDisposable {
  readonly #native: NativeStore;

  private constructor(native: NativeStore) {
    this.#native = native;
  }

  /** Opens (creating it if needed) an embedded store in the directory `path`. */
  static async open(path: string, options: OpenOptions = {}): Promise<Graveyard> {
    const durability = options.durability ?? "fsync";
    if (durability !== "fsync" && durability !== "none") {
      throw new TypeError(`durability must be "fsync" or "none", not ${String(durability)}`);
    }
    const native = await call(undefined, () =>
      addon.open({
        path,
        durability: durability === "fsync" ? 0 : 1,
        mapSize: options.mapSize,
        maxEventSize: options.maxEventSize,
        maxReaders: options.maxReaders,
        maxJsonDepth: options.maxJsonDepth,
        masterKey: options.masterKey === undefined ? undefined : Buffer.from(options.masterKey),
      }),
    );
    return new Graveyard(native);
  }

  /** Connects to a cluster through any of its nodes (`host:port` or URLs, one or several). */
  static async connect(endpoints: string | readonly string[], options: ConnectOptions = {}): Promise<Graveyard> {
    const list = typeof endpoints === "string" ? endpoints.split(",").map((e) => e.trim()) : [...endpoints];
    const native = await call(undefined, () =>
      addon.connect({
        endpoints: list,
        token: options.token,
        caPem: options.caPem === undefined ? undefined : Buffer.from(options.caPem),
        connectTimeoutMs: options.connectTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
        retries: options.retries,
        retryBackoffMs: options.retryBackoffMs,
      }),
    );
    return new Graveyard(native);
  }

  /** Whether this is an embedded store (else a cluster connection). */
  get embedded(): boolean {
    return this.#native.embedded;
  }

  /**
   * The same cluster connection with its node-scoped calls (`$all`, the head position, groups
   * on `$all`) sent to member `nodeId`. Closing it closes the shared connection.
   */
  onNode(nodeId: string): Graveyard {
    return new Graveyard(sync(() => this.#native.onNode(nodeId)));
  }

  /** Whether the embedded store encrypts at rest. */
  isEncrypted(): boolean {
    return sync(() => this.#native.isEncrypted());
  }

  /** Closes the store: its sessions end, later calls fail with `ClosedError`. Closing twice is harmless. */
  async close(): Promise<void> {
    await call(undefined, () => this.#native.close());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Appends events atomically if `expectedVersion` holds. `events`: one or many event data or
   * entity instances (an instance is sent as JSON with its entity name as the event type).
   */
  async append(stream: string, events: AppendInput | readonly AppendInput[], options: AppendOptions = {}): Promise<AppendResult> {
    const list = Array.isArray(events) ? (events as readonly AppendInput[]) : [events as AppendInput];
    const packed = encodeEvents(list.map(toEncodable));
    const [kind, revision] = expectedVersionCode(options.expectedVersion ?? "any");
    const result = await call(options.signal, (t) => this.#native.append(stream, kind, revision, packed, t));
    return decodeAppendResult(result);
  }

  /**
   * A stream's events, read a page at a time as you iterate. A stream with no visible events
   * (never written, or soft-deleted) yields nothing (`streamInfo` tells which); a tombstoned one
   * throws `StreamDeletedError`.
   */
  readStream(stream: string, options: ReadOptions = {}): EventIterable {
    return pages(options, (from, limit, t) =>
      this.#native.readStream(stream, directionCode(options.direction ?? "forwards"), from, limit, t),
      (e) => e.revision, true);
  }

  /** The global log ($all; on a cluster, that of this connection's node), a page at a time. */
  readAll(options: ReadAllOptions = {}): EventIterable {
    const filter = options.filter === undefined ? null : JSON.stringify(filterToJson(options.filter));
    return pages(options, (from, limit, t) =>
      this.#native.readAll(directionCode(options.direction ?? "forwards"), from, limit, filter, t),
      (e) => e.position, false);
  }

  /**
   * One read of a stream in one call: at most `maxCount` events (absent: all of them, in one
   * buffer) from `from`. Unlike `readStream`, a stream with no visible events (never written,
   * soft-deleted, or every event hidden by its metadata) throws `NotFoundError`.
   */
  async readStreamPage(stream: string, options: ReadOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.maxCount === undefined ? null : BigInt(options.maxCount);
    const direction = directionCode(options.direction ?? "forwards");
    return decodePage(await call(options.signal, (t) => this.#native.readStream(stream, direction, options.from ?? null, limit, t)));
  }

  /** One read of the global log in one call: at most `maxCount` events (absent: all of them) from `from`. */
  async readAllPage(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.maxCount === undefined ? null : BigInt(options.maxCount);
    const direction = directionCode(options.direction ?? "forwards");
    const filter = options.filter === undefined ? null : JSON.stringify(filterToJson(options.filter));
    return decodePage(await call(options.signal, (t) => this.#native.readAll(direction, options.from ?? null, limit, filter, t)));
  }

  /** The position the next event of $all gets. */
  async headPosition(options: CallOptions = {}): Promise<bigint> {
    return call(options.signal, (t) => this.#native.headPosition(t));
  }

  /**
   * One page of the streams this store holds (on a cluster, those of this client's node:
   * `onNode` lists the others): names starting with `prefix`, in byte order, after `after` (the
   * last name of the previous page), at most `limit` (1 to 10,000; default 1,000). A page
   * shorter than `limit` is the last.
   */
  async listStreams(
    options: CallOptions & { prefix?: string; after?: string; limit?: bigint | number } = {},
  ): Promise<StreamSummary[]> {
    // Absent: the core's default (1,000).
    const limit = options.limit === undefined ? null : BigInt(options.limit);
    const page = await call(options.signal, (t) =>
      this.#native.listStreams(options.prefix ?? "", options.after ?? null, limit, t),
    );
    return streamSummariesFromJson(parseJsonLossless(page));
  }

  async streamInfo(stream: string, options: CallOptions = {}): Promise<StreamInfo> {
    return streamInfoFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.streamInfo(stream, t))));
  }

  /** Replaces the stream's metadata (allowed before the stream exists). */
  async setStreamMetadata(stream: string, metadata: StreamMetadata, options: CallOptions = {}): Promise<void> {
    const json = stringifyJsonLossless(streamMetadataToJson(metadata));
    await call(options.signal, (t) => this.#native.setStreamMetadata(stream, json, t));
  }

  async getStreamMetadata(stream: string, options: CallOptions = {}): Promise<StreamMetadata> {
    return streamMetadataFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.getStreamMetadata(stream, t))));
  }

  /** Soft delete: the stream reads as empty; appending again continues its revisions. */
  async deleteStream(stream: string, options: AppendOptions = {}): Promise<void> {
    const [kind, revision] = expectedVersionCode(options.expectedVersion ?? "any");
    await call(options.signal, (t) => this.#native.deleteStream(stream, kind, revision, t));
  }

  /** Tombstone: the stream is gone for good; every later use fails with `StreamDeletedError`. */
  async tombstoneStream(stream: string, options: AppendOptions = {}): Promise<void> {
    const [kind, revision] = expectedVersionCode(options.expectedVersion ?? "any");
    await call(options.signal, (t) => this.#native.tombstoneStream(stream, kind, revision, t));
  }

  /** Crypto-shredding: destroys the stream's data key; its events read back shredded. */
  async shredStream(stream: string, options: CallOptions = {}): Promise<void> {
    await call(options.signal, (t) => this.#native.shredStream(stream, t));
  }

  /** Rewraps every data key under a new 32-byte master key. */
  async rotateMasterKey(newKey: Uint8Array, options: CallOptions = {}): Promise<void> {
    await call(options.signal, (t) => this.#native.rotateMasterKey(newKey, t));
  }

  async saveSnapshot(stream: string, revision: bigint, data: Uint8Array | string, options: CallOptions = {}): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    await call(options.signal, (t) => this.#native.saveSnapshot(stream, revision, bytes, t));
  }

  /** The stream's latest snapshot, or undefined when it has none. */
  async getSnapshot(stream: string, options: CallOptions = {}): Promise<Snapshot | undefined> {
    const packed = await call(options.signal, (t) => this.#native.getSnapshot(stream, t));
    return packed === null ? undefined : decodeSnapshot(packed);
  }

  /**
   * Registers a schema: an entity class (`@GraveyardEntity`), an entity definition
   * (`defineEntity`), or a definition in the core's JSON form (an object or its text).
   */
  async upsertSchema(schema: EntityClass | EntityDefinition | string | object, options: CallOptions = {}): Promise<SchemaUpsert> {
    const json = typeof schema === "string" ? schema : schemaText(schema);
    return schemaUpsertFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.upsertSchema(json, t))));
  }

  /** A schema's version (the latest when `version` is absent). */
  async getSchema(name: string, version?: number, options: CallOptions = {}): Promise<RegisteredSchema> {
    return registeredSchemaFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.getSchema(name, version, t))));
  }

  /** The latest version of every schema, by name. */
  async listSchemas(options: CallOptions = {}): Promise<RegisteredSchema[]> {
    const list = parseJsonLossless(await call(options.signal, (t) => this.#native.listSchemas(t))) as unknown[];
    return list.map(registeredSchemaFromJson);
  }

  async createGroup(name: string, target: GroupTarget, options: CreateGroupOptions = {}): Promise<GroupInfo> {
    const [kind, after] = subscriptionStartCode(options.from ?? "start");
    const targetJson = JSON.stringify(groupTargetToJson(target));
    const settings = stringifyJsonLossless(groupSettingsToJson(options.settings ?? {}));
    return groupInfoFromJson(
      parseJsonLossless(await call(options.signal, (t) => this.#native.createGroup(name, targetJson, kind, after, settings, t))),
    );
  }

  /** Replaces the group's settings (what is left out takes the store's default); never its target. */
  async updateGroup(name: string, settings: GroupSettings, options: CallOptions = {}): Promise<GroupInfo> {
    const json = stringifyJsonLossless(groupSettingsToJson(settings));
    return groupInfoFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.updateGroup(name, json, t))));
  }

  async deleteGroup(name: string, options: CallOptions = {}): Promise<void> {
    await call(options.signal, (t) => this.#native.deleteGroup(name, t));
  }

  async groupInfo(name: string, options: CallOptions = {}): Promise<GroupInfo> {
    return groupInfoFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.groupInfo(name, t))));
  }

  async listGroups(options: CallOptions = {}): Promise<string[]> {
    return JSON.parse(await call(options.signal, (t) => this.#native.listGroups(t))) as string[];
  }

  /** Hands parked events back to the group's members (at most `limit` of them). */
  async replayParked(name: string, options: CallOptions & { limit?: bigint | number } = {}): Promise<ReplayInfo> {
    const limit = options.limit === undefined ? undefined : BigInt(options.limit);
    return replayInfoFromJson(parseJsonLossless(await call(options.signal, (t) => this.#native.replayParked(name, limit, t))));
  }

  /** A stream's history from `from`, a caught-up marker, then its live events. */
  async subscribeToStream(stream: string, options: SubscribeOptions = {}): Promise<Subscription> {
    const [kind, after] = subscriptionStartCode(options.from ?? "start");
    const native = await call(options.signal, (t) => this.#native.subscribeToStream(stream, kind, after, options.pageSize ?? 0, t));
    return new Subscription(native, options.signal);
  }

  /** $all's history from `from` (filtered), a caught-up marker, then live events. */
  async subscribeToAll(options: SubscribeToAllOptions = {}): Promise<Subscription> {
    const [kind, after] = subscriptionStartCode(options.from ?? "start");
    const filter = options.filter === undefined ? null : JSON.stringify(filterToJson(options.filter));
    const native = await call(options.signal, (t) => this.#native.subscribeToAll(kind, after, filter, options.pageSize ?? 0, t));
    return new Subscription(native, options.signal);
  }

  /** Joins consumer group `group` as `member`: deliveries to ack, nack, park or skip. */
  async joinGroup(group: string, member: string, options: CallOptions = {}): Promise<GroupMember> {
    const native = await call(options.signal, (t) => this.#native.joinGroup(group, member, t));
    return new GroupMember(native, options.signal);
  }
}

/** Runs a synchronous call of the addon, mapping its error. */
function sync<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

/** An entity's schema (its own errors, which name the field, go through) or a definition's JSON form. */
function schemaText(schema: object): string {
  if (typeof schema === "function" || isEntity(schema)) {
    return schemaJson(schema as EntityClass | EntityDefinition);
  }
  return stringifyJsonLossless(schema);
}

const textEncoder = new TextEncoder();

/** Event data or an entity instance, as the packed encoder takes it. */
function toEncodable(input: AppendInput, index: number): EventToEncode {
  if (input === null || typeof input !== "object") {
    throw new TypeError(`event ${index}: an event data object or an entity instance, not ${input === null ? "null" : typeof input}`);
  }
  if (entityNameOf(input) !== undefined) {
    const { type, data } = serializeEntity(input);
    return { type, contentType: "application/json", data, metadata: EMPTY };
  }
  const e = input as EventData;
  if (typeof e.type !== "string") {
    throw new TypeError(`event ${index}: neither an entity instance nor event data with a string \`type\``);
  }
  const [data, contentType] = payload(e.data);
  return {
    id: e.id,
    type: e.type,
    contentType: e.contentType ?? contentType,
    data,
    metadata: e.metadata === undefined ? EMPTY : payload(e.metadata)[0],
  };
}

const EMPTY = new Uint8Array(0);

/**
 * A value as JSON text: JSON.stringify (native, the fast path of every append of objects), or,
 * when the value holds bigints (which JSON.stringify refuses), the lossless writer, which
 * writes them as exact integers.
 */
function jsonText(value: unknown): string {
  let text: string | undefined;
  try {
    // The declared type says string; a function, a symbol or undefined give undefined.
    text = JSON.stringify(value);
  } catch (e) {
    if (e instanceof TypeError && /BigInt/i.test(e.message)) return stringifyJsonLossless(value);
    throw e;
  }
  if (text === undefined) throw new TypeError(`${typeof value} is not a value JSON can hold`);
  return text;
}

function payload(value: unknown): [Uint8Array, string] {
  if (value === undefined) return [EMPTY, "application/json"];
  if (value instanceof Uint8Array) return [value, "application/octet-stream"];
  if (typeof value === "string") return [textEncoder.encode(value), "text/plain"];
  return [textEncoder.encode(jsonText(value)), "application/json"];
}

/** A page read by `pages`, with the token that stops it. */
interface PageRead {
  readonly page: Promise<Buffer>;
  readonly token: NativeCancel;
}

/**
 * Iterates page after page, each from where the last ended, until `maxCount` or the end. The
 * next page is read while the caller handles the current one (the native read runs on the
 * core's threads while the event loop decodes), so at most two pages are held at once; a page
 * shorter than asked for ends the iteration, as does reaching revision (or position) 0
 * backwards, and nothing is read past either. Leaving early (break, `return()`, a throw in the
 * caller's loop) cancels the page read ahead.
 * @internal Exported for the tests (test/pages.test.ts), not by index.ts.
 */
export function pages(
  options: ReadOptions,
  read: (from: bigint | null, limit: bigint, token: NativeCancel | undefined) => Promise<Buffer>,
  cursor: (e: RecordedEvent) => bigint,
  notFoundIsEmpty: boolean,
): EventIterable {
  const pageSize = BigInt(Math.max(1, options.pageSize ?? DEFAULT_PAGE));
  const backwards = (options.direction ?? "forwards") === "backwards";
  const start = (from: bigint | null, n: bigint): PageRead => {
    // Each read has its own token, not only when there is a signal: an iterator left early
    // must be able to stop the read it started ahead, or close() would wait for it.
    const token = new addon.NativeCancel();
    const page = call(options.signal, (t) => read(from, n, t), token);
    // Marked handled at once: a read ahead that is cancelled, or left in flight by a caller who
    // drops the iterator without return(), must not fail as an unhandled rejection. Awaiting
    // it still throws.
    page.catch(ignore);
    return { page, token };
  };
  async function* pageIterator(): AsyncGenerator<RecordedEvent[], void, undefined> {
    let from: bigint | null = options.from ?? null;
    let left: bigint | null = options.maxCount === undefined ? null : BigInt(options.maxCount);
    const limit = (): bigint => (left !== null && left < pageSize ? left : pageSize);
    let n = limit();
    let ahead: PageRead | null = left === null || left > ZERO ? start(from, n) : null;
    try {
      while (ahead !== null) {
        const current = ahead;
        ahead = null;
        let page: RecordedEvent[];
        try {
          page = decodePage(await current.page);
        } catch (e) {
          // No visible events is an empty stream to an iterator; a stream deleted between two
          // pages ends the read where it was.
          if (notFoundIsEmpty && e instanceof NotFoundError) return;
          throw e;
        }
        if (BigInt(page.length) === n) {
          if (left !== null) left -= n;
          const last = cursor(page[page.length - 1]);
          const more = left === null || left > ZERO;
          if (more && !(backwards && last === ZERO)) {
            from = backwards ? last - 1n : last + 1n;
            n = limit();
            ahead = start(from, n);
          }
        }
        if (page.length > 0) yield page;
      }
    } finally {
      // A read still ahead here means the caller left early: nothing of it may be left
      // running for close() to wait on. Not awaited, so that leaving never waits for the
      // native side; its rejection (CANCELLED) is already marked handled.
      ahead?.token.cancel();
    }
  }
  async function* events(): AsyncGenerator<RecordedEvent, void, undefined> {
    for await (const page of pageIterator()) yield* page;
  }
  return {
    [Symbol.asyncIterator]: events,
    pages: pageIterator,
    async toArray(): Promise<RecordedEvent[]> {
      const all: RecordedEvent[] = [];
      for await (const page of pageIterator()) {
        for (const e of page) all.push(e);
      }
      return all;
    },
  };
}
