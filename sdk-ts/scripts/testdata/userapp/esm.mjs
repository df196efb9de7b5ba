// A user's program as an ES module, run by scripts/package-test.sh against @graveyard-db/client
// installed from its tarball in an empty folder: the same steps on an embedded store and on a
// real node. Any wrong result throws (node:assert), and the process exits non-zero.
//
//   node esm.mjs <store directory> <node URL>
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  ClosedError,
  Graveyard,
  SchemaViolationError,
  WrongExpectedVersionError,
  defineEntity,
  field,
  hydrate,
} from "@graveyard-db/client";

const [storeDir, nodeUrl] = process.argv.slice(2);

// An entity without decorators (plain JavaScript has none): a schema the store enforces, and
// the event type of its instances.
const User = defineEntity("user", {
  name: field.string({ required: true, minLength: 1 }),
  age: field.integer({ min: 18 }),
});

async function tryOut(db) {
  const schema = await db.upsertSchema(User);
  assert.deepEqual([schema.name, schema.version], ["user", 1]);

  // An append happens only if the stream is as expected: here, that it does not exist yet.
  const stream = `user-${randomUUID()}`;
  const created = await db.append(stream, User.create({ name: "Ada", age: 36 }), { expectedVersion: "no_stream" });
  assert.equal(created.lastRevision, 0n);
  await db.append(stream, { type: "user-renamed", data: { name: "Ada L." } }, { expectedVersion: 0n });

  // A writer that did not see the rename: nothing is written, and the error says why.
  await assert.rejects(
    db.append(stream, { type: "user-renamed", data: { name: "Bob" } }, { expectedVersion: 0n }),
    (e) => e instanceof WrongExpectedVersionError && e.expected === 0n && e.actual === 1n,
  );
  // The schema holds for every writer.
  await assert.rejects(
    db.append(stream, User.create({ name: "Kid", age: 7 })),
    (e) => e instanceof SchemaViolationError && e.violations.some((v) => v.path === "age" && v.rule === "min"),
  );

  const events = [];
  for await (const event of db.readStream(stream)) events.push(event);
  assert.deepEqual(events.map((e) => `${e.revision} ${e.type}`), ["0 user", "1 user-renamed"]);
  assert.deepEqual(hydrate(User, events[0].data), { name: "Ada", age: 36 });
  assert.deepEqual(events[1].json(), { name: "Ada L." });

  // A subscription: the history, a caught-up marker, then live events. The signal ends it if
  // the live event never comes.
  const seen = [];
  const subscription = await db.subscribeToStream(stream, { signal: AbortSignal.timeout(10_000) });
  for await (const message of subscription) {
    if (message.kind === "caughtUp") {
      seen.push("caught up");
      await db.append(stream, { type: "user-aged", data: { age: 37 } });
      continue;
    }
    seen.push(message.event.type);
    if (message.event.type === "user-aged") break; // leaving the loop ends the subscription
  }
  assert.deepEqual(seen, ["user", "user-renamed", "caught up", "user-aged"]);
}

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
console.log("esm.mjs: ok (embedded store and node)");
