// Subscriptions and consumer groups on embedded stores: history, the caught-up marker and live
// events in order; filters; the end of a session (leaving a loop, cancel, an AbortSignal, a
// tombstone, a closed store, garbage collection); groups with ack, nack (retry, park, skip),
// parked replay, members sharing the work and a member that leaves.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ClosedError,
  ENDED_SESSION,
  GraveyardError,
  GroupDelivery,
  type Graveyard,
  StreamDeletedError,
  TIMED_OUT,
} from "../src/index";
import { deliveryOf, eventOf, nextOf, openTemp, sleep } from "./helpers";

const ev = (type: string, n: number) => ({ type, data: { n } });

/** The group's members once there are `count` of them (a member leaves in the background), or after 10 s. */
async function membersOnceSettled(store: Graveyard, group: string, count: number, each?: () => void): Promise<string[]> {
  let members: string[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    each?.();
    members = (await store.groupInfo(group)).members;
    if (members.length === count) break;
    await sleep(10);
  }
  return members.sort();
}

void test("a stream subscription: history, caught up, then live events in order; leaving the loop ends it", async (t) => {
  const store = await openTemp(t);
  await store.append("order-1", [ev("Placed", 0), ev("Paid", 1)]);
  await store.append("order-2", ev("Placed", 0));
  const sub = await store.subscribeToStream("order-1");
  assert.deepEqual(await eventOf(sub), ["order-1", 0n, "Placed"]);
  assert.deepEqual(await eventOf(sub), ["order-1", 1n, "Paid"]);
  assert.deepEqual(await nextOf(sub), { kind: "caughtUp" });
  assert.equal(await sub.poll(50), TIMED_OUT, "nothing new: the wait times out and the session goes on");

  // Live events, many and concurrent with the reader, arrive once each and in order.
  const writer = (async () => {
    for (let i = 0; i < 50; i++) await store.append("order-1", [ev("Shipped", 2 * i), ev("Shipped", 2 * i + 1)]);
  })();
  const seen: bigint[] = [];
  for await (const m of sub) {
    assert.equal(m.kind, "event");
    if (m.kind === "event") seen.push(m.event.revision);
    if (seen.length === 100) break; // leaves the loop: return() ends the native session
  }
  await writer;
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => BigInt(i + 2)));
  assert.equal(await sub.poll(1000), ENDED_SESSION);
  assert.deepEqual(await sub.next(), { done: true, value: undefined });

  // From a revision, and from the end.
  const after = await store.subscribeToStream("order-1", { from: { after: 100n }, pageSize: 1 });
  assert.deepEqual(await eventOf(after), ["order-1", 101n, "Shipped"]);
  assert.deepEqual(await nextOf(after), { kind: "caughtUp" });
  after.cancel();
  assert.equal(await after.poll(1000), ENDED_SESSION);
  await using fromEnd = await store.subscribeToStream("order-1", { from: "end" });
  assert.deepEqual(await nextOf(fromEnd), { kind: "caughtUp" });
  await store.append("order-1", ev("Closed", 0));
  assert.deepEqual(await eventOf(fromEnd), ["order-1", 102n, "Closed"]);
});

void test("an $all subscription with a filter, from a position", async (t) => {
  const store = await openTemp(t);
  await store.append("order-1", [ev("Placed", 0), ev("Paid", 1)]);
  await store.append("user-1", ev("Registered", 0));
  const r = await store.append("order-2", ev("Placed", 0));
  await using all = await store.subscribeToAll({ filter: { streamPrefixes: ["order-"], eventTypes: ["Placed"] } });
  assert.deepEqual(await eventOf(all), ["order-1", 0n, "Placed"]);
  assert.deepEqual(await eventOf(all), ["order-2", 0n, "Placed"]);
  assert.deepEqual(await nextOf(all), { kind: "caughtUp" });
  await store.append("user-2", ev("Placed", 0));
  await store.append("order-3", [ev("Paid", 0), ev("Placed", 1)]);
  assert.deepEqual(await eventOf(all), ["order-3", 1n, "Placed"], "filtered live events");

  await using later = await store.subscribeToAll({ from: { after: r.lastPosition } });
  assert.deepEqual(await eventOf(later), ["user-2", 0n, "Placed"]);
  assert.deepEqual(await eventOf(later), ["order-3", 0n, "Paid"]);
  assert.deepEqual(await eventOf(later), ["order-3", 1n, "Placed"]);
  assert.deepEqual(await nextOf(later), { kind: "caughtUp" });
});

void test("a subscription never stops silently: a tombstone and a closed store are thrown once, then it is over", async (t) => {
  const store = await openTemp(t);
  await store.append("doomed", ev("E", 0));
  const sub = await store.subscribeToStream("doomed");
  assert.deepEqual(await eventOf(sub), ["doomed", 0n, "E"]);
  assert.deepEqual(await nextOf(sub), { kind: "caughtUp" });
  await store.tombstoneStream("doomed");
  await assert.rejects(sub.poll(10_000), StreamDeletedError);
  assert.equal(await sub.poll(1000), ENDED_SESSION);

  const other = await openTemp(t);
  const live = await other.subscribeToAll();
  assert.deepEqual(await nextOf(live), { kind: "caughtUp" });
  const waiting = assert.rejects(live.next(), ClosedError);
  await other.close();
  await waiting;
  assert.deepEqual(await live.next(), { done: true, value: undefined });
  await assert.rejects(other.subscribeToAll(), ClosedError);
});

void test("an AbortSignal given at subscribe time ends the session, waiting or not", async (t) => {
  const store = await openTemp(t);
  const controller = new AbortController();
  const sub = await store.subscribeToAll({ signal: controller.signal });
  assert.deepEqual(await nextOf(sub), { kind: "caughtUp" });
  const waiting = assert.rejects(sub.poll(), /shutting down/);
  controller.abort(new Error("shutting down"));
  await waiting;
  assert.equal(await sub.poll(1000), ENDED_SESSION);
  const gone = AbortSignal.abort();
  await assert.rejects(store.subscribeToAll({ signal: gone }), (e: unknown) => (e as Error).name === "AbortError");
});

void test("a consumer group: deliveries, ack, nack retry / park / skip, parked replay, group info", async (t) => {
  const store = await openTemp(t);
  await store.append("jobs", [0, 1, 2, 3, 4].map((n) => ev("Job", n)));
  const created = await store.createGroup("workers", { stream: "jobs" }, { settings: { maxRetries: 1, ackTimeoutMs: 60_000 } });
  assert.equal(created.settings.maxRetries, 1);
  assert.equal(created.settings.strategy, "round_robin");
  assert.deepEqual(await store.listGroups(), ["workers"]);
  await using member = await store.joinGroup("workers", "w1");
  const ds = [];
  for (let i = 0; i < 5; i++) ds.push(await deliveryOf(member));
  assert.deepEqual(
    ds.map((d) => [d.event.revision, d.attempt]),
    [0n, 1n, 2n, 3n, 4n].map((r) => [r, 1]),
  );
  assert.deepEqual((await store.groupInfo("workers")).members, ["w1"]);
  await member.ack([ds[0], ds[1].id]); // deliveries or their ids, in one commit
  await ds[2].nack("retry");
  const again = await deliveryOf(member);
  assert.deepEqual([again.event.revision, again.attempt, again.id], [2n, 2, ds[2].id], "a redelivery keeps its id");
  await again.nack("retry"); // past maxRetries: parked
  await ds[3].nack("park");
  await ds[4].nack("skip");
  let info = await store.groupInfo("workers");
  assert.equal(info.parked, 2n);
  assert.equal(info.checkpoint, 5n);
  assert.equal(info.parkedStream, "$parked-workers");

  const replay = await store.replayParked("workers", { limit: 1 });
  assert.equal(replay.replaying, 1n);
  const replayed = await deliveryOf(member);
  assert.equal(replayed.event.stream, "jobs");
  assert.equal(replayed.event.revision, 2n);
  assert.equal(replayed.parkedRevision, 0n);
  await replayed.ack();
  await store.replayParked("workers");
  const last = await deliveryOf(member);
  assert.equal(last.event.revision, 3n);
  await last.ack();
  info = await store.groupInfo("workers");
  assert.deepEqual([info.parked, info.replaying, info.inFlight], [0n, 0n, 0n]);

  await assert.rejects(member.ack([123456789n]), (e: unknown) => e instanceof GraveyardError && e.code === "INVALID_ARGUMENT");
  const updated = await store.updateGroup("workers", { maxInFlight: 8 });
  assert.equal(updated.settings.maxInFlight, 8);
  assert.equal(updated.settings.maxRetries, 10, "the settings are replaced: what is left out takes the default");
});

void test("members share a group's work; a member that leaves hands its deliveries back; GC leaves for a dropped one", async (t) => {
  const store = await openTemp(t);
  await store.createGroup("g", { all: { streamPrefixes: ["task-"] } });
  const a = await store.joinGroup("g", "a");
  const b = await store.joinGroup("g", "b");
  // Whoever waits gets the next events: b takes the first three, a the next three.
  for (let i = 0; i < 3; i++) await store.append(`task-${i}`, ev("Task", i));
  const got = new Map<string, GroupDelivery[]>([
    ["a", []],
    ["b", []],
  ]);
  for (let i = 0; i < 3; i++) got.get("b")!.push(await deliveryOf(b));
  for (let i = 3; i < 6; i++) await store.append(`task-${i}`, ev("Task", i));
  for (let i = 0; i < 3; i++) got.get("a")!.push(await deliveryOf(a));
  assert.deepEqual(
    [...got.get("b")!, ...got.get("a")!].map((d) => d.event.stream),
    Array.from({ length: 6 }, (_, i) => `task-${i}`),
  );
  assert.deepEqual((await store.groupInfo("g")).inFlight, 6n);
  await a.ack(got.get("a")!);
  // b leaves (as leaving a for-await loop does) with three unsettled deliveries: a gets them again.
  await b.return();
  assert.deepEqual((await store.groupInfo("g")).members, ["a"], "leaving is at once");
  await assert.rejects(b.ack(got.get("b")!), ClosedError);
  const redelivered = [];
  for (let i = 0; i < got.get("b")!.length; i++) redelivered.push(await deliveryOf(a));
  assert.deepEqual(
    redelivered.map((d) => d.event.stream).sort(),
    got
      .get("b")!
      .map((d) => d.event.stream)
      .sort(),
  );
  await a.ack(redelivered);
  assert.equal(await a.poll(50), TIMED_OUT);

  // A member dropped without cancel leaves the group once the collector frees it.
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with --expose-gc");
  await (async () => {
    await store.joinGroup("g", "dropped");
  })();
  assert.deepEqual((await store.groupInfo("g")).members.sort(), ["a", "dropped"]);
  assert.deepEqual(await membersOnceSettled(store, "g", 1, gc), ["a"], "the dropped member was never released");
  a.cancel();
  await store.deleteGroup("g");
  assert.deepEqual(await store.listGroups(), []);
});
