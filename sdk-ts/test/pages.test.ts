// `pages`, the iterator under readStream and readAll, over a fake read whose calls are recorded
// and whose promises the test settles: which reads are made, and when, relative to what the
// caller has taken; what leaving early cancels; where a failure of the read ahead goes. A real
// store answers too fast to tell a page read ahead from one read when asked for.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { pages, type EventIterable, type ReadOptions } from "../src/client";
import { encodePage } from "../src/packed";
import { NotFoundError } from "../src/errors";
import type { RecordedEvent, RecordedEventFields } from "../src/model";
import type { NativeCancel } from "../src/native";

interface Read {
  from: bigint | null;
  limit: bigint;
  token: NativeCancel | undefined;
  resolve(page: Buffer): void;
  reject(error: Error): void;
}

type ReadFn = (from: bigint | null, limit: bigint, token: NativeCancel | undefined) => Promise<Buffer>;

/** A read that records each call and leaves its promise for the test to settle. */
function fakeRead(): { reads: Read[]; read: ReadFn } {
  const reads: Read[] = [];
  const read: ReadFn = (from, limit, token) =>
    new Promise<Buffer>((resolve, reject) => {
      reads.push({ from, limit, token, resolve, reject });
    });
  return { reads, read };
}

function event(revision: bigint): RecordedEventFields {
  return {
    stream: "s",
    revision,
    position: revision,
    timestampMicros: 0n,
    id: "00000000-0000-0000-0000-000000000000",
    type: "T",
    contentType: "application/json",
    data: Buffer.from("{}"),
    metadata: Buffer.alloc(0),
    shredded: false,
    schemaVersion: undefined,
  };
}

const page = (...revisions: number[]): Buffer => encodePage(revisions.map((r) => event(BigInt(r))));
const revisionOf = (e: RecordedEvent): bigint => e.revision;
const revisions = (events: readonly RecordedEvent[]): bigint[] => events.map(revisionOf);

/**
 * A read of a stream of `count` events (revisions 0 to count - 1) that answers at once, as the
 * core does: up to `limit` events from `from` (absent: the first, or the last backwards).
 */
function streamOf(count: number, backwards = false): { reads: [bigint | null, bigint][]; read: ReadFn } {
  const reads: [bigint | null, bigint][] = [];
  const read: ReadFn = (from, limit) => {
    reads.push([from, limit]);
    const found: number[] = [];
    let r = from === null ? (backwards ? count - 1 : 0) : Number(from);
    while (found.length < limit && r >= 0 && r < count) {
      found.push(r);
      r += backwards ? -1 : 1;
    }
    return Promise.resolve(page(...found));
  };
  return { reads, read };
}

/**
 * Iterates `.pages()` to the end, noting for each page how many reads had been made when it
 * reached the caller (a page read ahead is one more than the pages seen so far).
 */
async function trace(options: ReadOptions, count: number): Promise<{ pages: bigint[][]; readsAt: number[]; reads: [bigint | null, bigint][] }> {
  const { reads, read } = streamOf(count, options.direction === "backwards");
  const seen: bigint[][] = [];
  const readsAt: number[] = [];
  for await (const p of pages(options, read, revisionOf, true).pages()) {
    seen.push(revisions(p));
    readsAt.push(reads.length);
  }
  return { pages: seen, readsAt, reads };
}

/** The revision of the next event, undefined at the end. */
async function nextRevision(it: AsyncIterator<RecordedEvent, unknown>): Promise<bigint | undefined> {
  const next = await it.next();
  return next.done ? undefined : next.value.revision;
}

/** Records unhandled rejections while the test runs. */
function watchUnhandled(t: TestContext): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));
  return unhandled;
}

/** Past the microtasks: Node reports a rejection nobody handled by then. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How the native side fails a call whose token was pulled. */
const cancelled = (): Error => Object.assign(new Error("the call was cancelled"), { code: "CANCELLED" });

void test("pages: the next page is read while the caller holds the current one, before it asks for more", async () => {
  const { reads, read } = fakeRead();
  const iterable = pages({ pageSize: 2 }, read, revisionOf, true);
  const it = iterable.pages()[Symbol.asyncIterator]();
  const first = it.next();
  assert.equal(reads.length, 1);
  assert.deepEqual([reads[0].from, reads[0].limit], [null, 2n]);
  reads[0].resolve(page(0, 1));
  const p1 = await first;
  assert.ok(!p1.done);
  assert.deepEqual(revisions(p1.value), [0n, 1n]);
  // The caller has page 1 and has not asked for page 2: page 2 is being read, from after page 1.
  assert.equal(reads.length, 2);
  assert.deepEqual([reads[1].from, reads[1].limit], [2n, 2n]);
  reads[1].resolve(page(2, 3));
  const p2 = await it.next();
  assert.ok(!p2.done);
  assert.deepEqual(revisions(p2.value), [2n, 3n]);
  assert.equal(reads.length, 3);
  assert.deepEqual([reads[2].from, reads[2].limit], [4n, 2n]);
  reads[2].resolve(page());
  assert.deepEqual(await it.next(), { done: true, value: undefined });
  assert.equal(reads.length, 3);

  // Over events, the same: at the first event of a page, the next page is being read.
  const events = fakeRead();
  const all = pages({ pageSize: 2 }, events.read, revisionOf, true)[Symbol.asyncIterator]();
  const e0 = nextRevision(all);
  events.reads[0].resolve(page(0, 1));
  assert.equal(await e0, 0n);
  assert.equal(events.reads.length, 2);
  events.reads[1].resolve(page(2));
  assert.equal(await nextRevision(all), 1n);
  assert.equal(await nextRevision(all), 2n);
  // Page 2 is short: nothing is read after it.
  assert.equal(events.reads.length, 2);
  assert.equal(await nextRevision(all), undefined);
});

void test("pages: nothing is read past the end: a short page, an empty one, or a full last page then an empty read", async () => {
  // A short page ends the read: no read ahead of it.
  assert.deepEqual(await trace({ pageSize: 2 }, 3), {
    pages: [[0n, 1n], [2n]],
    readsAt: [2, 2],
    reads: [[null, 2n], [2n, 2n]],
  });
  // Only a read tells a full last page from more: it finds nothing, and the read ends.
  assert.deepEqual(await trace({ pageSize: 2 }, 4), {
    pages: [[0n, 1n], [2n, 3n]],
    readsAt: [2, 3],
    reads: [[null, 2n], [2n, 2n], [4n, 2n]],
  });
  assert.deepEqual(await trace({ pageSize: 2 }, 0), { pages: [], readsAt: [], reads: [[null, 2n]] });
});

void test("pages: nothing is read past maxCount", async () => {
  assert.deepEqual(await trace({ pageSize: 2, maxCount: 4 }, 10), {
    pages: [[0n, 1n], [2n, 3n]],
    readsAt: [2, 2],
    reads: [[null, 2n], [2n, 2n]],
  });
  // The last read asks only for what is left.
  assert.deepEqual(await trace({ pageSize: 2, maxCount: 3n }, 10), {
    pages: [[0n, 1n], [2n]],
    readsAt: [2, 2],
    reads: [[null, 2n], [2n, 1n]],
  });
  assert.deepEqual(await trace({ pageSize: 2, maxCount: 2, from: 5n }, 10), {
    pages: [[5n, 6n]],
    readsAt: [1],
    reads: [[5n, 2n]],
  });
  assert.deepEqual(await trace({ pageSize: 2, maxCount: 0 }, 10), { pages: [], readsAt: [], reads: [] });
});

void test("pages: backwards, nothing is read past revision 0", async () => {
  assert.deepEqual(await trace({ pageSize: 2, direction: "backwards" }, 4), {
    pages: [[3n, 2n], [1n, 0n]],
    readsAt: [2, 2],
    reads: [[null, 2n], [1n, 2n]],
  });
  assert.deepEqual(await trace({ pageSize: 3, direction: "backwards", from: 5n }, 10), {
    pages: [[5n, 4n, 3n], [2n, 1n, 0n]],
    readsAt: [2, 2],
    reads: [[5n, 3n], [2n, 3n]],
  });
});

void test("pages: leaving early (break over pages or events, a throw in the loop) cancels the read ahead, without waiting for it", async (t) => {
  const unhandled = watchUnhandled(t);
  const signal = new AbortController().signal;
  const leavers: [string, ReadOptions, (iterable: EventIterable) => Promise<void>][] = [
    ["break over pages", { pageSize: 2 }, async (iterable) => {
      for await (const p of iterable.pages()) {
        assert.equal(p.length, 2);
        break;
      }
    }],
    ["break over events", { pageSize: 2 }, async (iterable) => {
      for await (const e of iterable) {
        assert.equal(e.revision, 0n);
        break;
      }
    }],
    ["a throw in the loop", { pageSize: 2 }, (iterable) =>
      assert.rejects(async () => {
        for await (const p of iterable.pages()) throw new Error(`caller gives up at ${p.length}`);
      }, /caller gives up at 2/)],
    ["break, with a signal", { pageSize: 2, signal }, async (iterable) => {
      for await (const p of iterable.pages()) {
        assert.equal(p.length, 2);
        break;
      }
    }],
  ];
  for (const [what, options, leave] of leavers) {
    const { reads, read } = fakeRead();
    const left = leave(pages(options, read, revisionOf, true));
    reads[0].resolve(page(0, 1));
    // The read ahead never settles on its own: leaving must not wait for it.
    await left;
    assert.equal(reads.length, 2, what);
    assert.ok(reads[1].token !== undefined, what);
    assert.equal(reads[1].token.cancelled, true, `${what}: the read ahead is cancelled`);
    assert.equal(reads[0].token?.cancelled, false, `${what}: the read that finished is left alone`);
    // Its failure, the native side's answer to the cancel, goes nowhere.
    reads[1].reject(cancelled());
  }
  assert.equal(signal.aborted, false);
  await settle();
  assert.deepEqual(unhandled, []);
});

void test("pages: a failure of the read ahead reaches the caller on the next page, never as an unhandled rejection", async (t) => {
  const unhandled = watchUnhandled(t);
  const { reads, read } = fakeRead();
  const it = pages({ pageSize: 2 }, read, revisionOf, true).pages()[Symbol.asyncIterator]();
  const first = it.next();
  reads[0].resolve(page(0, 1));
  assert.ok(!(await first).done);
  // It fails while the caller still holds page 1, before anyone awaits it.
  assert.equal(reads.length, 2);
  reads[1].reject(new Error("disk on fire"));
  await settle();
  assert.deepEqual(unhandled, []);
  await assert.rejects(it.next(), /disk on fire/);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
  assert.equal(reads.length, 2);

  // A caller who drops the iterator without return() leaves the read ahead to fail unseen.
  const dropped = fakeRead();
  const abandoned = pages({ pageSize: 1 }, dropped.read, revisionOf, true).pages()[Symbol.asyncIterator]();
  const only = abandoned.next();
  dropped.reads[0].resolve(page(0));
  assert.ok(!(await only).done);
  assert.equal(dropped.reads.length, 2);
  dropped.reads[1].reject(new Error("nobody listens"));

  // A stream with no visible events any more (deleted between two pages) ends a stream's read
  // there, quietly; for $all (notFoundIsEmpty false) it is the caller's error like any other.
  for (const notFoundIsEmpty of [true, false]) {
    const gone = fakeRead();
    const pagesOf = pages({ pageSize: 1 }, gone.read, revisionOf, notFoundIsEmpty).pages()[Symbol.asyncIterator]();
    const p0 = pagesOf.next();
    gone.reads[0].resolve(page(0));
    assert.ok(!(await p0).done);
    assert.equal(gone.reads.length, 2);
    gone.reads[1].reject(new NotFoundError("no visible events"));
    await settle();
    if (notFoundIsEmpty) {
      assert.deepEqual(await pagesOf.next(), { done: true, value: undefined });
    } else {
      await assert.rejects(pagesOf.next(), NotFoundError);
    }
  }
  await settle();
  assert.deepEqual(unhandled, []);
});

void test("pages: an abort while a page is read ahead cancels that read and rejects the next page with the signal's reason", async (t) => {
  const unhandled = watchUnhandled(t);
  const controller = new AbortController();
  const { reads, read } = fakeRead();
  const it = pages({ pageSize: 2, signal: controller.signal }, read, revisionOf, true).pages()[Symbol.asyncIterator]();
  const first = it.next();
  reads[0].resolve(page(0, 1));
  assert.ok(!(await first).done);
  assert.equal(reads.length, 2);
  assert.equal(reads[1].token?.cancelled, false);
  controller.abort(new Error("enough"));
  assert.equal(reads[1].token?.cancelled, true);
  // The call settles at the abort, not when the native side answers the cancel.
  await assert.rejects(it.next(), /enough/);
  reads[1].reject(cancelled());
  await settle();
  assert.deepEqual(unhandled, []);
});
