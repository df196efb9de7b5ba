// The packed layouts and JSON forms of docs/boundary.md against the golden vectors of
// conformance/boundary_vectors.json (the bytes every SDK decodes and encodes alike), damaged
// buffers, UUID text, and the lossless JSON of the core's u64s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';

import {
  decodeAppendResult,
  decodeDelivery,
  decodeDeliveryBatch,
  decodeEvents,
  decodeMessageBatch,
  decodePage,
  decodeSnapshot,
  decodeSubscriptionMessage,
  encodeAppendResult,
  encodeBatch,
  encodeDelivery,
  encodeEvents,
  encodePage,
  encodeSnapshot,
  encodeSubscriptionMessage,
  newRecordedEvent,
  parseUuid,
  type EventToEncode,
} from '../src/packed';
import {
  DIRECTION_CODES,
  DURABILITY_CODES,
  Delivery,
  EXPECTED_VERSION_CODES,
  GROUP_STRATEGY_CODES,
  NACK_ACTION_CODES,
  RecordedEvent,
  SUBSCRIPTION_START_CODES,
  appendResultFromJson,
  appendResultToJson,
  currentRevisionFromJson,
  currentRevisionToJson,
  directionCode,
  durabilityCode,
  expectedVersionCode,
  expectedVersionFromJson,
  expectedVersionToJson,
  filterFromJson,
  filterJsonText,
  filterToJson,
  formatUuid,
  groupInfoFromJson,
  groupSettingsFromJson,
  groupSettingsToJson,
  groupStrategyCode,
  groupTargetFromJson,
  groupTargetToJson,
  nackActionCode,
  parseJsonLossless,
  registeredSchemaFromJson,
  replayInfoFromJson,
  schemaUpsertFromJson,
  streamInfoFromJson,
  streamInfoToJson,
  streamMetadataFromJson,
  streamMetadataToJson,
  stringifyJsonLossless,
  subscriptionStartCode,
  subscriptionStartFromJson,
  subscriptionStartToJson,
  type RecordedEventFields,
} from '../src/model';
import { InternalError, ShreddedError } from '../src/errors';

// ---- the golden vectors --------------------------------------------------------------------------

interface VectorEvent {
  stream: string;
  revision: number;
  position: number;
  timestamp: number;
  id: string;
  type: string;
  content_type: string;
  data_hex: string;
  metadata_hex: string;
  shredded: boolean;
  schema_version: number | null;
}

interface Vectors {
  append_events: {
    events: { id: string | null; type: string; content_type: string; data_hex: string; metadata_hex: string }[];
    packed: string;
  };
  append_result: { packed: string; result: Record<string, number> };
  caught_up: { packed: string };
  delivery: { id: string; attempt: number; parked_revision: number | null; event: VectorEvent; packed: string };
  empty_page: { events: VectorEvent[]; packed: string };
  page: { events: VectorEvent[]; packed: string };
  snapshot: { stream: string; revision: number; timestamp: number; data_hex: string; packed: string };
  subscription_event: { event: VectorEvent; packed: string };
  codes: Record<string, Record<string, number>>;
  json: Record<string, unknown>;
}

/** The repository's conformance directory: the nearest one above this file (src or dist). */
function conformanceDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'conformance', 'boundary_vectors.json');
    if (existsSync(candidate)) {
      return join(dir, 'conformance');
    }
    if (dirname(dir) === dir) {
      throw new Error(`no conformance/boundary_vectors.json above ${__dirname}`);
    }
  }
}

// Parsed losslessly: the delivery id of the vectors is a string, every other integer is small.
const vectors = parseJsonLossless(readFileSync(join(conformanceDir(), 'boundary_vectors.json'), 'utf8')) as Vectors;

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

function fieldsOf(v: VectorEvent): RecordedEventFields {
  return {
    stream: v.stream,
    revision: BigInt(v.revision),
    position: BigInt(v.position),
    timestampMicros: BigInt(v.timestamp),
    id: v.id,
    type: v.type,
    contentType: v.content_type,
    data: hex(v.data_hex),
    metadata: hex(v.metadata_hex),
    shredded: v.shredded,
    schemaVersion: v.schema_version ?? undefined,
  };
}

function assertEvent(got: RecordedEvent, want: VectorEvent, what: string): void {
  assert.ok(got instanceof RecordedEvent, what);
  assert.deepEqual(got.toFields(), fieldsOf(want), what);
  assert.equal(got.timestamp.getTime(), Math.floor(want.timestamp / 1000), `${what}: timestamp`);
}

void test('golden pages decode to their events and encode back to their bytes', () => {
  for (const [name, v] of [
    ['page', vectors.page],
    ['empty page', vectors.empty_page],
  ] as const) {
    const packed = hex(v.packed);
    const events = decodePage(packed);
    assert.equal(events.length, v.events.length, name);
    events.forEach((e, i) => assertEvent(e, v.events[i], `${name} event ${i}`));
    assert.deepEqual(encodePage(events), packed, `${name} re-encoded`);
  }
  // The page vector keeps its shredded event (no data, no schema version).
  const shredded = decodePage(hex(vectors.page.packed))[1];
  assert.equal(shredded.shredded, true);
  assert.equal(shredded.data.length, 0);
  assert.equal(shredded.schemaVersion, undefined);
});

void test('golden subscription messages, delivery, snapshot and append result', () => {
  const m = decodeSubscriptionMessage(hex(vectors.subscription_event.packed));
  assert.equal(m.kind, 'event');
  assert.ok(m.kind === 'event');
  assertEvent(m.event, vectors.subscription_event.event, 'subscription event');
  assert.deepEqual(encodeSubscriptionMessage(m), hex(vectors.subscription_event.packed));

  const caughtUp = decodeSubscriptionMessage(hex(vectors.caught_up.packed));
  assert.deepEqual(caughtUp, { kind: 'caughtUp' });
  assert.deepEqual(encodeSubscriptionMessage(caughtUp), hex(vectors.caught_up.packed));

  const packedDelivery = hex(vectors.delivery.packed);
  const d = decodeDelivery(packedDelivery);
  assert.ok(d instanceof Delivery);
  assert.equal(d.id, BigInt(vectors.delivery.id));
  assert.equal(d.id, (1n << 63n) + 2n, 'a replayed copy: the top bit set');
  assert.equal(d.attempt, vectors.delivery.attempt);
  assert.equal(d.parkedRevision, BigInt(vectors.delivery.parked_revision!));
  assertEvent(d.event, vectors.delivery.event, 'delivery event');
  assert.deepEqual(encodeDelivery(d), packedDelivery);
  // Not parked: -1.
  const notParked = Buffer.from(packedDelivery);
  notParked.writeBigInt64LE(-1n, 12);
  assert.equal(decodeDelivery(notParked).parkedRevision, undefined);
  assert.deepEqual(encodeDelivery(decodeDelivery(notParked)), notParked);
  // A factory makes the caller's own delivery objects.
  const made = decodeDelivery(packedDelivery, (id, attempt, parked, event) => ({ id, attempt, parked, stream: event.stream }));
  assert.deepEqual(made, { id: d.id, attempt: 3, parked: 2n, stream: 'order-1' });

  const packedSnapshot = hex(vectors.snapshot.packed);
  const s = decodeSnapshot(packedSnapshot);
  assert.equal(s.stream, vectors.snapshot.stream);
  assert.equal(s.revision, BigInt(vectors.snapshot.revision));
  assert.equal(s.timestampMicros, BigInt(vectors.snapshot.timestamp));
  assert.equal(s.timestampMicros, -1n);
  assert.equal(s.timestamp.getTime(), -1, 'microseconds rounded down to milliseconds, before 1970 too');
  assert.deepEqual(s.data, hex(vectors.snapshot.data_hex));
  assert.deepEqual(encodeSnapshot(s), packedSnapshot);

  const packedResult = hex(vectors.append_result.packed);
  const r = decodeAppendResult(packedResult);
  assert.deepEqual(r, appendResultFromJson(vectors.append_result.result));
  assert.deepEqual(r, { firstRevision: 4n, lastRevision: 5n, firstPosition: 100n, lastPosition: 101n });
  assert.deepEqual(encodeAppendResult(r), packedResult);
  assert.deepEqual(appendResultToJson(r), { first_revision: 4n, last_revision: 5n, first_position: 100n, last_position: 101n });
});

void test('golden events to append encode to their bytes and decode back', () => {
  const events: EventToEncode[] = vectors.append_events.events.map((e) => ({
    ...(e.id === null ? {} : { id: e.id }),
    type: e.type,
    contentType: e.content_type,
    data: hex(e.data_hex),
    metadata: hex(e.metadata_hex),
  }));
  assert.equal(events[1].id, undefined, 'the vector keeps its event without an id');
  const packed = hex(vectors.append_events.packed);
  assert.deepEqual(encodeEvents(events), packed);
  assert.deepEqual(decodeEvents(packed), events);
  // Uppercase ids are the same UUID; absent metadata is empty; plain Uint8Arrays are bytes.
  const variant = events.map((e) => ({
    ...e,
    ...(e.id === undefined ? {} : { id: e.id.toUpperCase() }),
    data: new Uint8Array(e.data),
    metadata: e.metadata!.length === 0 ? undefined : e.metadata,
  }));
  assert.deepEqual(encodeEvents(variant), packed);
  // No events: a count of 0 (the store refuses the append, not the encoder).
  assert.deepEqual(encodeEvents([]), Buffer.from([0, 0, 0, 0]));
});

void test('the batches of a session: length-prefixed messages and deliveries', () => {
  const items = [hex(vectors.subscription_event.packed), hex(vectors.caught_up.packed), hex(vectors.subscription_event.packed)];
  const batch = encodeBatch(items);
  const messages = decodeMessageBatch(batch);
  assert.deepEqual(
    messages.map((m) => m.kind),
    ['event', 'caughtUp', 'event'],
  );
  assert.deepEqual(messages.map(encodeSubscriptionMessage), items);
  const deliveries = decodeDeliveryBatch(encodeBatch([hex(vectors.delivery.packed), hex(vectors.delivery.packed)]));
  assert.equal(deliveries.length, 2);
  assert.deepEqual(deliveries.map(encodeDelivery), [hex(vectors.delivery.packed), hex(vectors.delivery.packed)]);
  const ids = decodeDeliveryBatch(encodeBatch([hex(vectors.delivery.packed)]), (id) => id);
  assert.deepEqual(ids, [BigInt(vectors.delivery.id)]);
  assert.deepEqual(decodeMessageBatch(Buffer.from([0, 0, 0, 0])), []);
});

void test('codes: the numbers of the vectors', () => {
  const codes = vectors.codes;
  assert.deepEqual(codes.expected_version, EXPECTED_VERSION_CODES);
  assert.deepEqual(codes.direction, DIRECTION_CODES);
  assert.deepEqual(codes.subscription_start, SUBSCRIPTION_START_CODES);
  assert.deepEqual(codes.nack_action, NACK_ACTION_CODES);
  assert.deepEqual(codes.group_strategy, GROUP_STRATEGY_CODES);
  assert.deepEqual(codes.durability, DURABILITY_CODES);
  assert.deepEqual(expectedVersionCode('any'), [0, 0n]);
  assert.deepEqual(expectedVersionCode('no_stream'), [1, 0n]);
  assert.deepEqual(expectedVersionCode('stream_exists'), [2, 0n]);
  assert.deepEqual(expectedVersionCode(7n), [3, 7n]);
  assert.deepEqual(expectedVersionCode((1n << 64n) - 1n), [3, (1n << 64n) - 1n]);
  assert.deepEqual(subscriptionStartCode('start'), [0, 0n]);
  assert.deepEqual(subscriptionStartCode('end'), [1, 0n]);
  assert.deepEqual(subscriptionStartCode({ after: 41n }), [2, 41n]);
  assert.equal(directionCode('forwards'), 0);
  assert.equal(directionCode('backwards'), 1);
  assert.deepEqual(['retry', 'park', 'skip'].map((a) => nackActionCode(a as 'retry')), [1, 2, 3]);
  assert.equal(groupStrategyCode('pinned_by_stream'), 1);
  assert.equal(durabilityCode('no_fsync_unsafe'), 1);

  // What JavaScript callers may pass by mistake: a TypeError or RangeError naming the value.
  const bad = (f: () => unknown, error: typeof TypeError, message: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof error && message.test((e).message));
  };
  bad(() => expectedVersionCode(5 as unknown as bigint), TypeError, /bigint \(e\.g\. 5n\), not the number 5/);
  bad(() => expectedVersionCode('exact' as 'any'), TypeError, /not "exact"/);
  bad(() => expectedVersionCode(-1n), RangeError, /0 to 2\^64-1, not -1/);
  bad(() => expectedVersionCode(1n << 64n), RangeError, /2\^64-1/);
  bad(() => subscriptionStartCode({ after: 3 } as unknown as { after: bigint }), TypeError, /bigint/);
  bad(() => subscriptionStartCode('after' as 'start'), TypeError, /'start', 'end' or \{ after: n \}/);
  bad(() => directionCode('up' as 'forwards'), TypeError, /'forwards' or 'backwards', not "up"/);
  bad(() => nackActionCode('ack' as 'retry'), TypeError, /'retry', 'park' or 'skip'/);
  bad(() => nackActionCode(undefined as unknown as 'retry'), TypeError, /not undefined/);
  bad(() => groupStrategyCode('round-robin' as 'round_robin'), TypeError, /'round_robin' or 'pinned_by_stream'/);
  bad(() => durabilityCode('none' as 'fsync'), TypeError, /'fsync' or 'no_fsync_unsafe'/);
  // Names of Object.prototype are not codes.
  bad(() => directionCode('toString' as 'forwards'), TypeError, /not "toString"/);
});

/** JSON values equal as the core reads them (numbers and bigints of the same integer are equal). */
function sameJson(got: unknown, want: unknown): void {
  assert.deepEqual(parseJsonLossless(stringifyJsonLossless(got)), parseJsonLossless(stringifyJsonLossless(want)));
}

void test('golden JSON forms read and write back', () => {
  const j = vectors.json as Record<string, unknown[] & Record<string, unknown>>;
  const expected = j.expected_version.map(expectedVersionFromJson);
  assert.deepEqual(expected, ['any', 'no_stream', 'stream_exists', 3n]);
  j.expected_version.forEach((raw, i) => sameJson(expectedVersionToJson(expected[i]), raw));

  const current = j.current_revision.map(currentRevisionFromJson);
  assert.deepEqual(current, ['no_stream', 0n]);
  j.current_revision.forEach((raw, i) => sameJson(currentRevisionToJson(current[i]), raw));

  const starts = j.subscription_start.map(subscriptionStartFromJson);
  assert.deepEqual(starts, ['start', 'end', { after: 41n }]);
  j.subscription_start.forEach((raw, i) => sameJson(subscriptionStartToJson(starts[i]), raw));

  const filter = filterFromJson(j.filter);
  assert.deepEqual(filter, { streamPrefixes: ['order-'], eventTypes: ['OrderPlaced'] });
  sameJson(filterToJson(filter), j.filter);
  assert.deepEqual(filterToJson({}), { stream_prefixes: [], event_types: [] });
  assert.equal(filterJsonText(undefined), null);
  assert.equal(filterJsonText({ streamPrefixes: [] }), null);
  assert.equal(filterJsonText({ eventTypes: ['A'] }), '{"stream_prefixes":[],"event_types":["A"]}');

  const settings = groupSettingsFromJson(j.group_settings);
  assert.deepEqual(settings, { maxRetries: 5, ackTimeoutMs: 1500, maxInFlight: 64, strategy: 'pinned_by_stream' });
  sameJson(groupSettingsToJson(settings), j.group_settings);

  const targets = j.group_target.map(groupTargetFromJson);
  assert.deepEqual(targets, [{ stream: 'order-1' }, { all: { streamPrefixes: [], eventTypes: ['OrderPlaced'] } }]);
  j.group_target.forEach((raw, i) => sameJson(groupTargetToJson(targets[i]), raw));

  const info = streamInfoFromJson(j.stream_info);
  assert.deepEqual(info, {
    current: 5n,
    nextRevision: 6n,
    deleted: false,
    shredded: false,
    metadata: { maxCount: 10n, maxAgeMs: 60000, truncateBefore: undefined },
  });
  sameJson(streamInfoToJson(info), j.stream_info);
});

void test('JSON of user values: defaults left to the core, durations rounded up, wrong values refused', () => {
  assert.deepEqual(groupSettingsToJson({}), {});
  assert.deepEqual(groupSettingsToJson({ maxRetries: 0, ackTimeoutMs: 0.2, maxInFlight: undefined }), { max_retries: 0, ack_timeout_ms: 1 });
  assert.throws(() => groupSettingsToJson({ maxRetries: -1 }), RangeError);
  assert.throws(() => groupSettingsToJson({ maxInFlight: 1.5 }), RangeError);
  assert.throws(() => groupSettingsToJson({ ackTimeoutMs: Number.NaN }), RangeError);
  assert.throws(() => groupSettingsToJson({ strategy: 'fair' as 'round_robin' }), TypeError);
  assert.deepEqual(streamMetadataToJson({}), { max_count: null, max_age_ms: null, truncate_before: null });
  assert.deepEqual(streamMetadataToJson({ maxCount: 3n, maxAgeMs: 1000.001, truncateBefore: (1n << 64n) - 1n }), {
    max_count: 3n,
    max_age_ms: 1001,
    truncate_before: (1n << 64n) - 1n,
  });
  assert.throws(() => streamMetadataToJson({ maxCount: 3 as unknown as bigint }), TypeError);
  assert.throws(() => streamMetadataToJson({ maxAgeMs: -1 }), RangeError);
  assert.throws(() => groupTargetToJson({ stream: 's', all: {} }), TypeError);
  assert.throws(() => groupTargetToJson({} as { stream: string }), TypeError);
  assert.throws(() => filterToJson({ eventTypes: 'A' as unknown as string[] }), TypeError);
});

void test("JSON of the core: u64s beyond 2^53 exact, unknown fields ignored, wrong shapes an InternalError", () => {
  const max = (1n << 64n) - 1n;
  const group = groupInfoFromJson(
    parseJsonLossless(
      `{"name":"g","target":{"all":{"stream_prefixes":[],"event_types":[]}},"settings":{"max_retries":10,"ack_timeout_ms":30000,"max_in_flight":256,"strategy":"round_robin"},"checkpoint":${max},"lag":9007199254740993,"members":["m1"],"in_flight":0,"buffered":1,"parked_stream":"$parked-g","parked":2,"replaying":3,"later_field":true}`,
    ),
  );
  assert.equal(group.checkpoint, max);
  assert.equal(group.lag, 9007199254740993n);
  assert.deepEqual(group.target, { all: { streamPrefixes: [], eventTypes: [] } });
  assert.deepEqual([group.inFlight, group.buffered, group.parked, group.replaying], [0n, 1n, 2n, 3n]);
  assert.deepEqual(group.members, ['m1']);
  assert.deepEqual(replayInfoFromJson(parseJsonLossless('{"from":0,"to":18446744073709551615,"parked":0,"replaying":5}')), {
    from: 0n,
    to: max,
    parked: 0n,
    replaying: 5n,
  });
  assert.deepEqual(schemaUpsertFromJson({ name: 'order', version: 2, changed: false }), { name: 'order', version: 2, changed: false });
  assert.deepEqual(registeredSchemaFromJson({ name: 'order', version: 1, schema: { name: 'order', fields: [] } }), {
    name: 'order',
    version: 1,
    schema: { name: 'order', fields: [] },
  });
  assert.deepEqual(streamMetadataFromJson({ max_count: null, max_age_ms: null, truncate_before: null }), {
    maxCount: undefined,
    maxAgeMs: undefined,
    truncateBefore: undefined,
  });
  for (const [what, read] of [
    ['stream info', () => streamInfoFromJson({ current: -1, next_revision: 0, deleted: false, shredded: false, metadata: {} })],
    ['u64 above 2^64-1', () => replayInfoFromJson(parseJsonLossless('{"from":18446744073709551616,"to":0,"parked":0,"replaying":0}'))],
    ['fraction', () => replayInfoFromJson({ from: 1.5, to: 0, parked: 0, replaying: 0 })],
    ['strategy', () => groupSettingsFromJson({ max_retries: 1, ack_timeout_ms: 1, max_in_flight: 1, strategy: 'fair' })],
    ['target', () => groupTargetFromJson({})],
    ['expected', () => expectedVersionFromJson({ exact: 1, extra: 2 })],
    ['not an object', () => schemaUpsertFromJson([])],
    ['schema', () => registeredSchemaFromJson({ name: 'a', version: 1, schema: 'x' })],
  ] as const) {
    assert.throws(read, (e: unknown) => e instanceof InternalError && /malformed JSON/.test(e.message), what);
  }
});

// ---- damaged buffers -------------------------------------------------------------------------------

function assertDamaged(f: () => unknown, what: string): void {
  assert.throws(
    f,
    (e: unknown) => e instanceof InternalError && e.code === 'INTERNAL' && /damaged buffer/.test(e.message) && /at offset \d+/.test(e.message),
    what,
  );
}

const decoders: Record<string, [(b: Buffer) => unknown, Buffer]> = {
  page: [(b) => decodePage(b).map((e) => e.toFields()), hex(vectors.page.packed)],
  message: [(b) => decodeSubscriptionMessage(b), hex(vectors.subscription_event.packed)],
  delivery: [(b) => decodeDelivery(b), hex(vectors.delivery.packed)],
  snapshot: [(b) => decodeSnapshot(b), hex(vectors.snapshot.packed)],
  'append result': [(b) => decodeAppendResult(b), hex(vectors.append_result.packed)],
  'events to append': [(b) => decodeEvents(b), hex(vectors.append_events.packed)],
  'message batch': [(b) => decodeMessageBatch(b), encodeBatch([hex(vectors.subscription_event.packed), hex(vectors.caught_up.packed)])],
  'delivery batch': [(b) => decodeDeliveryBatch(b), encodeBatch([hex(vectors.delivery.packed), hex(vectors.delivery.packed)])],
};

void test('damaged buffers: truncated anywhere, or with trailing bytes, are refused', () => {
  for (const [name, [decode, good]] of Object.entries(decoders)) {
    decode(good);
    for (let n = 0; n < good.length; n++) {
      assertDamaged(() => decode(good.subarray(0, n)), `${name} truncated to ${n}`);
    }
    assertDamaged(() => decode(Buffer.concat([good, Buffer.from([0])])), `${name} with a trailing byte`);
    // The same bytes inside a larger buffer (a pool slab): only the view counts.
    const slab = Buffer.alloc(good.length + 64, 0xee);
    good.copy(slab, 32);
    decode(slab.subarray(32, 32 + good.length));
  }
  assertDamaged(() => decodeSubscriptionMessage(Buffer.from([0, 0])), 'a caught-up marker with more');
});

void test('damaged buffers: counts, lengths, flags and tags', () => {
  const page = hex(vectors.page.packed);
  const withU32 = (b: Buffer, at: number, v: number): Buffer => {
    const c = Buffer.from(b);
    c.writeUInt32LE(v, at);
    return c;
  };
  // Counts larger than the buffer could hold: refused before anything is allocated for them.
  for (const count of [3, 1 << 20, 0xffffffff]) {
    assertDamaged(() => decodePage(withU32(page, 0, count)), `page count ${count}`);
  }
  assertDamaged(() => decodePage(Buffer.from([0xff, 0xff, 0xff, 0xff])), 'a count of 2^32-1 in 4 bytes');
  assertDamaged(() => decodeMessageBatch(Buffer.from([0xff, 0xff, 0xff, 0xff])), 'a batch count of 2^32-1');
  assertDamaged(() => decodeEvents(withU32(hex(vectors.append_events.packed), 0, 0xffffffff)), 'an append count of 2^32-1');
  // A count smaller than the events: trailing bytes.
  assertDamaged(() => decodePage(withU32(page, 0, 1)), 'page count 1 of 2');
  // Lengths beyond the buffer, each field's.
  for (const len of [2 ** 31, 0xffffffff, page.length]) {
    assertDamaged(() => decodePage(withU32(page, 4, len)), `a stream name of ${len} bytes`);
  }
  const first = decodePage(page)[0];
  const streamLen = Buffer.byteLength(first.stream);
  const typeAt = 4 + 4 + streamLen + 40;
  const contentTypeAt = typeAt + 4 + Buffer.byteLength(first.type);
  const dataAt = contentTypeAt + 4 + Buffer.byteLength(first.contentType);
  const metadataAt = dataAt + 4 + first.data.length;
  for (const [what, at] of [
    ['type', typeAt],
    ['content type', contentTypeAt],
    ['data', dataAt],
    ['metadata', metadataAt],
  ] as const) {
    assertDamaged(() => decodePage(withU32(page, at, 0xffffffff)), `a ${what} of 4 GiB`);
    assertDamaged(() => decodePage(withU32(page, at, page.length - at)), `a ${what} to the end of the page`);
  }
  // Unknown flag bits: the shredded flag is the 5th byte from the end of the page.
  assert.equal(page[page.length - 5], 1);
  for (const flags of [2, 3, 0x80]) {
    const b = Buffer.from(page);
    b[b.length - 5] = flags;
    assertDamaged(() => decodePage(b), `event flags ${flags}`);
  }
  const events = Buffer.from(hex(vectors.append_events.packed));
  events[4] = 3;
  assertDamaged(() => decodeEvents(events), 'append flags 3');
  // Unknown message tags.
  for (const tag of [2, 0xff]) {
    const b = hex(vectors.subscription_event.packed);
    b[0] = tag;
    assertDamaged(() => decodeSubscriptionMessage(b), `message tag ${tag}`);
  }
  assertDamaged(() => decodeSubscriptionMessage(Buffer.alloc(0)), 'an empty message');
  // A parked revision below -1.
  const d = hex(vectors.delivery.packed);
  d.writeBigInt64LE(-2n, 12);
  assertDamaged(() => decodeDelivery(d), 'parked revision -2');
  // A batch item longer than the batch.
  assertDamaged(() => decodeMessageBatch(withU32(encodeBatch([Buffer.from([0])]), 4, 2)), 'an item past the end');
});

void test('damaged buffers: a string that is not UTF-8 is refused, where it is read', () => {
  const fields = fieldsOf(vectors.page.events[0]);
  // The stream name 'order-1' becomes 'order\xff1': one byte, the same length.
  const page = encodePage([fields]);
  const at = 4 + 4 + 'order'.length;
  page[at] = 0xff;
  const [e] = decodePage(page);
  assert.ok(e !== undefined);
  assert.equal(e.type, 'OrderPlaced', 'the other fields read');
  assertDamaged(() => e.stream, 'a stream name with 0xff');
  for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const b = encodePage([{ ...fields, type: 'x'.repeat(bad.length) }]);
    const typeAt = 4 + 4 + 'order-1'.length + 40 + 4;
    Buffer.from(bad).copy(b, typeAt);
    assertDamaged(() => decodePage(b)[0].type, `an event type of ${Buffer.from(bad).toString('hex')}`);
  }
  // U+FFFD itself is text.
  assert.equal(newRecordedEvent({ ...fields, stream: 'a\uFFFDb' }).stream, 'a\uFFFDb');
  // Eager decoders refuse at once.
  const snapshot = encodeSnapshot({ stream: 'ab', revision: 1n, timestampMicros: 0n, data: Buffer.alloc(0) });
  snapshot[4] = 0x80;
  assertDamaged(() => decodeSnapshot(snapshot), 'a snapshot stream name with 0x80');
  const events = encodeEvents([{ type: 'ab', contentType: 'c', data: Buffer.alloc(0) }]);
  events[4 + 1 + 4] = 0xfe;
  assertDamaged(() => decodeEvents(events), 'an event type with 0xfe');
});

/** A small deterministic PRNG (mulberry32): the same damage on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

void test('damaged buffers: random damage is decoded or refused, never a crash or a read out of bounds', () => {
  const random = rng(1);
  const int = (n: number): number => Math.floor(random() * n);
  let decoded = 0;
  for (const [name, [decode, good]] of Object.entries(decoders)) {
    for (let i = 0; i < 2000; i++) {
      let b = Buffer.from(good);
      for (let k = 1 + int(4); k > 0; k--) {
        switch (int(3)) {
          case 0:
            b[int(b.length)] = int(256);
            break;
          case 1:
            // A length field blown up.
            b.writeUInt32LE(int(2 ** 32), int(b.length - 3));
            break;
          default:
            b = b.subarray(0, int(b.length + 1));
            if (b.length < 4) {
              b = Buffer.concat([b, Buffer.alloc(4)]);
            }
        }
      }
      let result: unknown;
      try {
        result = decode(b);
      } catch (e) {
        assert.ok(e instanceof InternalError, `${name}: ${String(e)}`);
        continue;
      }
      decoded++;
      if (name === 'page') {
        // What decodes reads whole, and is exactly its bytes again.
        assert.deepEqual(encodePage(result as RecordedEventFields[]), b);
      }
    }
  }
  assert.ok(decoded > 0, 'some damage leaves a readable buffer');
});

// ---- events ----------------------------------------------------------------------------------------

void test('events are views of their page: data and metadata share its memory, bounded', () => {
  const page = hex(vectors.page.packed);
  const [e] = decodePage(page);
  assert.ok(e !== undefined);
  assert.equal(e.data.buffer, page.buffer, 'no copy');
  assert.equal(e.data.toString(), '{"qty":2}');
  assert.equal(e.metadata.toString(), 'm');
  // Writing into the data never reaches the next field.
  e.data.fill(0x20);
  assert.equal(e.metadata.toString(), 'm');
  assert.equal(e.data.length, 9);
  assert.equal(e.type, 'OrderPlaced');
});

void test('RecordedEvent: json, text, metadataJson, shredded events, inspection', () => {
  const base: RecordedEventFields = fieldsOf(vectors.page.events[0]);
  const e = newRecordedEvent({ ...base, metadata: Buffer.from('{"by":"me"}') });
  assert.deepEqual(e.json(), { qty: 2 });
  assert.equal(e.json<{ qty: number }>().qty, 2);
  assert.equal(e.text(), '{"qty":2}');
  assert.deepEqual(e.metadataJson(), { by: 'me' });
  assert.equal(newRecordedEvent({ ...base, metadata: Buffer.alloc(0) }).metadataJson(), undefined);
  assert.equal(e.timestamp.toISOString(), '2024-12-04T08:13:20.000Z');

  const binary = newRecordedEvent({ ...base, contentType: 'application/octet-stream' });
  assert.throws(() => binary.json(), (err: unknown) => err instanceof TypeError && /application\/octet-stream/.test(err.message));
  const notJson = newRecordedEvent({ ...base, data: Buffer.from('{nope') });
  assert.throws(() => notJson.json(), (err: unknown) => err instanceof SyntaxError && /its data is not JSON/.test(err.message) && err.cause instanceof SyntaxError);
  assert.throws(() => newRecordedEvent({ ...base, metadata: Buffer.from('x') }).metadataJson(), SyntaxError);

  const shredded = decodePage(hex(vectors.page.packed))[1];
  for (const read of [() => shredded.json(), () => shredded.text(), () => shredded.metadataJson()]) {
    assert.throws(read, (err: unknown) => err instanceof ShreddedError && err.stream === 'order-1' && err.revision === 1n && /shredded/.test(err.message));
  }

  // Inspection and JSON show the fields, not the page.
  const shown = inspect(e);
  assert.match(shown, /^RecordedEvent \{/);
  assert.match(shown, /revision: 0n/);
  assert.match(shown, /id: '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d'/);
  assert.deepEqual(JSON.parse(JSON.stringify(e)), {
    stream: 'order-1',
    revision: '0',
    position: '7',
    timestampMicros: '1733300000000000',
    id: '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d',
    type: 'OrderPlaced',
    contentType: 'application/json',
    data: Buffer.from('{"qty":2}').toString('base64'),
    metadata: Buffer.from('{"by":"me"}').toString('base64'),
    shredded: false,
    schemaVersion: 3,
  });
});

void test('RecordedEvent: u64 and i64 fields at their limits, strings in any script', () => {
  const max = (1n << 64n) - 1n;
  const fields: RecordedEventFields = {
    stream: 'ordér-☃-𝄞',
    revision: max,
    position: (1n << 53n) + 1n,
    timestampMicros: -(1n << 63n),
    id: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    type: 'Type→€',
    contentType: 'text/plain; charset=utf-8',
    data: Buffer.from('héllo'),
    metadata: Buffer.alloc(0),
    shredded: false,
    schemaVersion: 0xffffffff,
  };
  const e = newRecordedEvent(fields);
  assert.deepEqual(e.toFields(), fields);
  const page = encodePage([fields, { ...fields, revision: 0n, timestampMicros: (1n << 63n) - 1n, stream: 's' }, fields]);
  const events = decodePage(page);
  assert.deepEqual(
    events.map((x) => x.toFields()),
    [fields, { ...fields, revision: 0n, timestampMicros: (1n << 63n) - 1n, stream: 's' }, fields],
  );
  // The strings of a page are shared, not copied per event.
  assert.equal(events[0].stream, events[2].stream);
  assert.deepEqual(encodePage(events), page);
});

// ---- UUIDs and the encoder's checks -------------------------------------------------------------------

void test('UUID text: canonical in, lowercase out, anything else a TypeError naming the event', () => {
  const id = '0190B0C4-7D8E-7A3B-9C1D-2E3F4A5B6C7D';
  assert.equal(formatUuid(parseUuid(id)), id.toLowerCase());
  assert.equal(formatUuid(parseUuid('00000000-0000-0000-0000-000000000000')), '00000000-0000-0000-0000-000000000000');
  const event = (i: unknown): EventToEncode => ({ id: i as string, type: 't', contentType: 'c', data: new Uint8Array(0) });
  for (const bad of [
    '',
    '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7',
    '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d0',
    '0190b0c47d8e7a3b9c1d2e3f4a5b6c7d',
    '{0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d}',
    'urn:uuid:0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d',
    '0190b0c4_7d8e-7a3b-9c1d-2e3f4a5b6c7d',
    '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7g',
    '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7\u0660',
    ' 0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7',
    '0190b0c4-7d8e-7a3b-9c1d+2e3f4a5b6c7d',
    '0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c-d',
  ]) {
    assert.throws(
      () => encodeEvents([event(undefined), event(bad)]),
      (e: unknown) => e instanceof TypeError && /^event 1: id .* is not a UUID/.test(e.message),
      bad,
    );
    assert.throws(() => parseUuid(bad), TypeError, bad);
  }
  assert.throws(() => encodeEvents([event(42)]), (e: unknown) => e instanceof TypeError && /event 0: id must be a UUID string/.test(e.message));
  // null and undefined are no id.
  assert.deepEqual(encodeEvents([event(null)]), encodeEvents([event(undefined)]));
});

void test('the encoder refuses values of the wrong type, naming the event', () => {
  const ok: EventToEncode = { type: 't', contentType: 'c', data: Buffer.from('x') };
  const cases: [unknown, RegExp][] = [
    [null, /^event 1 must be an object/],
    [{ ...ok, type: 5 }, /^event 1: type must be a string/],
    [{ ...ok, contentType: undefined }, /^event 1: contentType must be a string/],
    [{ ...ok, data: 'text' }, /^event 1: data must be a Uint8Array/],
    [{ ...ok, data: [1, 2] }, /^event 1: data must be a Uint8Array/],
    [{ ...ok, metadata: new Uint16Array(2) }, /^event 1: metadata must be a Uint8Array/],
    [{ ...ok, type: 'a\uD800b' }, /^event 1: type has a lone surrogate/],
    [{ ...ok, contentType: '\uDC00' }, /^event 1: contentType has a lone surrogate/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => encodeEvents([ok, bad as EventToEncode]), (e: unknown) => e instanceof TypeError && message.test(e.message), String(message));
  }
  assert.throws(() => encodeEvents('x' as unknown as EventToEncode[]), TypeError);
  // Surrogate pairs are text: 4 bytes of UTF-8.
  const packed = encodeEvents([{ ...ok, type: '𝄞' }]);
  assert.equal(decodeEvents(packed)[0].type, '𝄞');
});

// ---- lossless JSON ----------------------------------------------------------------------------------

void test('parseJsonLossless: integers beyond 2^53 are bigints, everything else is what JSON.parse makes', () => {
  const safe = Number.MAX_SAFE_INTEGER;
  assert.equal(parseJsonLossless(String(safe)), safe);
  assert.equal(parseJsonLossless(String(-safe)), -safe);
  assert.equal(parseJsonLossless('9007199254740992'), 9007199254740992n);
  assert.equal(parseJsonLossless('-9007199254740992'), -9007199254740992n);
  assert.equal(parseJsonLossless('9007199254740993'), 9007199254740993n);
  assert.equal(parseJsonLossless('18446744073709551615'), (1n << 64n) - 1n);
  assert.equal(parseJsonLossless('123456789012345678901234567890'), 123456789012345678901234567890n);
  assert.equal(parseJsonLossless('000000000000000'.replace(/^0+/, '0')), 0);
  assert.equal(parseJsonLossless('100000000000000'), 100000000000000);
  // Fractions and exponents stay numbers, as in JSON.parse.
  assert.equal(parseJsonLossless('9007199254740993.0'), 9007199254740992);
  assert.equal(parseJsonLossless('1e20'), 1e20);
  assert.equal(parseJsonLossless('-0'), -0);
  assert.ok(Object.is(parseJsonLossless('-0'), -0));
  // Digits inside strings are text.
  assert.deepEqual(parseJsonLossless('{"a":"18446744073709551615","b\\"9007199254740993":[18446744073709551615,"\\u0031"]}'), {
    a: '18446744073709551615',
    'b"9007199254740993': [(1n << 64n) - 1n, '1'],
  });
  // Objects as JSON.parse makes them: __proto__ an own key, the last duplicate wins.
  const proto = parseJsonLossless('{"__proto__":{"x":1},"y":2}') as Record<string, unknown>;
  assert.deepEqual(Object.keys(proto), ['__proto__', 'y']);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(proto, JSON.parse('{"__proto__":{"x":1},"y":2}'));
  assert.deepEqual(parseJsonLossless('{"a":1,"a":2}'), { a: 2 });
});

void test('parseJsonLossless agrees with JSON.parse on what it accepts and refuses', () => {
  const good = [
    'null', 'true', 'false', '0', '-1', '1.5', '-1.5e-3', '1E+2', '""', '"a\\/b\\n\\t\\r\\b\\f\\\\"', '"\\ud83d\\ude00"', '"é€𝄞"',
    '[]', '{}', ' [ 1 , [ 2 , { "a" : [ ] } ] ] ', '\t\r\n{"k":null}\n', '"\u2028"', '[1e400]', '{"":0}', '"\\u0000"',
  ];
  for (const text of good) {
    assert.deepEqual(parseJsonLossless(text), JSON.parse(text), text);
  }
  const bad = [
    '', ' ', 'nul', 'True', '01', '1.', '.5', '+1', '-', '1e', '0x10', 'NaN', 'Infinity', '[1,]', '{"a":1,}', '[1 2]', '{"a" 1}', '{a:1}',
    "'a'", '"a', '"\\x"', '"\\u12"', '"a\nb"', '"\t"', '[', ']', '{"a":}', '1 2', '[1]x', '\u00a0 1', '/**/1', '\ufeff1',
  ];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse accepts ${JSON.stringify(text)}`);
    assert.throws(() => parseJsonLossless(text), SyntaxError, JSON.stringify(text));
  }
  // Random documents without large integers: the same values as JSON.parse.
  const random = rng(7);
  const value = (depth: number): unknown => {
    const r = random();
    if (depth > 3 || r < 0.4) {
      const s = random();
      if (s < 0.25) return Math.floor(random() * 2 ** 52) * (random() < 0.5 ? -1 : 1);
      if (s < 0.5) return random() * 1e6;
      if (s < 0.75) return String.fromCharCode(...Array.from({ length: Math.floor(random() * 8) }, () => Math.floor(random() * 0x3000)));
      return [null, true, false][Math.floor(random() * 3)];
    }
    if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}${String(random())}`, value(depth + 1)]));
  };
  for (let i = 0; i < 500; i++) {
    const text = JSON.stringify(value(0), null, i % 2 === 0 ? undefined : 1);
    assert.deepEqual(parseJsonLossless(text), JSON.parse(text), text);
  }
});

void test('stringifyJsonLossless: bigints written whole; what JSON cannot hold refused', () => {
  const max = (1n << 64n) - 1n;
  assert.equal(stringifyJsonLossless({ a: max, b: [1n, -9007199254740993n], c: 'x' }), '{"a":18446744073709551615,"b":[1,-9007199254740993],"c":"x"}');
  // A number is written as JSON.stringify writes it (2 ** 53 + 1 is the double 2 ** 53), then reads back as a bigint.
  assert.deepEqual(parseJsonLossless(stringifyJsonLossless({ a: max, b: 2 ** 53 + 1 })), { a: max, b: 2n ** 53n });
  for (const v of [null, true, 0, -0, 1.5, 'é"\\\n', [], {}, [undefined, 1], { a: undefined, b: null }, new Date(0), { nested: { deep: [1, { x: 'y' }] } }]) {
    assert.equal(stringifyJsonLossless(v), JSON.stringify(v), JSON.stringify(v));
  }
  for (const v of [undefined, Number.NaN, Infinity, [Infinity], { a: () => 1 }, Symbol('s')]) {
    assert.throws(() => stringifyJsonLossless(v), TypeError);
  }
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => stringifyJsonLossless(cycle), (e: unknown) => e instanceof TypeError && /cycle/.test(e.message));
  // The same object twice (not a cycle) is fine.
  const shared = { x: 1 };
  assert.equal(stringifyJsonLossless([shared, shared]), '[{"x":1},{"x":1}]');
});
