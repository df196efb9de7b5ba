// A user's program as a CommonJS module, run by scripts/package-test.sh against
// @graveyard-db/client installed from its tarball in an empty folder: the same steps on an
// embedded store and on a real node. Any wrong result throws (node:assert), and the process
// exits non-zero.
//
//   node cjs.cjs <store directory> <node URL>
const assert = require("node:assert/strict");
const { randomUUID } = require("node:crypto");
const {
  ClosedError,
  Graveyard,
  GraveyardError,
  NotFoundError,
  WrongExpectedVersionError,
  defineEntity,
  field,
} = require("@graveyard-db/client");

// An entity without decorators: a schema the store enforces, and the event type of its instances.
const Order = defineEntity("order-placed", {
  sku: field.string({ required: true }),
  qty: field.integer({ min: 1 }),
});

async function tryOut(db) {
  const schema = await db.upsertSchema(Order);
  assert.deepEqual([schema.name, schema.version], ["order-placed", 1]);

  // An append happens only if the stream is as expected: here, that it does not exist yet.
  const stream = `order-${randomUUID()}`;
  await db.append(stream, [Order.create({ sku: "tea", qty: 2 }), { type: "order-paid", data: { cents: 1250n } }], {
    expectedVersion: "no_stream",
  });

  // A second writer that also thought the order was new: nothing is written, and the error
  // says what it expected and what the stream is.
  await assert.rejects(db.append(stream, Order.create({ sku: "cake", qty: 1 }), { expectedVersion: "no_stream" }), (e) => {
    assert.ok(e instanceof WrongExpectedVersionError && e instanceof GraveyardError, `not a WrongExpectedVersionError: ${e}`);
    assert.equal(e.code, "WRONG_EXPECTED_VERSION");
    assert.equal(e.expected, "no_stream");
    assert.equal(e.actual, 1n);
    return true;
  });
  // readStreamPage (one call) tells a missing stream from an empty one.
  await assert.rejects(db.readStreamPage(`order-${randomUUID()}`), NotFoundError);

  const events = [];
  for await (const event of db.readStream(stream)) events.push(event);
  assert.deepEqual(events.map((e) => [e.revision, e.type]), [
    [0n, "order-placed"],
    [1n, "order-paid"],
  ]);
  assert.deepEqual(events[0].json(), { sku: "tea", qty: 2 });
  assert.equal(events[1].contentType, "application/json");

  // A subscription: the history, a caught-up marker, then live events. The signal ends it if
  // the live event never comes.
  const seen = [];
  const subscription = await db.subscribeToStream(stream, { signal: AbortSignal.timeout(10_000) });
  for await (const message of subscription) {
    if (message.kind === "caughtUp") {
      seen.push("caught up");
      await db.append(stream, { type: "order-shipped", data: { carrier: "post" } }, { expectedVersion: 1n });
      continue;
    }
    seen.push(message.event.type);
    if (message.event.type === "order-shipped") break; // leaving the loop ends the subscription
  }
  assert.deepEqual(seen, ["order-placed", "order-paid", "caught up", "order-shipped"]);
}

async function main() {
  const [storeDir, nodeUrl] = process.argv.slice(2);
  const embedded = await Graveyard.open(storeDir);
  try {
    assert.equal(embedded.embedded, true);
    await tryOut(embedded);
  } finally {
    await embedded.close();
  }
  await assert.rejects(embedded.headPosition(), ClosedError);

  const cluster = await Graveyard.connect([nodeUrl]);
  try {
    assert.equal(cluster.embedded, false);
    await tryOut(cluster);
  } finally {
    await cluster.close();
  }
  console.log("cjs.cjs: ok (embedded store and node)");
}

main().catch((e) => {
  console.error("cjs.cjs:", e);
  process.exit(1);
});
