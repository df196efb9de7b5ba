// The model of the SDK: what users write and read back, the numeric codes of the enums that
// cross the native boundary, and the JSON forms of the structured values (docs/boundary.md).
//
// Conventions, everywhere:
// - every u64 of the core (revisions, positions, checkpoints, counts) is a bigint, every u32
//   (schema versions, attempts, settings) a number; durations are whole milliseconds, numbers,
//   in fields named ...Ms, as at the boundary;
// - the string values of enums are the core's JSON names ('no_stream', 'pinned_by_stream'), so
//   they read the same in the docs, in JSON and in every SDK;
// - *FromJson read the core's JSON output (as parsed by parseJsonLossless) and ignore fields
//   they do not know; a value of the wrong shape is an InternalError (the native layer ships
//   with the SDK, so it is a bug). *ToJson build the core's JSON input from user values (write
//   it with stringifyJsonLossless: it holds bigints) and throw a TypeError or RangeError for a
//   value of the wrong type or range.
//
// errors.ts and this module use each other, only inside function bodies (never at module top
// level), so either can be loaded first.

import { isUtf8 } from 'node:buffer';

import { InternalError, ShreddedError } from './errors';

// ---- codes -------------------------------------------------------------------------------------

/** The numbers of the enums that cross the native boundary (docs/boundary.md, "Codes"). */
export const EXPECTED_VERSION_CODES = { any: 0, no_stream: 1, stream_exists: 2, exact: 3 } as const;
export const DIRECTION_CODES = { forwards: 0, backwards: 1 } as const;
export const SUBSCRIPTION_START_CODES = { start: 0, end: 1, after: 2 } as const;
export const NACK_ACTION_CODES = { retry: 1, park: 2, skip: 3 } as const;
export const GROUP_STRATEGY_CODES = { round_robin: 0, pinned_by_stream: 1 } as const;
export const DURABILITY_CODES = { fsync: 0, no_fsync_unsafe: 1 } as const;

const U64_MAX = (1n << 64n) - 1n;

/** `value` as a u64, else a TypeError (not a bigint) or RangeError (outside 0..2^64-1). */
export function checkU64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint') {
    throw new TypeError(`${what} must be a bigint (e.g. 5n), not ${describe(value)}`);
  }
  if (value < 0n || value > U64_MAX) {
    throw new RangeError(`${what} must be from 0 to 2^64-1, not ${value}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'bigint') {
    return `${value}n`;
  }
  if (typeof value === 'object' && value !== null) {
    return Array.isArray(value) ? 'an array' : 'an object';
  }
  return `${typeof value === 'number' ? 'the number ' : ''}${String(value)}`;
}

function choice<T extends string>(value: unknown, table: { readonly [K in T]: number }, what: string): number {
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(table, value)) {
    return table[value as T];
  }
  const names = Object.keys(table).map((k) => `'${k}'`);
  throw new TypeError(`${what} must be ${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}, not ${describe(value)}`);
}

// ---- expected version, current revision -----------------------------------------------------

/**
 * The optimistic-concurrency condition of a write: `'any'` always passes, `'no_stream'` when
 * the stream has no events, `'stream_exists'` when it has, a bigint when its last revision is
 * exactly that one.
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** A stream's last revision, or `'no_stream'` when it has no visible events. */
export type CurrentRevision = bigint | 'no_stream';

/** The boundary's (kind, revision) of an expected version; the revision is 0n but for exact. */
export function expectedVersionCode(expected: ExpectedVersion): [kind: number, revision: bigint] {
  if (typeof expected === 'bigint') {
    return [EXPECTED_VERSION_CODES.exact, checkU64(expected, 'an exact expected version')];
  }
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') {
    return [EXPECTED_VERSION_CODES[expected], 0n];
  }
  throw new TypeError(
    `an expected version must be 'any', 'no_stream', 'stream_exists' or a revision as a bigint (e.g. 5n), not ${describe(expected)}`,
  );
}

/** `"any"`, `"no_stream"`, `"stream_exists"` or `{"exact": n}`. */
export function expectedVersionToJson(expected: ExpectedVersion): string | { exact: bigint } {
  const [kind, revision] = expectedVersionCode(expected);
  return kind === EXPECTED_VERSION_CODES.exact ? { exact: revision } : (expected as string);
}

export function expectedVersionFromJson(json: unknown): ExpectedVersion {
  if (json === 'any' || json === 'no_stream' || json === 'stream_exists') {
    return json;
  }
  if (isRecord(json) && Object.keys(json).length === 1 && 'exact' in json) {
    return u64(json.exact, 'an exact expected version');
  }
  return malformed('an expected version', json);
}

/** `"no_stream"` or the revision. */
export function currentRevisionToJson(current: CurrentRevision): string | bigint {
  return current === 'no_stream' ? current : checkU64(current, 'a current revision');
}

export function currentRevisionFromJson(json: unknown): CurrentRevision {
  return json === 'no_stream' ? json : u64(json, 'a current revision');
}

// ---- other enums ------------------------------------------------------------------------------

export type Direction = 'forwards' | 'backwards';

export function directionCode(direction: Direction): number {
  return choice(direction, DIRECTION_CODES, 'a direction');
}

/**
 * Where a subscription starts: the first event, only events committed after it is made, or
 * after a checkpoint (the revision, or the $all position, of the last event processed).
 */
export type SubscriptionStart = 'start' | 'end' | { after: bigint };

/** The boundary's (kind, checkpoint) of a start; the checkpoint is 0n but for after. */
export function subscriptionStartCode(start: SubscriptionStart): [kind: number, after: bigint] {
  if (start === 'start' || start === 'end') {
    return [SUBSCRIPTION_START_CODES[start], 0n];
  }
  if (isRecord(start) && 'after' in start) {
    return [SUBSCRIPTION_START_CODES.after, checkU64(start.after, 'a subscription start after')];
  }
  throw new TypeError(`a subscription start must be 'start', 'end' or { after: n } with a bigint n, not ${describe(start)}`);
}

/** `"start"`, `"end"` or `{"after": n}`. */
export function subscriptionStartToJson(start: SubscriptionStart): string | { after: bigint } {
  const [kind, after] = subscriptionStartCode(start);
  return kind === SUBSCRIPTION_START_CODES.after ? { after } : (start);
}

export function subscriptionStartFromJson(json: unknown): SubscriptionStart {
  if (json === 'start' || json === 'end') {
    return json;
  }
  if (isRecord(json) && Object.keys(json).length === 1 && 'after' in json) {
    return { after: u64(json.after, 'a subscription start after') };
  }
  return malformed('a subscription start', json);
}

/** What a nack does: deliver again (parked once out of retries), park now, or settle unprocessed. */
export type NackAction = 'retry' | 'park' | 'skip';

export function nackActionCode(action: NackAction): number {
  return choice(action, NACK_ACTION_CODES, 'a nack action');
}

/** How a group shares events: to the next member asking, or each stream to one member, in order. */
export type GroupStrategy = 'round_robin' | 'pinned_by_stream';

export function groupStrategyCode(strategy: GroupStrategy): number {
  return choice(strategy, GROUP_STRATEGY_CODES, 'a group strategy');
}

/** Of an embedded store: fsync every commit, or never (tests and throwaway data only). */
export type Durability = 'fsync' | 'no_fsync_unsafe';

export function durabilityCode(durability: Durability): number {
  return choice(durability, DURABILITY_CODES, 'a durability');
}

// ---- events -----------------------------------------------------------------------------------

/** The content type of JSON events, the only one `RecordedEvent.json()` reads. */
export const CONTENT_TYPE_JSON = 'application/json';
/** The content type of opaque bytes. */
export const CONTENT_TYPE_BINARY = 'application/octet-stream';

/** The fields of a recorded event as values (RecordedEvent.toFields; packed.ts's newRecordedEvent and encodePage). */
export interface RecordedEventFields {
  stream: string;
  revision: bigint;
  position: bigint;
  timestampMicros: bigint;
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  shredded: boolean;
  schemaVersion: number | undefined;
}

const EMPTY: Buffer = Buffer.alloc(0);
const TWO_32 = 4294967296;

// A UUID's text is written as ASCII into one scratch buffer and decoded once: a flat string,
// about half the time of concatenating 20 pieces, whose rope V8 would flatten again on the
// first comparison or Map lookup (several times that). Each byte's two hex digits are one
// table entry (low byte first), written where the 8-4-4-4-12 layout puts them.
const HEX_PAIR = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  const digits = (i < 16 ? '0' : '') + i.toString(16);
  HEX_PAIR[i] = digits.charCodeAt(0) | (digits.charCodeAt(1) << 8);
}
const UUID_DIGITS_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
// Its own memory (Buffer.from would take a slice of Node's shared pool): the last id formatted
// stays out of an ArrayBuffer that unrelated Buffers, and whoever reads their `.buffer`, share.
// The hyphens are the bytes the digits never overwrite.
const UUID_TEXT = Buffer.alloc(36, '-');

/** The canonical text (lowercase, hyphenated) of the 16 bytes at `at`. */
export function formatUuid(b: Uint8Array, at = 0): string {
  if (at < 0 || at + 16 > b.length) {
    throw new RangeError(`a UUID needs 16 bytes at ${at}, the array has ${b.length}`);
  }
  for (let i = 0; i < 16; i++) {
    const pair = HEX_PAIR[b[at + i]];
    const p = UUID_DIGITS_AT[i];
    UUID_TEXT[p] = pair;
    UUID_TEXT[p + 1] = pair >>> 8;
  }
  return UUID_TEXT.toString('latin1', 0, 36);
}

function u32At(b: Buffer, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 0x1000000;
}

/**
 * A u64 at `at` as a bigint: one BigInt conversion of a double while it is below 2^53 (every
 * real revision and position), readBigUInt64LE above.
 */
function readU64(b: Buffer, at: number): bigint {
  const hi = u32At(b, at + 4);
  return hi < 0x200000 ? BigInt(hi * TWO_32 + u32At(b, at)) : b.readBigUInt64LE(at);
}

function readI64(b: Buffer, at: number): bigint {
  const hi = b.readInt32LE(at + 4);
  return hi < 0x200000 && hi >= -0x200000 ? BigInt(hi * TWO_32 + u32At(b, at)) : b.readBigInt64LE(at);
}

/**
 * The UTF-8 string of the `len` bytes at `at`. docs/boundary.md refuses a `str` that is not
 * UTF-8, which Buffer would decode with U+FFFD in place of the bad bytes: a decoded string with
 * no U+FFFD and one character per byte was ASCII, anything else is checked (isUtf8).
 * @internal
 */
export function utf8At(b: Buffer, at: number, len: number): string {
  const value = b.toString('utf8', at, at + len);
  if ((value.length !== len || value.includes('\uFFFD')) && !isUtf8(b.subarray(at, at + len))) {
    throw new InternalError(
      `damaged buffer from GraveyardDB's native layer: a string that is not UTF-8 at offset ${at} of ${b.length} bytes`,
    );
  }
  return value;
}

/**
 * The strings of one page (or batch), shared by its events: stream names, event types and
 * content types repeat within a page, so a string whose bytes equal those of one decoded
 * before is that string, compared in a short loop instead of decoding (and keeping) a copy
 * per event. Direct-mapped, 64 slots keyed by the length and the end bytes; a collision is a
 * miss, never a wrong string. For packed.ts's decoders.
 * @internal
 */
export class PageStrings {
  /** The page (or batch) the strings are in. */
  readonly page: Buffer;
  // Allocated on first use: a page whose strings nobody reads costs nothing.
  #at: Float64Array | undefined;
  #len: Float64Array | undefined;
  #value: string[] | undefined;

  constructor(page: Buffer) {
    this.page = page;
  }

  /** The UTF-8 string of the `len` bytes at `at` of the page. */
  get(at: number, len: number): string {
    if (len === 0) {
      return '';
    }
    const b = this.page;
    const slot = (len + b[at] * 7 + b[at + len - 1] * 13) & 63;
    let lens = this.#len;
    if (lens === undefined) {
      lens = this.#len = new Float64Array(64).fill(-1);
      this.#at = new Float64Array(64);
      this.#value = new Array<string>(64).fill('');
    } else if (lens[slot] === len) {
      const other = this.#at![slot];
      let k = 0;
      while (k < len && b[at + k] === b[other + k]) {
        k++;
      }
      if (k === len) {
        return this.#value![slot];
      }
    }
    const value = utf8At(b, at, len);
    this.#at![slot] = at;
    lens[slot] = len;
    this.#value![slot] = value;
    return value;
  }
}

/**
 * An event as stored.
 *
 * A view of the packed page it came in: the page decoder checks every length and flag of the
 * page, and each field is read from the page when it is accessed. So reading a page costs what
 * the caller reads of it (100,000 events need not mean 100,000 ids and 300,000 bigints), and an
 * event is a small object (the collector copies less of a large page). Strings are shared by
 * the page (PageStrings): accessing one again costs a short comparison, not a new string; a
 * bigint, an id or a Date is a new value on each access (read them once in hot loops).
 *
 * `data` and `metadata` are views into the page (zero-copy; a new view on each access, of the
 * same bytes): they share its memory, so a page stays in memory while any of its events is
 * reachable, and writing into them writes into the page (copy them, `Buffer.from(e.data)`, to
 * keep a few events of a large page). Build events for tests with `newRecordedEvent` (packed.ts).
 * The fields are accessors, so compare events by `toFields()`, not by deepEqual of the objects.
 */
export class RecordedEvent {
  // The page (through its strings), where in it the event starts (its stream's length prefix)
  // and where its data's length prefix is (which the decoder has found: the data is what a
  // reader reads most, and reaching it would walk three lengths): every other field is at an
  // offset that follows from the lengths before it. Three fields, so that a page of many events
  // is little for the collector to copy.
  readonly #strings: PageStrings;
  readonly #start: number;
  readonly #data: number;

  /**
   * For the decoders of packed.ts, which have checked every length and flag of the event at
   * `start` of `strings.page` and found its data's length prefix at `data`; build events from
   * values with `newRecordedEvent`.
   * @internal
   */
  constructor(strings: PageStrings, start: number, data: number) {
    this.#strings = strings;
    this.#start = start;
    this.#data = data;
  }

  /** Where the revision is: after the stream name. */
  #at(): number {
    return this.#start + 4 + u32At(this.#strings.page, this.#start);
  }

  /** Where the content type's length prefix is: after the type. */
  #contentTypeAt(): number {
    const t = this.#at() + 40;
    return t + 4 + u32At(this.#strings.page, t);
  }

  /** Where the data's length prefix is: after the content type. */
  #dataAt(): number {
    return this.#data;
  }

  /** Where the metadata's length prefix is: after the data. */
  #metadataAt(): number {
    const d = this.#dataAt();
    return d + 4 + u32At(this.#strings.page, d);
  }

  /** Where the flags are: after the metadata. */
  #flagsAt(): number {
    const m = this.#metadataAt();
    return m + 4 + u32At(this.#strings.page, m);
  }

  /** The bytes of the length-prefixed field at `at`: a view of the page, or EMPTY. */
  #bytes(at: number): Buffer {
    const len = u32At(this.#strings.page, at);
    return len === 0 ? EMPTY : this.#strings.page.subarray(at + 4, at + 4 + len);
  }

  #text(at: number): string {
    return this.#strings.get(at + 4, u32At(this.#strings.page, at));
  }

  /** The stream's name. */
  get stream(): string {
    return this.#text(this.#start);
  }

  /** The event type. */
  get type(): string {
    return this.#text(this.#at() + 40);
  }

  get contentType(): string {
    return this.#text(this.#contentTypeAt());
  }

  /** Its place in its stream, from 0. */
  get revision(): bigint {
    return readU64(this.#strings.page, this.#at());
  }

  /** Its place in the global log ($all; on a cluster, its owner node's log), from 0. */
  get position(): bigint {
    return readU64(this.#strings.page, this.#at() + 8);
  }

  /** Commit time, unix microseconds. */
  get timestampMicros(): bigint {
    return readI64(this.#strings.page, this.#at() + 16);
  }

  /** Commit time, to the millisecond. */
  get timestamp(): Date {
    const p = this.#strings.page;
    const at = this.#at() + 16;
    // Exact below 2^53 µs (285 years from 1970), no bigint on the way.
    const micros = p.readInt32LE(at + 4) * TWO_32 + u32At(p, at);
    return new Date(Math.floor(micros / 1000));
  }

  /** Its UUID, lowercase and hyphenated. */
  get id(): string {
    return formatUuid(this.#strings.page, this.#at() + 24);
  }

  /** Its data: a view into the page (see the class). Empty when shredded. */
  get data(): Buffer {
    return this.#bytes(this.#dataAt());
  }

  /** Its metadata: a view into the page (see the class). Empty when none or shredded. */
  get metadata(): Buffer {
    return this.#bytes(this.#metadataAt());
  }

  /** The stream's key was destroyed: data and metadata are empty, json() and text() throw. */
  get shredded(): boolean {
    return this.#strings.page[this.#flagsAt()] !== 0;
  }

  /** The version of the schema the data was validated against; undefined when its type named none. */
  get schemaVersion(): number | undefined {
    const v = u32At(this.#strings.page, this.#flagsAt() + 1);
    return v === 0 ? undefined : v;
  }

  #requireData(what: string): void {
    if (this.shredded) {
      throw new ShreddedError(
        `${what}: event ${this.id} (revision ${this.revision} of stream '${this.stream}') was shredded: its data is gone`,
        { stream: this.stream, revision: this.revision },
      );
    }
  }

  /**
   * Its data parsed as JSON (JSON.parse: integers beyond 2^53 lose precision; read them with
   * `parseJsonLossless(e.text())`). Throws a ShreddedError when shredded, a TypeError when its
   * content type is not application/json, a SyntaxError when the data is not JSON.
   */
  json<T = unknown>(): T {
    this.#requireData('json()');
    if (this.contentType !== CONTENT_TYPE_JSON) {
      throw new TypeError(
        `json(): event ${this.id} (revision ${this.revision} of stream '${this.stream}') has content type '${this.contentType}', not ${CONTENT_TYPE_JSON}`,
      );
    }
    return this.#parse(this.#dataAt(), 'data');
  }

  /** Its data as UTF-8 text. Throws a ShreddedError when shredded. */
  text(): string {
    this.#requireData('text()');
    const at = this.#dataAt();
    return this.#strings.page.toString('utf8', at + 4, at + 4 + u32At(this.#strings.page, at));
  }

  /** Its metadata parsed as JSON, undefined when it has none. Throws a ShreddedError when shredded. */
  metadataJson<T = unknown>(): T | undefined {
    this.#requireData('metadataJson()');
    const at = this.#metadataAt();
    return u32At(this.#strings.page, at) === 0 ? undefined : this.#parse<T>(at, 'metadata');
  }

  /** Parses the length-prefixed field at `at` as JSON. */
  #parse<T>(at: number, what: string): T {
    const p = this.#strings.page;
    try {
      return JSON.parse(p.toString('utf8', at + 4, at + 4 + u32At(p, at))) as T;
    } catch (e) {
      throw new SyntaxError(
        `event ${this.id} (revision ${this.revision} of stream '${this.stream}'): its ${what} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
  }

  /** Every field as a value (bigints, Buffers): for inspection and comparisons in tests. */
  toFields(): RecordedEventFields {
    return {
      stream: this.stream,
      revision: this.revision,
      position: this.position,
      timestampMicros: this.timestampMicros,
      id: this.id,
      type: this.type,
      contentType: this.contentType,
      data: this.data,
      metadata: this.metadata,
      shredded: this.shredded,
      schemaVersion: this.schemaVersion,
    };
  }

  /** For JSON.stringify (loggers): bigints as decimal strings, bytes as base64. */
  toJSON(): Record<string, unknown> {
    return {
      stream: this.stream,
      revision: String(this.revision),
      position: String(this.position),
      timestampMicros: String(this.timestampMicros),
      id: this.id,
      type: this.type,
      contentType: this.contentType,
      data: this.data.toString('base64'),
      metadata: this.metadata.toString('base64'),
      shredded: this.shredded,
      schemaVersion: this.schemaVersion ?? null,
    };
  }

  // console.log and util.inspect show the fields, not the page and offsets.
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: unknown, inspect: (v: unknown, o: unknown) => string): string {
    return `RecordedEvent ${inspect(this.toFields(), options)}`;
  }
}

/** Where an append's events landed. */
export interface AppendResult {
  firstRevision: bigint;
  lastRevision: bigint;
  firstPosition: bigint;
  lastPosition: bigint;
}

export function appendResultFromJson(json: unknown): AppendResult {
  const o = object(json, 'an append result');
  return {
    firstRevision: u64(o.first_revision, 'first_revision'),
    lastRevision: u64(o.last_revision, 'last_revision'),
    firstPosition: u64(o.first_position, 'first_position'),
    lastPosition: u64(o.last_position, 'last_position'),
  };
}

export function appendResultToJson(r: AppendResult): Record<string, bigint> {
  return {
    first_revision: checkU64(r.firstRevision, 'firstRevision'),
    last_revision: checkU64(r.lastRevision, 'lastRevision'),
    first_position: checkU64(r.firstPosition, 'firstPosition'),
    last_position: checkU64(r.lastPosition, 'lastPosition'),
  };
}

/** The saved state of a stream at a revision. `data` is a view into the buffer it came in. */
export interface Snapshot {
  stream: string;
  revision: bigint;
  /** Save time, unix microseconds. */
  timestampMicros: bigint;
  /** Save time, to the millisecond. */
  timestamp: Date;
  data: Buffer;
}

/** What a subscription hands out: an event, or the marker that it has caught up with the live end. */
export type SubscriptionMessage = { readonly kind: 'event'; readonly event: RecordedEvent } | { readonly kind: 'caughtUp' };

/**
 * An event handed to a member of a consumer group. A plain data class: the session that
 * settles it (ack, nack) builds on it.
 */
export class Delivery {
  /**
   * @param id names the delivery in acks and nacks (through any member of the group joined
   *   through the same store); a redelivery has the same id, a replayed parked copy its own.
   * @param attempt 1 for the first delivery.
   * @param parkedRevision the revision of the parked copy when a replay handed the event back.
   */
  constructor(
    readonly id: bigint,
    readonly attempt: number,
    readonly parkedRevision: bigint | undefined,
    readonly event: RecordedEvent,
  ) {}
}

// ---- structured values (JSON) ------------------------------------------------------------------

/** Retention rules of a stream; an absent (or undefined) field is unset. */
export interface StreamMetadata {
  /** Only the last maxCount events are visible. */
  maxCount?: bigint | undefined;
  /**
   * Events older than this are not visible. Whole milliseconds (a fraction is rounded up);
   * read back as a number, exact up to 2^53 ms (285,000 years).
   */
  maxAgeMs?: number | undefined;
  /** Events below this revision are not visible. */
  truncateBefore?: bigint | undefined;
}

/** `{"max_count", "max_age_ms", "truncate_before"}`, null for unset. */
export function streamMetadataToJson(m: StreamMetadata): Record<string, unknown> {
  if (!isRecord(m)) {
    throw new TypeError(`stream metadata must be an object, not ${describe(m)}`);
  }
  return {
    max_count: m.maxCount == null ? null : checkU64(m.maxCount, 'maxCount'),
    max_age_ms: m.maxAgeMs == null ? null : millis(m.maxAgeMs, 'maxAgeMs'),
    truncate_before: m.truncateBefore == null ? null : checkU64(m.truncateBefore, 'truncateBefore'),
  };
}

export function streamMetadataFromJson(json: unknown): StreamMetadata {
  const o = object(json, 'stream metadata');
  return {
    maxCount: o.max_count == null ? undefined : u64(o.max_count, 'max_count'),
    maxAgeMs: o.max_age_ms == null ? undefined : Number(u64(o.max_age_ms, 'max_age_ms')),
    truncateBefore: o.truncate_before == null ? undefined : u64(o.truncate_before, 'truncate_before'),
  };
}

/** One stream of a listing (`listStreams`): tombstoned, deleted and shredded ones included. */
export interface StreamSummary {
  name: string;
  /** The revision the next appended event will get. */
  nextRevision: bigint;
  /** The position of its last event in $all; undefined when it never had one. */
  lastPosition: bigint | undefined;
  /** Soft-deleted and not written since. */
  deleted: boolean;
  /** Revisions below this were hidden by its last soft delete (0n when never deleted). */
  deletedBefore: bigint;
  tombstoned: boolean;
  shredded: boolean;
}

export function streamSummariesFromJson(json: unknown): StreamSummary[] {
  if (!Array.isArray(json)) {
    return malformed('stream listing', json);
  }
  return json.map((item: unknown) => {
    const o = object(item, 'stream summary');
    return {
      name: str(o.name, 'name'),
      nextRevision: u64(o.next_revision, 'next_revision'),
      lastPosition: o.last_position == null ? undefined : u64(o.last_position, 'last_position'),
      deleted: bool(o.deleted, 'deleted'),
      deletedBefore: u64(o.deleted_before, 'deleted_before'),
      tombstoned: bool(o.tombstoned, 'tombstoned'),
      shredded: bool(o.shredded, 'shredded'),
    };
  });
}

/** The state of a stream. */
export interface StreamInfo {
  current: CurrentRevision;
  /** The revision the next appended event will get. */
  nextRevision: bigint;
  /** Soft-deleted and not written since. */
  deleted: boolean;
  /** Its key was destroyed: its events read back without data, appends fail. */
  shredded: boolean;
  metadata: StreamMetadata;
}

export function streamInfoFromJson(json: unknown): StreamInfo {
  const o = object(json, 'stream info');
  return {
    current: currentRevisionFromJson(o.current),
    nextRevision: u64(o.next_revision, 'next_revision'),
    deleted: bool(o.deleted, 'deleted'),
    shredded: bool(o.shredded, 'shredded'),
    metadata: streamMetadataFromJson(o.metadata),
  };
}

export function streamInfoToJson(info: StreamInfo): Record<string, unknown> {
  return {
    current: currentRevisionToJson(info.current),
    next_revision: checkU64(info.nextRevision, 'nextRevision'),
    deleted: info.deleted,
    shredded: info.shredded,
    metadata: streamMetadataToJson(info.metadata),
  };
}

/**
 * Which events of $all to read: a stream name prefix (any of them) and an event type (any of
 * them). An absent or empty list matches every event.
 */
export interface Filter {
  streamPrefixes?: readonly string[] | undefined;
  eventTypes?: readonly string[] | undefined;
}

/** `{"stream_prefixes": [...], "event_types": [...]}`, always both lists. */
export function filterToJson(f: Filter): { stream_prefixes: string[]; event_types: string[] } {
  if (!isRecord(f)) {
    throw new TypeError(`a filter must be an object, not ${describe(f)}`);
  }
  return { stream_prefixes: strings(f.streamPrefixes, 'streamPrefixes'), event_types: strings(f.eventTypes, 'eventTypes') };
}

/** The filter's JSON text for the native layer, or null for none (undefined, or both lists empty). */
export function filterJsonText(f: Filter | undefined): string | null {
  if (f === undefined) {
    return null;
  }
  const j = filterToJson(f);
  return j.stream_prefixes.length === 0 && j.event_types.length === 0 ? null : JSON.stringify(j);
}

export function filterFromJson(json: unknown): Filter {
  const o = object(json, 'a filter');
  return {
    streamPrefixes: o.stream_prefixes === undefined ? [] : stringArray(o.stream_prefixes, 'stream_prefixes'),
    eventTypes: o.event_types === undefined ? [] : stringArray(o.event_types, 'event_types'),
  };
}

/** What a consumer group consumes: one stream (cursors are revisions), or $all filtered (positions). */
export type GroupTarget = { stream: string } | { all: Filter };

/** `{"stream": "name"}` or `{"all": filter}`. */
export function groupTargetToJson(t: GroupTarget): Record<string, unknown> {
  const o: unknown = t;
  if (isRecord(o) && typeof o.stream === 'string' && !('all' in o)) {
    return { stream: o.stream };
  }
  if (isRecord(o) && 'all' in o && !('stream' in o)) {
    return { all: filterToJson(o.all as Filter) };
  }
  throw new TypeError(`a group target must be { stream: name } or { all: filter }, not ${describe(t)}`);
}

export function groupTargetFromJson(json: unknown): GroupTarget {
  const o = object(json, 'a group target');
  if (typeof o.stream === 'string') {
    return { stream: o.stream };
  }
  if (o.all !== undefined) {
    return { all: filterFromJson(o.all) };
  }
  return malformed('a group target', json);
}

/** A group's rules; an absent field takes the store's default (10, 30000, 256, 'round_robin'). */
export interface GroupSettings {
  /** Deliveries after the first before an event is parked. */
  maxRetries?: number | undefined;
  /** An event not settled this long after delivery is delivered again (whole ms, rounded up). */
  ackTimeoutMs?: number | undefined;
  /** Most events read ahead and in flight at once. */
  maxInFlight?: number | undefined;
  strategy?: GroupStrategy | undefined;
}

/** The JSON the core reads: absent fields left out, so that the core fills its defaults. */
export function groupSettingsToJson(s: GroupSettings): Record<string, unknown> {
  const o: unknown = s;
  if (!isRecord(o)) {
    throw new TypeError(`group settings must be an object, not ${describe(s)}`);
  }
  const j: Record<string, unknown> = {};
  if (o.maxRetries != null) {
    j.max_retries = u32Arg(o.maxRetries, 'maxRetries');
  }
  if (o.ackTimeoutMs != null) {
    j.ack_timeout_ms = millis(o.ackTimeoutMs, 'ackTimeoutMs');
  }
  if (o.maxInFlight != null) {
    j.max_in_flight = u32Arg(o.maxInFlight, 'maxInFlight');
  }
  if (o.strategy != null) {
    groupStrategyCode(o.strategy as GroupStrategy);
    j.strategy = o.strategy;
  }
  return j;
}

export function groupSettingsFromJson(json: unknown): Required<GroupSettings> {
  const o = object(json, 'group settings');
  const strategy = o.strategy;
  if (strategy !== 'round_robin' && strategy !== 'pinned_by_stream') {
    return malformed('a group strategy', strategy);
  }
  return {
    maxRetries: u32(o.max_retries, 'max_retries'),
    ackTimeoutMs: Number(u64(o.ack_timeout_ms, 'ack_timeout_ms')),
    maxInFlight: u32(o.max_in_flight, 'max_in_flight'),
    strategy,
  };
}

/** The state of a group. */
export interface GroupInfo {
  name: string;
  target: GroupTarget;
  settings: Required<GroupSettings>;
  /** Every cursor below it is settled (durably). */
  checkpoint: bigint;
  /** Events committed to the target beyond the checkpoint. */
  lag: bigint;
  /** Members connected (in this process, or on the node that holds the group). */
  members: string[];
  /** Delivered and not yet settled. */
  inFlight: bigint;
  /** Read ahead, waiting for a member. */
  buffered: bigint;
  /** `$parked-<group>`. */
  parkedStream: string;
  /** Parked events waiting for a replay. */
  parked: bigint;
  /** Parked events handed back by a replay and not yet settled again. */
  replaying: bigint;
}

export function groupInfoFromJson(json: unknown): GroupInfo {
  const o = object(json, 'group info');
  return {
    name: str(o.name, 'name'),
    target: groupTargetFromJson(o.target),
    settings: groupSettingsFromJson(o.settings),
    checkpoint: u64(o.checkpoint, 'checkpoint'),
    lag: u64(o.lag, 'lag'),
    members: stringArray(o.members, 'members'),
    inFlight: u64(o.in_flight, 'in_flight'),
    buffered: u64(o.buffered, 'buffered'),
    parkedStream: str(o.parked_stream, 'parked_stream'),
    parked: u64(o.parked, 'parked'),
    replaying: u64(o.replaying, 'replaying'),
  };
}

/** What a replay handed back: revisions from..to (to exclusive) of the parked stream, and the counts after it. */
export interface ReplayInfo {
  from: bigint;
  to: bigint;
  parked: bigint;
  replaying: bigint;
}

export function replayInfoFromJson(json: unknown): ReplayInfo {
  const o = object(json, 'replay info');
  return {
    from: u64(o.from, 'from'),
    to: u64(o.to, 'to'),
    parked: u64(o.parked, 'parked'),
    replaying: u64(o.replaying, 'replaying'),
  };
}

/** The outcome of registering a schema. */
export interface SchemaUpsert {
  name: string;
  /** The version now latest: the new one, or the existing one when nothing changed. */
  version: number;
  /** False when the definition equalled the latest version: nothing was written. */
  changed: boolean;
}

export function schemaUpsertFromJson(json: unknown): SchemaUpsert {
  const o = object(json, 'a schema upsert');
  return { name: str(o.name, 'name'), version: u32(o.version, 'version'), changed: bool(o.changed, 'changed') };
}

/** A stored version of a schema; `schema` is its definition's JSON form (docs/semantics.md, "Schemas"). */
export interface RegisteredSchema<S = unknown> {
  name: string;
  version: number;
  schema: S;
}

export function registeredSchemaFromJson(json: unknown): RegisteredSchema {
  const o = object(json, 'a registered schema');
  if (!isRecord(o.schema)) {
    return malformed('a schema definition', o.schema);
  }
  return { name: str(o.name, 'name'), version: u32(o.version, 'version'), schema: o.schema };
}

// ---- readers of the core's JSON, checks of the user's values -----------------------------------

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(what: string, value: unknown): never {
  let shown: string;
  try {
    shown = stringifyJsonLossless(value);
  } catch {
    shown = describe(value);
  }
  throw new InternalError(`GraveyardDB's native layer returned malformed JSON: ${what}: ${shown.slice(0, 200)}`);
}

function object(v: unknown, what: string): Record<string, unknown> {
  return isRecord(v) ? v : malformed(what, v);
}

/** A u64 of the core's JSON (a number while it is safe, a bigint beyond: parseJsonLossless). */
function u64(v: unknown, what: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) {
    return v;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
    return BigInt(v);
  }
  return malformed(what, v);
}

function u32(v: unknown, what: string): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : malformed(what, v);
}

function str(v: unknown, what: string): string {
  return typeof v === 'string' ? v : malformed(what, v);
}

function bool(v: unknown, what: string): boolean {
  return typeof v === 'boolean' ? v : malformed(what, v);
}

function stringArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    return malformed(what, v);
  }
  return v;
}

function strings(v: unknown, what: string): string[] {
  if (v == null) {
    return [];
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new TypeError(`${what} must be an array of strings, not ${describe(v)}`);
  }
  return [...(v)];
}

function u32Arg(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${what} must be an integer from 0 to 2^32-1, not ${describe(v)}`);
  }
  return v;
}

/** A duration in whole milliseconds, rounded up so that a positive one never becomes 0. */
function millis(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
    throw new RangeError(`${what} must be a finite number of milliseconds, at least 0, not ${describe(v)}`);
  }
  return Math.ceil(v);
}

// ---- lossless JSON ------------------------------------------------------------------------------

// The core's JSON holds u64s (positions, checkpoints, counts) that can exceed 2^53, which
// JSON.parse rounds, and Node 20's JSON.parse shows its revivers no source text. So this is a
// small RFC 8259 parser: integer literals (no fraction, no exponent) outside the safe range
// become bigints; everything else is what JSON.parse makes. Safe integers stay numbers, so
// arbitrary values (a violation's value, a schema definition) read as idiomatic JavaScript and
// the readers above take a u64 as either (u64()).

let src = '';
let at = 0;

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * JSON.parse, but integer literals beyond Number.MAX_SAFE_INTEGER (either sign) become
 * bigints, so that no integer loses precision. Throws a SyntaxError for anything JSON.parse
 * refuses. Objects are plain (a `__proto__` key is an own property, as with JSON.parse);
 * of a key given twice, the last value wins, as with JSON.parse.
 */
export function parseJsonLossless(text: string): unknown {
  if (typeof text !== 'string') {
    throw new TypeError(`parseJsonLossless takes a string, not ${describe(text)}`);
  }
  src = text;
  at = 0;
  try {
    const value = parseValue();
    skipSpace();
    if (at !== src.length) {
      fail('unexpected text after the value');
    }
    return value;
  } finally {
    src = '';
  }
}

function fail(why: string): never {
  throw new SyntaxError(`JSON at position ${at}: ${why}`);
}

function skipSpace(): void {
  for (;;) {
    const c = src.charCodeAt(at);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      at++;
    } else {
      return;
    }
  }
}

function parseValue(): unknown {
  skipSpace();
  const c = src.charCodeAt(at);
  switch (c) {
    case 0x7b: // {
      return parseObject();
    case 0x5b: // [
      return parseArray();
    case 0x22: // "
      return parseString();
    case 0x74: // t
      return literal('true', true);
    case 0x66: // f
      return literal('false', false);
    case 0x6e: // n
      return literal('null', null);
    default:
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        return parseNumber();
      }
      return fail(at >= src.length ? 'unexpected end' : `unexpected character ${JSON.stringify(src[at])}`);
  }
}

function literal<T>(word: string, value: T): T {
  if (!src.startsWith(word, at)) {
    fail(`expected ${word}`);
  }
  at += word.length;
  return value;
}

function parseNumber(): number | bigint {
  NUMBER.lastIndex = at;
  const m = NUMBER.exec(src);
  if (m === null) {
    return fail('a malformed number');
  }
  const token = m[0];
  at += token.length;
  if (m[1] === undefined && m[2] === undefined) {
    // 15 digits are always safe: only longer integers need the exact check.
    const digits = token.charCodeAt(0) === 0x2d ? token.length - 1 : token.length;
    if (digits > 15) {
      const big = BigInt(token);
      if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
        return big;
      }
    }
  }
  return Number(token);
}

function parseString(): string {
  const start = at; // the opening quote
  let escaped = false;
  for (let i = at + 1; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      at = i + 1;
      // JSON.parse reads escapes exactly as the spec says; plain text is a slice.
      return escaped ? (JSON.parse(src.slice(start, at)) as string) : src.slice(start + 1, i);
    }
    if (c === 0x5c) {
      escaped = true;
      i++; // the escaped character (JSON.parse checks it), never the closing quote
    } else if (c < 0x20) {
      at = i;
      fail('a control character in a string');
    }
  }
  at = src.length;
  return fail('an unterminated string');
}

function parseArray(): unknown[] {
  at++; // [
  const out: unknown[] = [];
  skipSpace();
  if (src.charCodeAt(at) === 0x5d) {
    at++;
    return out;
  }
  for (;;) {
    out.push(parseValue());
    skipSpace();
    const c = src.charCodeAt(at++);
    if (c === 0x5d) {
      return out;
    }
    if (c !== 0x2c) {
      at--;
      fail("expected ',' or ']'");
    }
  }
}

function parseObject(): Record<string, unknown> {
  at++; // {
  const out: Record<string, unknown> = {};
  skipSpace();
  if (src.charCodeAt(at) === 0x7d) {
    at++;
    return out;
  }
  for (;;) {
    skipSpace();
    if (src.charCodeAt(at) !== 0x22) {
      fail('expected a key');
    }
    const key = parseString();
    skipSpace();
    if (src.charCodeAt(at) !== 0x3a) {
      fail("expected ':'");
    }
    at++;
    const value = parseValue();
    if (key === '__proto__') {
      // An own property, as JSON.parse makes it; an assignment would set the prototype.
      Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      out[key] = value;
    }
    skipSpace();
    const c = src.charCodeAt(at++);
    if (c === 0x7d) {
      return out;
    }
    if (c !== 0x2c) {
      at--;
      fail("expected ',' or '}'");
    }
  }
}

/**
 * JSON.stringify for the core's JSON input: bigints are written as integers. Unlike
 * JSON.stringify, a value JSON cannot hold is a TypeError rather than a silent change: a
 * non-finite number, a top-level undefined, a function or symbol, a cycle. Object members
 * that are undefined are left out, as with JSON.stringify; toJSON methods are called.
 */
export function stringifyJsonLossless(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set(), '');
  return out.join('');
}

function write(value: unknown, out: string[], seen: Set<object>, where: string): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(value.toString());
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`${where || 'the value'} is ${value}, which JSON cannot hold`);
      }
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`${where || 'the value'} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, which JSON cannot hold`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    write((toJSON as (key: string) => unknown).call(value, ''), out, seen, where);
    return;
  }
  if (seen.has(value)) {
    throw new TypeError(`${where || 'the value'} is a cycle, which JSON cannot hold`);
  }
  seen.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    (value as unknown[]).forEach((item, i) => {
      if (i > 0) {
        out.push(',');
      }
      // As JSON.stringify: an undefined item is null.
      if (item === undefined) {
        out.push('null');
      } else {
        write(item, out, seen, `${where}[${i}]`);
      }
    });
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) {
        continue;
      }
      if (!first) {
        out.push(',');
      }
      first = false;
      out.push(JSON.stringify(key), ':');
      write(item, out, seen, where === '' ? key : `${where}.${key}`);
    }
    out.push('}');
  }
  seen.delete(value);
}
