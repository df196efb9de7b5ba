// The client over real `graveyard serve` nodes: one node (every operation over the wire, errors
// with their typed fields, sessions, close), a node killed and restarted (what was acknowledged
// survives, calls fail with UNAVAILABLE while it is down, never hang), a node with a token and
// encryption, and a 3-node cluster (streams spread over their owners, node-scoped calls, a node
// dying while others go on).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ClosedError,
  GraveyardError,
  Graveyard,
  GroupDelivery,
  InvalidArgumentError,
  NotFoundError,
  SchemaViolationError,
  ShreddedError,
  StreamDeletedError,
  TIMED_OUT,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
  defineEntity,
  field,
} from "../src/index";
import { connectTo, deliveryOf, eventOf, freePort, nextOf, startNodes, type Node } from "./helpers";

const ev = (type: string, n: number) => ({ type, data: { n } });

/** The error of `run`, which must fail within 30 s (a node down is an error, never a hang). */
async function failureOf(what: string, run: () => Promise<unknown>): Promise<GraveyardError> {
  const started = Date.now();
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof GraveyardError, `${what}: ${String(e)} is not a GraveyardError`);
    assert.ok(Date.now() - started < 30_000, `${what} took ${Date.now() - started} ms to fail`);
    return e;
  }
  assert.fail(`${what} succeeded`);
}

void test("connect errors: no endpoint, nothing listening", async () => {
  await assert.rejects(Graveyard.connect([]), InvalidArgumentError);
  const dead = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(Graveyard.connect(dead, { connectTimeoutMs: 2000, retries: 0 }), UnavailableError);
});

void test("one node: every operation over the wire", async (t) => {
  const nodes = await startNodes(t, ["solo"]);
  const c = await connectTo(t, nodes);
  assert.equal(c.embedded, false);

  const r = await c.append("order-1", [0, 1, 2, 3, 4].map((n) => ev("Placed", n)), { expectedVersion: "no_stream" });
  assert.deepEqual([r.firstRevision, r.lastRevision, r.lastPosition - r.firstPosition], [0n, 4n, 4n]);
  await c.append("order-2", ev("Placed", 0), { expectedVersion: "no_stream" });
  assert.deepEqual(
    (await c.readStream("order-1", { pageSize: 2 }).toArray()).map((e) => e.revision),
    [0n, 1n, 2n, 3n, 4n],
  );
  const backwards = await c.readStream("order-1", { direction: "backwards", maxCount: 3, pageSize: 2 }).toArray();
  assert.deepEqual(
    backwards.map((e) => e.revision),
    [4n, 3n, 2n],
  );
  const page = await c.readStreamPage("order-1", { from: 3n });
  assert.deepEqual(page.map((e) => [e.revision, e.type, e.json()]), [
    [3n, "Placed", { n: 3 }],
    [4n, "Placed", { n: 4 }],
  ]);
  await assert.rejects(c.readStreamPage("missing"), NotFoundError);
  assert.deepEqual(await c.readStream("missing").toArray(), []);
  assert.equal((await c.readAll({ pageSize: 4 }).toArray()).length, 6);
  assert.equal(await c.headPosition(), 6n);

  await assert.rejects(c.append("order-1", ev("X", 0), { expectedVersion: 1n }), (e: unknown) => {
    assert.ok(e instanceof WrongExpectedVersionError);
    assert.deepEqual([e.stream, e.expected, e.actual], ["order-1", 1n, 4n]);
    return true;
  });
  await c.tombstoneStream("order-2");
  await assert.rejects(c.readStreamPage("order-2"), (e: unknown) => e instanceof StreamDeletedError && e.stream === "order-2");

  const Order = defineEntity("Order", { qty: field.integer({ min: 1 }) });
  assert.equal((await c.upsertSchema(Order)).version, 1);
  await assert.rejects(c.append("orders", Order.create({ qty: 0 })), (e: unknown) => {
    assert.ok(e instanceof SchemaViolationError);
    assert.deepEqual([e.violations[0].path, e.violations[0].rule], ["qty", "min"]);
    return true;
  });
  await c.append("orders", Order.create({ qty: 2 }));

  await c.append("meta-1", [0, 1, 2].map((n) => ev("M", n)));
  await c.setStreamMetadata("meta-1", { maxCount: 2n });
  assert.deepEqual((await c.getStreamMetadata("meta-1")).maxCount, 2n);
  assert.deepEqual((await c.readStreamPage("meta-1")).map((e) => e.revision), [1n, 2n]);
  assert.equal((await c.streamInfo("order-1")).current, 4n);
  await c.saveSnapshot("order-1", 4n, "state at 4");
  assert.equal((await c.getSnapshot("order-1"))?.data.toString(), "state at 4");

  // What a cluster cannot say, and a node that is not a member.
  assert.throws(() => c.isEncrypted(), UnsupportedError);
  assert.throws(() => c.onNode("no-such-node"), GraveyardError);
  // 6 events, the schema's first version (an event of $schema-Order), the order and meta-1's 3.
  assert.equal(await c.onNode("solo").headPosition(), 11n);

  // A subscription: history, the marker, live events, a timeout, cancel of a waiting poll.
  const sub = await c.subscribeToStream("order-1", { from: { after: 2n } });
  assert.deepEqual(await eventOf(sub), ["order-1", 3n, "Placed"]);
  assert.deepEqual(await eventOf(sub), ["order-1", 4n, "Placed"]);
  assert.deepEqual(await nextOf(sub), { kind: "caughtUp" });
  setTimeout(() => void c.append("order-1", ev("Placed", 5), { expectedVersion: 4n }), 10);
  assert.deepEqual(await eventOf(sub), ["order-1", 5n, "Placed"]);
  assert.equal(await sub.poll(50), TIMED_OUT);
  const waiting = sub.next();
  setTimeout(() => sub.cancel(), 20);
  assert.deepEqual(await waiting, { done: true, value: undefined });

  // A group: deliveries, a retry with the same id, settling, deletion.
  await c.createGroup("g", { stream: "order-1" }, { settings: { maxInFlight: 4 } });
  assert.deepEqual(await c.listGroups(), ["g"]);
  const m = await c.joinGroup("g", "m1");
  const first = await deliveryOf(m);
  const second = await deliveryOf(m);
  assert.deepEqual([first.event.revision, second.event.revision, second.attempt], [0n, 1n, 1]);
  await first.ack();
  await second.nack("retry");
  const seen = new Map<bigint, GroupDelivery>();
  while (seen.size < 5) {
    const d = await deliveryOf(m);
    assert.ok(!seen.has(d.event.revision), `revision ${d.event.revision} twice`);
    seen.set(d.event.revision, d);
    await d.ack();
  }
  assert.deepEqual([seen.get(1n)?.attempt, seen.get(1n)?.id], [2, second.id]);
  assert.equal((await c.groupInfo("g")).checkpoint, 6n);
  await c.deleteGroup("g");
  await assert.rejects(m.poll(5000), NotFoundError);

  const onSub = await c.onNode("solo").subscribeToAll({ from: "end" });
  assert.deepEqual(await nextOf(onSub), { kind: "caughtUp" });
  const pending = assert.rejects(onSub.poll(), ClosedError);
  await c.close();
  await pending;
  await assert.rejects(c.append("order-1", ev("E", 0)), ClosedError);
  await c.close();
});

void test("a node killed and restarted: acknowledged events survive, calls fail meanwhile and never hang", async (t) => {
  const [node] = await startNodes(t, ["n1"]);
  const c = await connectTo(t, [node], { requestTimeoutMs: 10_000 });
  for (let i = 0; i < 20; i++) await c.append("ledger", ev("Entry", i));
  const sub = await c.subscribeToStream("ledger", { from: { after: 18n } });
  assert.deepEqual(await eventOf(sub), ["ledger", 19n, "Entry"]);
  assert.deepEqual(await nextOf(sub), { kind: "caughtUp" });

  await node.kill(); // SIGKILL: no clean shutdown
  const down = await failureOf("append with the node down", () => c.append("ledger", ev("Entry", 20)));
  assert.equal(down.code, "UNAVAILABLE", down.message);
  // The subscription reports its end once, then is over.
  const ended = await failureOf("the subscription", () => sub.poll(30_000));
  assert.equal(ended.code, "UNAVAILABLE", ended.message);
  assert.equal(await sub.poll(100), "ended");

  node.start();
  await node.waitReady();
  // The same client reconnects on its own.
  const events = await retry(() => c.readStream("ledger").toArray());
  assert.deepEqual(
    events.map((e) => e.revision),
    Array.from({ length: 20 }, (_, i) => BigInt(i)),
    "every acknowledged event is there after a kill -9",
  );
  const r = await c.append("ledger", ev("Entry", 20), { expectedVersion: 19n });
  assert.equal(r.firstRevision, 20n);
});

/** Runs `f` until it succeeds or 30 s went by (a client finds a restarted node again on its own). */
async function retry<T>(f: () => Promise<T>): Promise<T> {
  for (const deadline = Date.now() + 30_000; ; ) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof UnavailableError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

void test("a node with a token and encryption at rest: authentication, shredding over the wire", async (t) => {
  const token = "s3cret-token";
  const nodes = await startNodes(t, ["vault"], { token, masterKey: new Uint8Array(32).fill(7) });
  for (const wrong of [undefined, "wrong"]) {
    await assert.rejects(Graveyard.connect(nodes.map((n) => n.url), { token: wrong, retries: 0 }), UnauthenticatedError);
  }
  const c = await connectTo(t, nodes, { token, requestTimeoutMs: 20_000 });
  await c.append("card-1", { type: "Card", data: { pan: "4111" }, metadata: "m" }, { expectedVersion: "no_stream" });
  await c.append("card-2", { type: "Card", data: { pan: "5500" } });
  assert.deepEqual((await c.readStreamPage("card-1"))[0].json(), { pan: "4111" });
  await c.shredStream("card-1");
  const [shredded] = await c.readStreamPage("card-1");
  assert.equal(shredded.shredded, true);
  assert.equal(shredded.data.length, 0);
  assert.throws(() => shredded.json(), ShreddedError);
  assert.equal((await c.streamInfo("card-1")).shredded, true);
  await assert.rejects(c.append("card-1", ev("Card", 0)), StreamDeletedError);
  assert.deepEqual((await c.readStreamPage("card-2"))[0].json(), { pan: "5500" });
});

void test("a 3-node cluster: streams on their owners, node-scoped calls, one node dying", async (t) => {
  const ids = ["n1", "n2", "n3"];
  const nodes = await startNodes(t, ids);
  const c = await connectTo(t, nodes);
  const streams = 30;
  for (let i = 0; i < streams; i++) {
    const stream = `account-${i}`;
    await c.append(stream, { type: "Opened", data: { i } }, { expectedVersion: "no_stream" });
    await c.append(stream, ev("Credited", 5), { expectedVersion: 0n });
    await assert.rejects(
      c.append(stream, ev("Credited", 0), { expectedVersion: 0n }),
      (e: unknown) => e instanceof WrongExpectedVersionError && e.actual === 1n,
      `${stream}: the owner checks the expected version`,
    );
  }
  for (let i = 0; i < streams; i++) {
    const page = await c.readStreamPage(`account-${i}`);
    assert.deepEqual(page.map((e) => [e.revision, e.type]), [
      [0n, "Opened"],
      [1n, "Credited"],
    ]);
    assert.deepEqual(page[0].json(), { i });
  }

  // Every stream lives on exactly one node, and every node has some.
  const owners = new Map<string, string>();
  for (const id of ids) {
    for await (const e of c.onNode(id).readAll({ pageSize: 16 })) {
      const other = owners.get(e.stream);
      assert.ok(other === undefined || other === id, `${e.stream} on ${other} and ${id}`);
      owners.set(e.stream, id);
    }
  }
  assert.equal(owners.size, streams);
  const perNode = new Map(ids.map((id) => [id, [...owners].filter(([, o]) => o === id).map(([s]) => s).sort()]));
  for (const id of ids) assert.ok(perNode.get(id)!.length > 0, `node ${id} owns no stream`);
  const onN2 = c.onNode("n2");
  assert.equal(await onN2.headPosition(), BigInt(2 * perNode.get("n2")!.length));

  const [onN1, onN2Stream, onN3] = ids.map((id) => perNode.get(id)![0]);
  // A group on a stream of n3, a subscription to a stream of n2 and one of n3.
  await c.createGroup("billing", { stream: onN3 });
  const member = await c.joinGroup("billing", "w1");
  for (const rev of [0n, 1n]) {
    const d = await deliveryOf(member);
    assert.deepEqual([d.event.stream, d.event.revision], [onN3, rev]);
    await d.ack();
  }
  const subN2 = await c.subscribeToStream(onN2Stream);
  const subN3 = await c.subscribeToStream(onN3, { from: { after: 1n } });
  assert.deepEqual(await eventOf(subN2), [onN2Stream, 0n, "Opened"]);
  assert.deepEqual(await eventOf(subN2), [onN2Stream, 1n, "Credited"]);
  assert.deepEqual(await nextOf(subN2), { kind: "caughtUp" });
  assert.deepEqual(await nextOf(subN3), { kind: "caughtUp" });

  // n2 dies (the client's home is n1, the first to answer).
  const n2 = nodes.find((n: Node) => n.id === "n2")!;
  await n2.kill();
  const calls: [string, () => Promise<unknown>][] = [
    ["append", () => c.append(onN2Stream, ev("Credited", 0), { expectedVersion: 1n })],
    ["readStreamPage", () => c.readStreamPage(onN2Stream)],
    ["readStream", () => c.readStream(onN2Stream).toArray()],
    ["streamInfo", () => c.streamInfo(onN2Stream)],
    ["subscribeToStream", () => c.subscribeToStream(onN2Stream)],
    ["headPosition on n2", () => onN2.headPosition()],
    ["readAll on n2", () => onN2.readAll().toArray()],
  ];
  for (const [what, call] of calls) {
    const e = await failureOf(`${what} with n2 down`, call);
    assert.equal(e.code, "UNAVAILABLE", `${what}: ${e.message}`);
  }
  assert.match((await failureOf("append", () => c.append(onN2Stream, ev("E", 0)))).message, /n2/, "the error names the owner");
  const subEnd = await failureOf("a subscription to n2's stream", async () => {
    for (;;) await nextOf(subN2, 30_000);
  });
  assert.equal(subEnd.code, "UNAVAILABLE");
  assert.equal(await subN2.poll(100), "ended");

  // The other nodes' streams, the group on n3 and the home node's $all still work.
  await c.append(onN1, ev("Credited", 1), { expectedVersion: 1n });
  await c.append(onN3, ev("Credited", 1), { expectedVersion: 1n });
  assert.equal((await c.readStreamPage(onN1)).length, 3);
  assert.deepEqual(await eventOf(subN3), [onN3, 2n, "Credited"]);
  const d = await deliveryOf(member);
  assert.equal(d.event.revision, 2n);
  await d.ack();
  assert.equal((await c.groupInfo("billing")).checkpoint, 3n);
  assert.equal((await c.readAllPage({ maxCount: 1 })).length, 1);
  subN3.cancel();
  member.cancel();
});
