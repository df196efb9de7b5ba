// A TypeScript user's program as a CommonJS module (.cts: tsc emits `require`).
// scripts/package-test.sh type-checks it with `tsc --strict` under module node16 against the
// declarations of the installed package, then runs what tsc emitted on an embedded store.
//
//   node consumer.cjs <store directory>
import assert from "node:assert/strict";
import { Graveyard, StreamDeletedError, defineEntity, field, type InferEntity } from "@graveyard-db/client";

// An entity without a class: its TypeScript type is inferred from the fields.
const Order = defineEntity("order-placed", {
  sku: field.string({ required: true }),
  qty: field.integer({ min: 1 }),
});
type Order = InferEntity<typeof Order>;

async function main(): Promise<void> {
  // Closed when main leaves this scope, whatever happens.
  await using db = await Graveyard.open(process.argv[2]!);
  await db.upsertSchema(Order);
  const order: Order = Order.create({ sku: "tea", qty: 2 });
  await db.append("order-1", order, { expectedVersion: "no_stream" });
  await db.tombstoneStream("order-1");
  try {
    await db.append("order-1", order);
    assert.fail("an append to a tombstoned stream succeeded");
  } catch (e) {
    if (!(e instanceof StreamDeletedError)) throw e;
    assert.equal(e.stream, "order-1");
  }
  // The inferred type is checked: sku is required, and qty is a number.
  // @ts-expect-error
  const notAnOrder: Order = { qty: "2" };
  void notAnOrder;
  console.log("consumer.cts: ok");
}

main().catch((e: unknown) => {
  console.error("consumer.cts:", e);
  process.exit(1);
});
