// The packed layouts of docs/boundary.md ("Packed layouts"): the events of an append (encoded
// here, read by the core), read pages, subscription messages, deliveries, append results and
// snapshots (made by the core, decoded here), and the batches in which the native layer's
// sessions hand out messages and deliveries. Little-endian throughout.
//
// The decoders read buffers the SDK's own native code made, so a buffer they cannot read is a
// bug: an InternalError naming "damaged buffer", what was being read and the offset, never a
// read out of bounds, a wrong value or a crash. They check every length against the buffer,
// refuse unknown flag bits and tags, and refuse trailing bytes.
//
// The encoders of the core's layouts (encodePage, encodeDelivery...) are the reference for the
// tests and for fakes of the native layer; the SDK itself only encodes events to append.

import { InternalError } from './errors';
import {
  checkU64,
  Delivery,
  formatUuid,
  PageStrings,
  utf8At,
  RecordedEvent,
  type AppendResult,
  type RecordedEventFields,
  type Snapshot,
  type SubscriptionMessage,
} from './model';

/** Flag bit of an event to append: an id follows. */
const HAS_ID = 1;
/** Flag bit of a read event: its stream's key was destroyed. */
const SHREDDED = 1;
/** Tags of a subscription message. */
const TAG_CAUGHT_UP = 0;
const TAG_EVENT = 1;
/** The fewest bytes a read event takes: every length 0, every fixed field. */
const MIN_EVENT = 4 + 8 + 8 + 8 + 16 + 4 + 4 + 4 + 4 + 1 + 4;
/** The fewest bytes of a delivery: id, attempt, parked revision, an event. */
const MIN_DELIVERY = 8 + 4 + 8 + MIN_EVENT;
const U32_MAX = 0xffffffff;
const TWO_32 = 4294967296;

const EMPTY_BYTES = new Uint8Array(0);

const CAUGHT_UP: SubscriptionMessage = Object.freeze({ kind: 'caughtUp' });

// ---- UUIDs --------------------------------------------------------------------------------------

// Hex digit → value, -1 for anything else (either case, as RFC 4122 reads them).
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) {
  NIBBLE[0x30 + i] = i;
}
for (let i = 0; i < 6; i++) {
  NIBBLE[0x41 + i] = 10 + i;
  NIBBLE[0x61 + i] = 10 + i;
}

/** Where the two hex digits of each of a UUID's 16 bytes are in its text. */
const HEX_AT = new Uint8Array([0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]);

/**
 * Writes the 16 bytes of the UUID `text` (8-4-4-4-12 hex digits, either case, nothing else:
 * no braces, no urn:uuid:) at `at`; false, writing nothing meaningful, when it is not one.
 */
function writeUuid(text: string, out: Uint8Array, at: number): boolean {
  if (
    text.length !== 36 ||
    text.charCodeAt(8) !== 0x2d ||
    text.charCodeAt(13) !== 0x2d ||
    text.charCodeAt(18) !== 0x2d ||
    text.charCodeAt(23) !== 0x2d
  ) {
    return false;
  }
  for (let i = 0; i < 16; i++) {
    const c = HEX_AT[i];
    const h = text.charCodeAt(c);
    const l = text.charCodeAt(c + 1);
    const hv = h < 128 ? NIBBLE[h] : -1;
    const lv = l < 128 ? NIBBLE[l] : -1;
    if ((hv | lv) < 0) {
      return false;
    }
    out[at + i] = (hv << 4) | lv;
  }
  return true;
}

/** The 16 bytes of a UUID's text (8-4-4-4-12 hex digits, either case); a TypeError otherwise. */
export function parseUuid(text: string): Buffer {
  const out = Buffer.alloc(16);
  if (typeof text !== 'string' || !writeUuid(text, out, 0)) {
    throw new TypeError(`${JSON.stringify(text)} is not a UUID (8-4-4-4-12 hex digits)`);
  }
  return out;
}

// ---- events to append ---------------------------------------------------------------------------

/** An event to append, as it crosses the boundary. */
export interface EventToEncode {
  /** A UUID (8-4-4-4-12 hex digits, either case) naming the event for idempotent retries; absent: the store makes a UUIDv7. */
  id?: string | undefined;
  type: string;
  contentType: string;
  data: Uint8Array;
  /** Opaque bytes; absent: none. */
  metadata?: Uint8Array | undefined;
}

// A lone surrogate has no UTF-8 form: Buffer would write U+FFFD in its place, a silent change.
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The UTF-8 bytes of a type or content type, encoded once per distinct string of a batch: they
 * repeat across its events, and a Map lookup costs less than measuring, checking and writing
 * the string again for each event.
 */
function utf8Of(s: unknown, i: number, what: string, seen: Map<string, Buffer>): Buffer {
  if (typeof s !== 'string') {
    throw new TypeError(`event ${i}: ${what} must be a string, not ${s === null ? 'null' : typeof s}`);
  }
  let bytes = seen.get(s);
  if (bytes === undefined) {
    if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) {
      throw new TypeError(`event ${i}: ${what} has a lone surrogate, which UTF-8 cannot hold`);
    }
    bytes = Buffer.from(s, 'utf8');
    if (bytes.length > U32_MAX) {
      throw new RangeError(`event ${i}: ${what} is ${bytes.length} bytes, more than 2^32-1`);
    }
    seen.set(s, bytes);
  }
  return bytes;
}

function putU32(out: Buffer, p: number, v: number): number {
  out[p] = v;
  out[p + 1] = v >>> 8;
  out[p + 2] = v >>> 16;
  out[p + 3] = v >>> 24;
  return p + 4;
}

/** Writes `bytes` with its u32 length at p; short ones in a loop (cheaper than a native call). */
function putBytes(out: Buffer, p: number, bytes: Uint8Array): number {
  const n = bytes.length;
  p = putU32(out, p, n);
  if (n <= 32) {
    for (let k = 0; k < n; k++) {
      out[p + k] = bytes[k];
    }
  } else {
    out.set(bytes, p);
  }
  return p + n;
}

function bytesLength(b: unknown, i: number, what: string): number {
  if (!(b instanceof Uint8Array)) {
    throw new TypeError(`event ${i}: ${what} must be a Uint8Array (or Buffer), not ${b === null ? 'null' : typeof b}`);
  }
  if (b.length > U32_MAX) {
    throw new RangeError(`event ${i}: ${what} is ${b.length} bytes, more than 2^32-1`);
  }
  return b.length;
}

/**
 * The packed events of an append: `u32 count`, then per event `u8 flags` (bit 0: an id
 * follows), `[16] id`, `str type`, `str content_type`, `bytes data`, `bytes metadata`. One
 * allocation of the exact size. A TypeError (or RangeError) naming the event's index for a
 * value of the wrong type, an id that is not a UUID's text, a string with a lone surrogate.
 */
export function encodeEvents(events: readonly EventToEncode[]): Buffer {
  // Checked through an unknown: Array.isArray would narrow `events` itself to any[].
  const given: unknown = events;
  if (!Array.isArray(given)) {
    throw new TypeError('the events to append must be an array');
  }
  const n = events.length;
  // Sizes first (one pass, checking types), then one allocation and one writing pass.
  const seen = new Map<string, Buffer>();
  let size = 4;
  for (let i = 0; i < n; i++) {
    const e = events[i];
    if (typeof e !== 'object' || e === null) {
      throw new TypeError(`event ${i} must be an object, not ${e === null ? 'null' : typeof e}`);
    }
    const id: unknown = e.id;
    if (id != null && typeof id !== 'string') {
      throw new TypeError(`event ${i}: id must be a UUID string or undefined, not ${typeof id}`);
    }
    size +=
      1 +
      (id == null ? 0 : 16) +
      16 +
      utf8Of(e.type, i, 'type', seen).length +
      utf8Of(e.contentType, i, 'contentType', seen).length +
      bytesLength(e.data, i, 'data') +
      (e.metadata == null ? 0 : bytesLength(e.metadata, i, 'metadata'));
  }
  const out = Buffer.allocUnsafe(size);
  let p = putU32(out, 0, n);
  for (let i = 0; i < n; i++) {
    const e = events[i];
    if (e.id == null) {
      out[p++] = 0;
    } else {
      out[p++] = HAS_ID;
      if (!writeUuid(e.id, out, p)) {
        throw new TypeError(`event ${i}: id ${JSON.stringify(e.id)} is not a UUID (8-4-4-4-12 hex digits)`);
      }
      p += 16;
    }
    // Found by the first pass; a string that changed in between fails the size check below.
    p = putBytes(out, p, seen.get(e.type) ?? EMPTY_BYTES);
    p = putBytes(out, p, seen.get(e.contentType) ?? EMPTY_BYTES);
    p = putBytes(out, p, e.data);
    p = putBytes(out, p, e.metadata ?? EMPTY_BYTES);
  }
  if (p !== size) {
    // The sizes pass and the writing pass disagree: the events changed in between (getters).
    throw new Error(`the events changed while they were encoded (${p} bytes written, ${size} planned)`);
  }
  return out;
}

/** Reads what encodeEvents writes (the core's side; for tests). Ids absent stay absent. */
export function decodeEvents(buf: Buffer): EventToEncode[] {
  const r = new Reader(buf, 0, buf.length, 'events to append');
  const count = r.u32();
  if (count > (buf.length - 4) / 17) {
    r.damaged('an event count larger than the buffer could hold', 0);
  }
  const events: EventToEncode[] = [];
  for (let i = 0; i < count; i++) {
    const flagsAt = r.pos;
    const flags = r.u8();
    if ((flags & ~HAS_ID) !== 0) {
      r.damaged(`unknown event flags ${flags}`, flagsAt);
    }
    let id: string | undefined;
    if ((flags & HAS_ID) !== 0) {
      const at = r.skip(16);
      id = formatUuid(buf, at);
    }
    const type = r.str();
    const contentType = r.str();
    const data = r.bytes();
    const metadata = r.bytes();
    events.push(id === undefined ? { type, contentType, data, metadata } : { id, type, contentType, data, metadata });
  }
  r.done();
  return events;
}

// ---- decoding -----------------------------------------------------------------------------------

function damaged(what: string, at: number, buf: Buffer, start: number, end: number): never {
  throw new InternalError(
    `damaged buffer from GraveyardDB's native layer: ${what} at offset ${at - start} of ${end - start} bytes` +
      (start === 0 && end === buf.length ? '' : ` (an item at ${start} of a buffer of ${buf.length})`),
  );
}

function u32At(b: Buffer, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 0x1000000;
}

// Where the event readEvent read last ends (a second return value, without an allocation:
// decoding is synchronous, so nothing interleaves).
let eventEnd = 0;

/**
 * Checks the read event at `p` of buf (which ends at `end`): every length against the end, and
 * the flags; the RecordedEvent reads its fields from the buffer when they are accessed. `start`
 * is where the item began, for error messages. Sets eventEnd.
 */
function readEvent(buf: Buffer, p: number, start: number, end: number, strings: PageStrings): RecordedEvent {
  // Each check leaves room for every later field at its shortest, so that the next length
  // prefix read is inside the buffer.
  if (end - p < MIN_EVENT) {
    damaged('an event shorter than the shortest', p, buf, start, end);
  }
  const streamLen = u32At(buf, p);
  // After the stream name: u64 revision, u64 position, i64 timestamp, [16] id, then the rest.
  if (streamLen > end - p - MIN_EVENT) {
    damaged(`a stream name of ${streamLen} bytes past the end`, p, buf, start, end);
  }
  let q = p + 4 + streamLen + 40;
  const typeLen = u32At(buf, q);
  // After the type: str content_type, bytes data, bytes metadata (4 each), flags (1), schema version (4).
  if (typeLen > end - q - 4 - 17) {
    damaged(`an event type of ${typeLen} bytes past the end`, q, buf, start, end);
  }
  q += 4 + typeLen;
  const contentTypeLen = u32At(buf, q);
  if (contentTypeLen > end - q - 4 - 13) {
    damaged(`a content type of ${contentTypeLen} bytes past the end`, q, buf, start, end);
  }
  q += 4 + contentTypeLen;
  const dataAt = q;
  const dataLen = u32At(buf, q);
  if (dataLen > end - q - 4 - 9) {
    damaged(`data of ${dataLen} bytes past the end`, q, buf, start, end);
  }
  q += 4 + dataLen;
  const metadataLen = u32At(buf, q);
  if (metadataLen > end - q - 4 - 5) {
    damaged(`metadata of ${metadataLen} bytes past the end`, q, buf, start, end);
  }
  q += 4 + metadataLen;
  const flags = buf[q];
  if ((flags & ~SHREDDED) !== 0) {
    damaged(`unknown event flags ${flags}`, q, buf, start, end);
  }
  eventEnd = q + 5;
  return new RecordedEvent(strings, p, dataAt);
}

/**
 * A read page (`u32 count`, then the events) as RecordedEvents: every length and flag checked
 * here, every field read from `page` when it is accessed (RecordedEvent), data and metadata as
 * views into it. The page must not be written to afterwards.
 */
export function decodePage(page: Buffer): RecordedEvent[] {
  const end = page.length;
  if (end < 4) {
    damaged('a page without its count', 0, page, 0, end);
  }
  const count = u32At(page, 0);
  // Refused before anything is allocated for it.
  if (count > (end - 4) / MIN_EVENT) {
    damaged(`a count of ${count} events, more than ${end} bytes could hold`, 0, page, 0, end);
  }
  const events = new Array<RecordedEvent>(count);
  const strings = new PageStrings(page);
  let p = 4;
  for (let i = 0; i < count; i++) {
    events[i] = readEvent(page, p, 0, end, strings);
    p = eventEnd;
  }
  if (p !== end) {
    damaged(`${end - p} trailing bytes`, p, page, 0, end);
  }
  return events;
}

function message(buf: Buffer, start: number, end: number, cache: PageStrings): SubscriptionMessage {
  if (end - start < 1) {
    damaged('a message without its tag', start, buf, start, end);
  }
  const tag = buf[start];
  if (tag === TAG_CAUGHT_UP) {
    if (end !== start + 1) {
      damaged(`${end - start - 1} trailing bytes`, start + 1, buf, start, end);
    }
    return CAUGHT_UP;
  }
  if (tag !== TAG_EVENT) {
    damaged(`unknown message tag ${tag}`, start, buf, start, end);
  }
  const event = readEvent(buf, start + 1, start, end, cache);
  if (eventEnd !== end) {
    damaged(`${end - eventEnd} trailing bytes`, eventEnd, buf, start, end);
  }
  return { kind: 'event', event };
}

/** Makes the object of a delivery from its decoded parts. */
export type DeliveryFactory<D> = (id: bigint, attempt: number, parkedRevision: bigint | undefined, event: RecordedEvent) => D;

const newDelivery: DeliveryFactory<Delivery> = (id, attempt, parkedRevision, event) =>
  new Delivery(id, attempt, parkedRevision, event);

function delivery<D>(buf: Buffer, start: number, end: number, cache: PageStrings, make: DeliveryFactory<D>): D {
  if (end - start < MIN_DELIVERY) {
    damaged('a delivery shorter than the shortest', start, buf, start, end);
  }
  const id = buf.readBigUInt64LE(start);
  const attempt = u32At(buf, start + 8);
  const parkedLo = u32At(buf, start + 12);
  const parkedHi = buf.readInt32LE(start + 16);
  let parkedRevision: bigint | undefined;
  if (parkedHi < 0) {
    // -1 is none; no other negative value is written.
    if (parkedHi !== -1 || parkedLo !== U32_MAX) {
      damaged('a negative parked revision other than -1', start + 12, buf, start, end);
    }
  } else {
    parkedRevision = parkedHi < 0x200000 ? BigInt(parkedHi * TWO_32 + parkedLo) : buf.readBigUInt64LE(start + 12);
  }
  const event = readEvent(buf, start + 20, start, end, cache);
  if (eventEnd !== end) {
    damaged(`${end - eventEnd} trailing bytes`, eventEnd, buf, start, end);
  }
  return make(id, attempt, parkedRevision, event);
}

/** One subscription message (`u8 tag`: 0 caught up, 1 an event follows). */
export function decodeSubscriptionMessage(buf: Buffer): SubscriptionMessage {
  return message(buf, 0, buf.length, new PageStrings(buf));
}

/** One delivery (`u64 id, u32 attempt, i64 parked_revision (-1: none)`, an event). */
export function decodeDelivery(buf: Buffer): Delivery;
export function decodeDelivery<D>(buf: Buffer, make: DeliveryFactory<D>): D;
export function decodeDelivery<D>(buf: Buffer, make?: DeliveryFactory<D>): D | Delivery {
  return delivery<D | Delivery>(buf, 0, buf.length, new PageStrings(buf), make ?? newDelivery);
}

// A session's next: `u32 count`, then `count` times `u32 length` and a packed item.
function batch<T>(buf: Buffer, minItem: number, item: (start: number, end: number, cache: PageStrings) => T): T[] {
  const end = buf.length;
  if (end < 4) {
    damaged('a batch without its count', 0, buf, 0, end);
  }
  const count = u32At(buf, 0);
  if (count > (end - 4) / (4 + minItem)) {
    damaged(`a count of ${count} items, more than ${end} bytes could hold`, 0, buf, 0, end);
  }
  const out = new Array<T>(count);
  const cache = new PageStrings(buf);
  let p = 4;
  for (let i = 0; i < count; i++) {
    if (end - p < 4) {
      damaged(`item ${i} without its length`, p, buf, 0, end);
    }
    const len = u32At(buf, p);
    p += 4;
    if (len > end - p) {
      damaged(`item ${i} of ${len} bytes past the end`, p - 4, buf, 0, end);
    }
    out[i] = item(p, p + len, cache);
    p += len;
  }
  if (p !== end) {
    damaged(`${end - p} trailing bytes`, p, buf, 0, end);
  }
  return out;
}

/** The messages of a subscription's `next` (a batch: `u32 count`, then length-prefixed messages). */
export function decodeMessageBatch(buf: Buffer): SubscriptionMessage[] {
  return batch(buf, 1, (start, end, cache) => message(buf, start, end, cache));
}

/** The deliveries of a member's `next` (a batch: `u32 count`, then length-prefixed deliveries). */
export function decodeDeliveryBatch(buf: Buffer): Delivery[];
export function decodeDeliveryBatch<D>(buf: Buffer, make: DeliveryFactory<D>): D[];
export function decodeDeliveryBatch<D>(buf: Buffer, make?: DeliveryFactory<D>): (D | Delivery)[] {
  const f: DeliveryFactory<D | Delivery> = make ?? newDelivery;
  return batch(buf, MIN_DELIVERY, (start, end, cache) => delivery(buf, start, end, cache, f));
}

/** An append result: `u64 first_revision, u64 last_revision, u64 first_position, u64 last_position`. */
export function decodeAppendResult(buf: Buffer): AppendResult {
  if (buf.length !== 32) {
    damaged(`an append result of ${buf.length} bytes, not 32`, 0, buf, 0, buf.length);
  }
  return {
    firstRevision: buf.readBigUInt64LE(0),
    lastRevision: buf.readBigUInt64LE(8),
    firstPosition: buf.readBigUInt64LE(16),
    lastPosition: buf.readBigUInt64LE(24),
  };
}

/** A snapshot: `str stream, u64 revision, i64 timestamp, bytes data`; data is a view into buf. */
export function decodeSnapshot(buf: Buffer): Snapshot {
  const r = new Reader(buf, 0, buf.length, 'snapshot');
  const stream = r.str();
  const revision = buf.readBigUInt64LE(r.skip(8));
  const timestampMicros = buf.readBigInt64LE(r.skip(8));
  const data = r.bytes();
  r.done();
  // Milliseconds rounded down, also before 1970.
  const ms = timestampMicros / 1000n - (timestampMicros % 1000n < 0n ? 1n : 0n);
  return { stream, revision, timestampMicros, timestamp: new Date(Number(ms)), data };
}

// A bounds-checked cursor for the layouts that are not on a hot path.
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  damaged(why: string, at: number): never {
    damaged(`${this.what}: ${why}`, at, this.buf, this.start, this.end);
  }

  /** Checks that n bytes are left and moves past them; returns where they start. */
  skip(n: number): number {
    const at = this.pos;
    if (n > this.end - at) {
      this.damaged(`${n} bytes past the end`, at);
    }
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.buf[this.skip(1)];
  }

  u32(): number {
    return u32At(this.buf, this.skip(4));
  }

  bytes(): Buffer {
    const n = this.u32();
    const at = this.skip(n);
    return this.buf.subarray(at, at + n);
  }

  str(): string {
    const n = this.u32();
    const at = this.skip(n);
    return utf8At(this.buf, at, n);
  }

  done(): void {
    if (this.pos !== this.end) {
      this.damaged(`${this.end - this.pos} trailing bytes`, this.pos);
    }
  }
}

// ---- the core's side (tests, fakes) -------------------------------------------------------------

function eventSize(e: RecordedEventFields): number {
  return MIN_EVENT + Buffer.byteLength(e.stream) + Buffer.byteLength(e.type) + Buffer.byteLength(e.contentType) + e.data.length + e.metadata.length;
}

function putEvent(out: Buffer, p: number, e: RecordedEventFields): number {
  p = out.writeUInt32LE(Buffer.byteLength(e.stream), p);
  p += out.write(e.stream, p, 'utf8');
  p = out.writeBigUInt64LE(checkU64(e.revision, 'revision'), p);
  p = out.writeBigUInt64LE(checkU64(e.position, 'position'), p);
  p = out.writeBigInt64LE(e.timestampMicros, p);
  parseUuid(e.id).copy(out, p);
  p += 16;
  p = out.writeUInt32LE(Buffer.byteLength(e.type), p);
  p += out.write(e.type, p, 'utf8');
  p = out.writeUInt32LE(Buffer.byteLength(e.contentType), p);
  p += out.write(e.contentType, p, 'utf8');
  p = out.writeUInt32LE(e.data.length, p);
  out.set(e.data, p);
  p += e.data.length;
  p = out.writeUInt32LE(e.metadata.length, p);
  out.set(e.metadata, p);
  p += e.metadata.length;
  out[p++] = e.shredded ? SHREDDED : 0;
  return out.writeUInt32LE(e.schemaVersion ?? 0, p);
}

/** A read page, as the core writes it (RecordedEvents are RecordedEventFields too). */
export function encodePage(events: readonly RecordedEventFields[]): Buffer {
  let size = 4;
  for (const e of events) {
    size += eventSize(e);
  }
  const out = Buffer.alloc(size);
  let p = out.writeUInt32LE(events.length, 0);
  for (const e of events) {
    p = putEvent(out, p, e);
  }
  return out;
}

/** A subscription message, as the core writes it. */
export function encodeSubscriptionMessage(m: SubscriptionMessage): Buffer {
  if (m.kind === 'caughtUp') {
    return Buffer.from([TAG_CAUGHT_UP]);
  }
  const out = Buffer.alloc(1 + eventSize(m.event));
  out[0] = TAG_EVENT;
  putEvent(out, 1, m.event);
  return out;
}

/** A delivery, as the core writes it. */
export function encodeDelivery(d: { id: bigint; attempt: number; parkedRevision: bigint | undefined; event: RecordedEventFields }): Buffer {
  const out = Buffer.alloc(20 + eventSize(d.event));
  let p = out.writeBigUInt64LE(checkU64(d.id, 'id'), 0);
  p = out.writeUInt32LE(d.attempt, p);
  p = out.writeBigInt64LE(d.parkedRevision === undefined ? -1n : d.parkedRevision, p);
  putEvent(out, p, d.event);
  return out;
}

/** A batch of a session's next: `u32 count`, then each item with its `u32` length. */
export function encodeBatch(items: readonly Uint8Array[]): Buffer {
  let size = 4;
  for (const item of items) {
    size += 4 + item.length;
  }
  const out = Buffer.alloc(size);
  let p = out.writeUInt32LE(items.length, 0);
  for (const item of items) {
    p = out.writeUInt32LE(item.length, p);
    out.set(item, p);
    p += item.length;
  }
  return out;
}

export function encodeAppendResult(r: AppendResult): Buffer {
  const out = Buffer.alloc(32);
  out.writeBigUInt64LE(checkU64(r.firstRevision, 'firstRevision'), 0);
  out.writeBigUInt64LE(checkU64(r.lastRevision, 'lastRevision'), 8);
  out.writeBigUInt64LE(checkU64(r.firstPosition, 'firstPosition'), 16);
  out.writeBigUInt64LE(checkU64(r.lastPosition, 'lastPosition'), 24);
  return out;
}

export function encodeSnapshot(s: { stream: string; revision: bigint; timestampMicros: bigint; data: Uint8Array }): Buffer {
  const n = Buffer.byteLength(s.stream);
  const out = Buffer.alloc(4 + n + 16 + 4 + s.data.length);
  let p = out.writeUInt32LE(n, 0);
  p += out.write(s.stream, p, 'utf8');
  p = out.writeBigUInt64LE(checkU64(s.revision, 'revision'), p);
  p = out.writeBigInt64LE(s.timestampMicros, p);
  p = out.writeUInt32LE(s.data.length, p);
  out.set(s.data, p);
  return out;
}

/**
 * A RecordedEvent from values, as a read would give it (for tests of code that handles
 * events, and for fakes of the store). Its data and metadata are copied.
 */
export function newRecordedEvent(fields: RecordedEventFields): RecordedEvent {
  return decodePage(encodePage([fields]))[0];
}
