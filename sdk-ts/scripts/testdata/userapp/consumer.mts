// A TypeScript user's program as an ES module (.mts). scripts/package-test.sh type-checks it
// with `tsc --strict` under module node16 against the declarations of the installed package,
// then runs what tsc emitted on an embedded store. The decorators are TypeScript 5's standard
// ones: no experimentalDecorators, no reflect-metadata.
//
//   node consumer.mjs <store directory>
import assert from "node:assert/strict";
import {
  Graveyard,
  GraveyardEntity,
  GraveyardField,
  WrongExpectedVersionError,
  hydrate,
  type AppendOptions,
  type CurrentRevision,
  type RecordedEvent,
} from "@graveyard-db/client";

@GraveyardEntity("user")
class User {
  @GraveyardField.string({ minLength: 1 }) name!: string;
  @GraveyardField.integer({ min: 18 }) age!: number;
}

// Closed when the program leaves this scope, whatever happens.
await using db = await Graveyard.open(process.argv[2]!);
await db.upsertSchema(User);
const ada = Object.assign(new User(), { name: "Ada", age: 36 });
const { lastRevision } = await db.append("user-1", ada, { expectedVersion: "no_stream" });
const revision: bigint = lastRevision;

try {
  await db.append("user-1", ada, { expectedVersion: "no_stream" });
  assert.fail("a second append to a stream expected not to exist succeeded");
} catch (e) {
  if (!(e instanceof WrongExpectedVersionError)) throw e;
  const actual: CurrentRevision = e.actual;
  assert.equal(actual, revision);
}

const events: RecordedEvent[] = await db.readStream("user-1").toArray();
const user: User = hydrate(User, events[0]!.data);
assert.ok(user instanceof User);
assert.deepEqual({ ...user }, { name: "Ada", age: 36 });

// The declarations are real types, not `any`: a number where a bigint revision belongs is refused.
// @ts-expect-error an exact expected version is a bigint
const wrong: AppendOptions = { expectedVersion: 0 };
void wrong;
console.log("consumer.mts: ok");
