// The client on embedded stores: every operation of the core, errors with their typed fields,
// paging, cancellation, the event loop kept free, panics, handles freed by close and by GC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  ClosedError,
  Graveyard,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  StreamDeletedError,
  WrongExpectedVersionError,
  nativeVersion,
  type RecordedEvent,
} from "../src/index";
import { addon } from "../src/native";
import { fromNative } from "../src/errors";
import { openTemp, tempDir } from "./helpers";

const json = (n: number) => ({ type: "Counted", data: { n } });

void test("append then read a stream back, with bigint revisions and positions", async (t) => {
  const store = await openTemp(t);
  assert.equal(store.embedded, true);
  const r = await store.append("order-1", [json(1), json(2)], { expectedVersion: "no_stream" });
  assert.deepEqual(r, { firstRevision: 0n, lastRevision: 1n, firstPosition: 0n, lastPosition: 1n });
  const again = await store.append("order-1", json(3), { expectedVersion: 1n });
  assert.equal(again.lastRevision, 2n);
  const events = await store.readStream("order-1").toArray();
  assert.deepEqual(
    events.map((e) => [e.stream, e.revision, e.position, e.type, e.contentType, e.json()]),
    [
      ["order-1", 0n, 0n, "Counted", "application/json", { n: 1 }],
      ["order-1", 1n, 1n, "Counted", "application/json", { n: 2 }],
      ["order-1", 2n, 2n, "Counted", "application/json", { n: 3 }],
    ],
  );
  assert.match(events[0].id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(events[0].timestamp instanceof Date);
  assert.ok(Math.abs(events[0].timestamp.getTime() - Date.now()) < 60_000);
  assert.equal(await store.headPosition(), 3n);
  assert.equal(typeof nativeVersion(), "string");
});

void test("data forms: bytes, text, JSON, explicit content types and ids; metadata", async (t) => {
  const store = await openTemp(t);
  const id = "0190a4e0-0000-7000-8000-000000000001";
  await store.append("s", [
    { type: "Bin", data: new Uint8Array([0, 1, 255]) },
    { type: "Text", data: "héllo", metadata: { by: "me" } },
    { type: "Csv", data: "a,b", contentType: "text/csv", id },
    { type: "Empty" },
  ]);
  const [bin, text, csv, empty] = await store.readStream("s").toArray();
  assert.deepEqual([...bin.data], [0, 1, 255]);
  assert.equal(bin.contentType, "application/octet-stream");
  assert.equal(text.text(), "héllo");
  assert.equal(text.contentType, "text/plain");
  assert.deepEqual(JSON.parse(text.metadata.toString("utf8")), { by: "me" });
  assert.equal(csv.id, id);
  assert.equal(csv.contentType, "text/csv");
  assert.equal(empty.data.length, 0);
  // The same id again is an idempotent retry: nothing new is written.
  await store.append("s", { type: "Csv", data: "a,b", contentType: "text/csv", id });
  assert.equal((await store.readStream("s").toArray()).length, 4);
});

void test("a wrong expected version is WrongExpectedVersionError with typed fields", async (t) => {
  const store = await openTemp(t);
  await store.append("s", json(1));
  await assert.rejects(store.append("s", json(2), { expectedVersion: "no_stream" }), (e: unknown) => {
    assert.ok(e instanceof WrongExpectedVersionError);
    assert.equal(e.code, "WRONG_EXPECTED_VERSION");
    assert.equal(e.stream, "s");
    assert.equal(e.expected, "no_stream");
    assert.equal(e.actual, 0n);
    return true;
  });
  await assert.rejects(store.append("t", json(1), { expectedVersion: 5n }), (e: unknown) => {
    assert.ok(e instanceof WrongExpectedVersionError);
    assert.equal(e.expected, 5n);
    assert.equal(e.actual, "no_stream");
    return true;
  });
  await assert.rejects(store.append("t", json(1), { expectedVersion: "stream_exists" }), WrongExpectedVersionError);
});

void test("bad input of every kind is a clear error and writes nothing", async (t) => {
  const store = await openTemp(t);
  await assert.rejects(store.append("", json(1)), InvalidArgumentError);
  await assert.rejects(store.append("s", { type: "" }), InvalidArgumentError);
  await assert.rejects(store.append("s", { type: "T", id: "not-a-uuid" }), TypeError);
  await assert.rejects(store.append("s", [json(1), 42 as unknown as object]), TypeError);
  await assert.rejects(store.append("s", { nope: 1 }), TypeError);
  await assert.rejects(store.append("s", { type: "T", data: "{", contentType: "application/json" }), InvalidArgumentError);
  await assert.rejects(store.append("s", json(1), { expectedVersion: -1n }), (e: unknown) => e instanceof RangeError || e instanceof InvalidArgumentError);
  await assert.rejects(store.readStream("s", { from: 2n ** 64n }).toArray(), (e: unknown) => e instanceof RangeError || e instanceof InvalidArgumentError);
  await assert.rejects(store.readStream("never").toArray().then(() => store.streamInfo("never")), NotFoundError);
  assert.equal(await store.headPosition(), 0n);
  await assert.rejects(Graveyard.open(join(tempDir(t), "x"), { durability: "sometimes" as "none" }), TypeError);
  await assert.rejects(Graveyard.open(join(tempDir(t), "k"), { masterKey: new Uint8Array(5) }), InvalidArgumentError);
});

void test("reads page underneath: directions, from, maxCount, pages(), readAll with a filter", async (t) => {
  const store = await openTemp(t);
  for (let i = 0; i < 10; i++) await store.append(i % 2 ? "odd-1" : "even-1", { type: i % 3 ? "A" : "B", data: { i } });
  const even = await store.readStream("even-1", { pageSize: 2 }).toArray();
  assert.deepEqual(even.map((e) => e.json<{ i: number }>().i), [0, 2, 4, 6, 8]);
  const back = await store.readStream("even-1", { direction: "backwards", pageSize: 2, maxCount: 3 }).toArray();
  assert.deepEqual(back.map((e) => e.revision), [4n, 3n, 2n]);
  const from = await store.readStream("even-1", { from: 3n }).toArray();
  assert.deepEqual(from.map((e) => e.revision), [3n, 4n]);
  const sizes: number[] = [];
  for await (const page of store.readAll({ pageSize: 4 }).pages()) sizes.push(page.length);
  assert.deepEqual(sizes, [4, 4, 2]);
  const seen: bigint[] = [];
  for await (const e of store.readAll({ pageSize: 3, filter: { streamPrefixes: ["odd-"], eventTypes: ["A"] } })) seen.push(e.position);
  assert.deepEqual(seen, [1n, 5n, 7n]);
  const last = await store.readAll({ direction: "backwards", maxCount: 1 }).toArray();
  assert.equal(last[0].position, 9n);
  // Breaking out of a loop stops the read.
  let n = 0;
  for await (const _ of store.readAll({ pageSize: 2 })) if (++n === 3) break;
  assert.equal(n, 3);
  // A stream with no visible events yields nothing.
  assert.deepEqual(await store.readStream("nothing").toArray(), []);
});

async function pageLength(pages: AsyncIterator<RecordedEvent[], unknown>): Promise<number> {
  const page = await pages.next();
  assert.ok(!page.done);
  return page.value.length;
}

// When each page is read (ahead of the caller, never past the end) and what leaving early
// cancels are in pages.test.ts, over a fake read: a real store answers too fast to tell.
void test("paged reads of a real store: full pages, maxCount, appends between pages, an abort or a failure between pages reach the caller, nothing is left unhandled", async (t) => {
  const store = await openTemp(t);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));
  await store.append("s", [json(0), json(1), json(2), json(3)]);
  // Exactly two full pages: the read ahead of a third finds nothing and ends the iteration.
  const sizes: number[] = [];
  for await (const page of store.readStream("s", { pageSize: 2 }).pages()) sizes.push(page.length);
  assert.deepEqual(sizes, [2, 2]);
  // maxCount reached on a full page: nothing is read ahead past it.
  assert.deepEqual((await store.readStream("s", { pageSize: 2, maxCount: 2 }).toArray()).map((e) => e.revision), [0n, 1n]);
  // Events appended while the caller holds a page are read by the pages after it.
  const seen: bigint[] = [];
  for await (const page of store.readStream("s", { pageSize: 2 }).pages()) {
    for (const e of page) seen.push(e.revision);
    if (seen.length === 2) await store.append("s", [json(4), json(5), json(6)]);
  }
  // Page 2 (revisions 2, 3) was read ahead before the append; the pages after it were not.
  assert.deepEqual(seen, [0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  // An abort while a page is read ahead rejects the next page with the signal's reason.
  const controller = new AbortController();
  const pages = store.readStream("s", { pageSize: 3, signal: controller.signal }).pages()[Symbol.asyncIterator]();
  assert.equal(await pageLength(pages), 3);
  controller.abort(new Error("enough"));
  await assert.rejects(pages.next(), /enough/);
  // A failure of the page read ahead, met by a caller who stopped iterating without return()
  // (the iterator is dropped), is no unhandled rejection; one who goes on gets it.
  const abandoned = new AbortController();
  const dropped = store.readStream("s", { pageSize: 1, signal: abandoned.signal }).pages()[Symbol.asyncIterator]();
  assert.equal(await pageLength(dropped), 1);
  abandoned.abort(new Error("dropped"));
  // A stream tombstoned between two pages: the page read ahead fails, and the next page says so.
  await store.append("t", [json(0), json(1)]);
  const doomed = store.readStream("t", { pageSize: 1 }).pages()[Symbol.asyncIterator]();
  assert.equal(await pageLength(doomed), 1);
  await store.tombstoneStream("t");
  // The read ahead ran before the tombstone (revision 1) or after it (STREAM_DELETED).
  const second = await doomed.next().catch((e: unknown) => e);
  if (!(second instanceof StreamDeletedError)) {
    const page = second as IteratorResult<RecordedEvent[], unknown>;
    assert.ok(!page.done);
    assert.equal(page.value[0].revision, 1n);
  }
  // Leaving with a page read ahead: the native side's CANCELLED answer goes nowhere.
  for await (const page of store.readStream("s", { pageSize: 1 }).pages()) {
    assert.equal(page.length, 1);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(unhandled, []);
});

void test("metadata, stream info, soft delete and tombstone", async (t) => {
  const store = await openTemp(t);
  await store.append("s", [json(1), json(2), json(3)]);
  await store.setStreamMetadata("s", { maxCount: 2n });
  assert.deepEqual(await store.getStreamMetadata("s"), { maxCount: 2n, maxAgeMs: undefined, truncateBefore: undefined });
  assert.deepEqual((await store.readStream("s").toArray()).map((e) => e.revision), [1n, 2n]);
  const info = await store.streamInfo("s");
  assert.equal(info.current, 2n);
  assert.equal(info.nextRevision, 3n);
  assert.equal(info.deleted, false);
  await store.deleteStream("s", { expectedVersion: 2n });
  assert.deepEqual(await store.readStream("s").toArray(), []);
  assert.equal((await store.streamInfo("s")).deleted, true);
  await store.append("s", json(4));
  assert.deepEqual((await store.readStream("s").toArray()).map((e) => e.revision), [3n]);
  await store.tombstoneStream("s");
  await assert.rejects(store.append("s", json(5)), (e: unknown) => e instanceof StreamDeletedError && e.stream === "s");
  await assert.rejects(store.readStream("s").toArray(), StreamDeletedError);
});

void test("listStreams pages through the streams by name with each one's state", async (t) => {
  const store = await openTemp(t);
  assert.deepEqual(await store.listStreams(), []);
  for (const name of ["order-2", "order-1", "user-1", "order-3"]) {
    await store.append(name, [json(1), json(2)]);
  }
  await store.deleteStream("order-2");
  await store.tombstoneStream("order-3");
  const first = await store.listStreams({ prefix: "order-", limit: 2 });
  assert.deepEqual(first.map((s) => s.name), ["order-1", "order-2"], "byte order, the prefix only");
  const rest = await store.listStreams({ prefix: "order-", after: first[1].name, limit: 2n });
  assert.deepEqual(rest.map((s) => s.name), ["order-3"]);
  assert.deepEqual(first[0], {
    name: "order-1",
    nextRevision: 2n,
    lastPosition: 3n,
    deleted: false,
    deletedBefore: 0n,
    tombstoned: false,
    shredded: false,
  });
  assert.deepEqual([first[1].deleted, first[1].deletedBefore, first[1].tombstoned], [true, 2n, false]);
  assert.deepEqual([rest[0].tombstoned, rest[0].nextRevision], [true, 2n]);
  assert.deepEqual((await store.listStreams()).map((s) => s.name), ["order-1", "order-2", "order-3", "user-1"]);
  for (const limit of [0, 10_001, -1n]) {
    await assert.rejects(store.listStreams({ limit }), InvalidArgumentError);
  }
  await assert.rejects(store.listStreams({ limit: 1.5 }), RangeError);
});

void test("snapshots", async (t) => {
  const store = await openTemp(t);
  assert.equal(await store.getSnapshot("s"), undefined);
  await store.append("s", [json(1), json(2)]);
  await store.saveSnapshot("s", 1n, JSON.stringify({ total: 3 }));
  const snap = await store.getSnapshot("s");
  assert.equal(snap?.stream, "s");
  assert.equal(snap?.revision, 1n);
  assert.deepEqual(JSON.parse(snap.data.toString("utf8")), { total: 3 });
});

void test("encryption at rest, crypto-shredding and key rotation", async (t) => {
  const dir = join(tempDir(t), "enc");
  const key = randomBytes(32);
  const store = await Graveyard.open(dir, { durability: "none", masterKey: key });
  assert.equal(store.isEncrypted(), true);
  await store.append("user-1", { type: "Registered", data: { email: "a@example.com" } });
  await store.append("user-2", { type: "Registered", data: { email: "b@example.com" } });
  await store.shredStream("user-1");
  const [shredded] = await store.readStream("user-1").toArray();
  assert.equal(shredded.shredded, true);
  assert.equal(shredded.data.length, 0);
  assert.throws(() => shredded.json());
  const key2 = randomBytes(32);
  await store.rotateMasterKey(key2);
  await store.close();
  const reopened = await Graveyard.open(dir, { durability: "none", masterKey: key2 });
  const [kept] = await reopened.readStream("user-2").toArray();
  assert.deepEqual(kept.json(), { email: "b@example.com" });
  await reopened.close();
  await assert.rejects(Graveyard.open(dir, { durability: "none", masterKey: key }), (e: unknown) => (e as { code?: string }).code === "ENCRYPTION");
  const plain = await openTemp(t);
  assert.equal(plain.isEncrypted(), false);
});

void test("close: later calls are ClosedError, closing twice is harmless, await using closes", async (t) => {
  const store = await openTemp(t);
  await store.append("s", json(1));
  await store.close();
  await store.close();
  await assert.rejects(store.append("s", json(2)), ClosedError);
  await assert.rejects(store.readStream("s").toArray(), ClosedError);
  const dir = join(tempDir(t), "using");
  {
    await using scoped = await Graveyard.open(dir, { durability: "none" });
    await scoped.append("s", json(1));
  }
  // Closed at the end of the block: opening with other options works (an open store would refuse).
  const again = await Graveyard.open(dir, { durability: "fsync" });
  assert.equal((await again.readStream("s").toArray()).length, 1);
  await again.close();
});

void test("a panic in native code is InternalError, never a crashed process", async () => {
  assert.throws(() => addon.selfTestPanic(), (e: unknown) => (e as { code?: string }).code === "INTERNAL");
  await assert.rejects(addon.selfTestPanicAsync(), (e: unknown) => (e as { code?: string }).code === "INTERNAL");
  assert.ok(fromNative(catchSync(() => addon.selfTestPanic())) instanceof InternalError);
});

function catchSync(f: () => void): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("no error");
}

void test("an AbortSignal cancels a waiting call at once with its reason", async (t) => {
  const store = await openTemp(t);
  const aborted = AbortSignal.abort(new Error("not now"));
  await assert.rejects(store.append("s", json(1), { signal: aborted }), /not now/);
  const controller = new AbortController();
  const sub = await store.subscribeToStream("quiet", { from: "end" });
  assert.deepEqual(await sub.next(), { done: false, value: { kind: "caughtUp" } });
  const waiting = sub.next();
  // Nothing arrives on "quiet": only the signal can end the wait.
  const pending = sub.poll(undefined, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, (e: unknown) => (e as Error).name === "AbortError");
  sub.cancel();
  assert.deepEqual(await waiting, { done: true, value: undefined });
  const timeout = AbortSignal.timeout(50);
  const started = Date.now();
  const slowSub = await store.subscribeToAll({ from: "end" });
  assert.deepEqual(await slowSub.poll(), { kind: "caughtUp" });
  await assert.rejects(slowSub.poll(undefined, { signal: timeout }), (e: unknown) => (e as Error).name === "TimeoutError");
  assert.ok(Date.now() - started < 10_000);
  await slowSub.return();
});

/**
 * Calls `start` and waits for its promise: how long the call itself held the loop (until it
 * returned its promise), how long until the promise settled, and how many turns of a 1 ms timer
 * came in between. A call doing its work on the loop would hold it for about all of it.
 */
async function timed<T>(start: () => Promise<T>): Promise<{ value: T; held: number; total: number; turns: number }> {
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  try {
    const started = performance.now();
    const promise = start();
    const held = performance.now() - started;
    const value = await promise;
    return { value, held, total: performance.now() - started, turns };
  } finally {
    clearInterval(timer);
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

void test("the event loop keeps turning during a long scan and during fsyncs", async (t) => {
  const fsynced = await openTemp(t, { durability: "fsync" });
  const big = await openTemp(t);
  const batch = Array.from({ length: 1000 }, (_, i) => ({ type: "E", data: { i, pad: "x".repeat(200) } }));
  for (let i = 0; i < 100; i++) await big.append(`s-${i % 7}`, batch);

  // One read of 100,000 events: the store reads them off the loop, which keeps turning.
  // Proportions, not timings: a blocking read would hold the loop for all of it.
  const scan = await timed(() => big.readAllPage({ maxCount: 100_000 }));
  assert.equal(scan.value.length, 100_000);
  assert.ok(scan.held < scan.total / 2, `the scan held the loop ${scan.held.toFixed(1)} of ${scan.total.toFixed(1)} ms`);
  assert.ok(scan.turns > 0, `no turn of the loop in ${scan.total.toFixed(1)} ms of scanning`);

  // Appends acknowledged after their fsync: each call returns at once, the fsync happens off the loop.
  const held: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < 21; i++) {
    const append = await timed(() => fsynced.append("f", json(i)));
    held.push(append.held);
    total.push(append.total);
  }
  assert.ok(
    median(held) < median(total) / 2,
    `an fsynced append held the loop ${median(held).toFixed(2)} of ${median(total).toFixed(2)} ms (medians)`,
  );
});

void test("a store dropped without close is freed by garbage collection", async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with --expose-gc");
  const dir = join(tempDir(t), "gc");
  await (async () => {
    const dropped = await Graveyard.open(dir, { durability: "none" });
    await dropped.append("s", json(1));
  })();
  // While the first handle lives, other options are refused; once it is collected (its engine
  // released, once), they are accepted.
  let reopened: Graveyard | undefined;
  for (let attempt = 0; attempt < 100 && reopened === undefined; attempt++) {
    gc();
    await new Promise((r) => setImmediate(r));
    try {
      reopened = await Graveyard.open(dir, { durability: "fsync" });
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  assert.ok(reopened, "the dropped store was never released");
  const events: RecordedEvent[] = await reopened.readStream("s").toArray();
  assert.equal(events.length, 1);
  await reopened.close();
});
