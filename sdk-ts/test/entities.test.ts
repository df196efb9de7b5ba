// Decorated classes and defineEntity end to end against a real embedded store: the schema the
// SDK derives is the one the core accepts, instances are appended as their entity, and the
// core's refusals come back as typed errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GraveyardEntity, GraveyardField, SchemaViolationError, defineEntity, field, hydrate } from "../src/index";
import { openTemp } from "./helpers";

@GraveyardEntity("user")
class User {
  @GraveyardField.string({ minLength: 1 }) name!: string;
  @GraveyardField.integer({ min: 18 }) age!: number;
}

const Order = defineEntity("order", { total: field.integer({ min: 0 }), note: field.string({ required: false }) });

void test("a decorated class: upsert its schema, append instances, violations are typed, read back hydrates", async (t) => {
  const store = await openTemp(t);
  const upsert = await store.upsertSchema(User);
  assert.equal(upsert.name, "user");
  assert.equal(upsert.version, 1);
  const again = await store.upsertSchema(User);
  assert.equal(again.changed, false);
  const ada = Object.assign(new User(), { name: "Ada", age: 36 });
  await store.append("user-1", ada, { expectedVersion: "no_stream" });
  const minor = Object.assign(new User(), { name: "Tim", age: 12 });
  await assert.rejects(store.append("user-1", minor), (e: unknown) => {
    assert.ok(e instanceof SchemaViolationError);
    assert.equal(e.schema, "user");
    assert.equal(e.violations[0]?.path, "age");
    return true;
  });
  const [read] = await store.readStream("user-1").toArray();
  assert.equal(read?.type, "user");
  assert.equal(read?.schemaVersion, 1);
  const back = hydrate(User, read.data);
  assert.ok(back instanceof User);
  assert.deepEqual({ ...back }, { name: "Ada", age: 36 });
  const listed = await store.listSchemas();
  assert.deepEqual(listed.map((s) => s.name), ["user"]);
});

void test("defineEntity: the same path for plain objects", async (t) => {
  const store = await openTemp(t);
  await store.upsertSchema(Order);
  await store.append("order-1", Order.create({ total: 5 }));
  await assert.rejects(store.append("order-1", Order.create({ total: -1 })), SchemaViolationError);
  const got = await store.getSchema("order");
  assert.equal(got.version, 1);
});
