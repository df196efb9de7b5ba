// Schemas from decorated classes and defineEntity: the exact JSON the core takes (checked
// against the conformance definitions and the core's own model test), both forms giving the
// same schema, inheritance, nesting, writing and reading instances (bigints exactly), and every
// declaration error with its message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  BASE64_PATTERN,
  DATE_PATTERN,
  GraveyardEntity,
  GraveyardField,
  defineEntity,
  entityNameOf,
  field,
  hydrate,
  isEntity,
  schemaJson,
  schemaOf,
  serializeEntity,
  type Entity,
  type InferEntity,
} from "../src/schema.js";

const repoRoot = resolve(__dirname, "..", "..", "..");

/** The definitions the conformance suite upserts, in file order. */
function conformanceSchemas(file: string): Record<string, unknown>[] {
  const suite = JSON.parse(readFileSync(resolve(repoRoot, "conformance", file), "utf8")) as {
    steps: { op: string; schema?: Record<string, unknown> }[];
  };
  return suite.steps.filter((s) => s.op === "upsert_schema").map((s) => s.schema as Record<string, unknown>);
}

function conformanceSchema(file: string, name: string, index = 0): unknown {
  const found = conformanceSchemas(file).filter((s) => s.name === name);
  assert.ok(found[index], `${file} upserts ${name} at least ${index + 1} times`);
  return found[index];
}

const definitionOf = (entity: Entity) => schemaOf(entity).definition;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------------
// The JSON form
// ---------------------------------------------------------------------------------------------

/** The definition of core/src/schema/tests/model.rs (json_form_is_snake_case_and_omits_what_is_not_set). */
const CORE_ORDER = {
  name: "Order",
  description: "an order",
  unknown_fields: "reject",
  compatibility: "full",
  fields: [
    { name: "id", type: "string", required: true, pattern: "[A-Z]{3}-[0-9]+", description: "the id" },
    { name: "qty", type: "integer", min: 1.0, max: 99.0, default: 1 },
    { name: "price", type: "number", nullable: true },
    { name: "paid", type: "boolean" },
    { name: "currency", type: { enum: ["EUR", "USD"] } },
    { name: "tags", type: { array: "string" }, min_length: 0, max_length: 5 },
    { name: "address", type: { object: { fields: [{ name: "zip", type: "string" }], unknown_fields: "reject" } } },
    { name: "customer", type: { ref: { name: "Customer", version: 2 } } },
    { name: "parent", type: { ref: { name: "Order" } } },
  ],
};

@GraveyardEntity({ unknownFields: "reject" })
class OrderAddress {
  @GraveyardField.string() zip?: string;
}

@GraveyardEntity("Order", { description: "an order", unknownFields: "reject", compatibility: "full" })
class Order {
  @GraveyardField.string({ required: true, pattern: "[A-Z]{3}-[0-9]+", description: "the id" }) id!: string;
  @GraveyardField.integer({ min: 1, max: 99, default: 1 }) qty?: number;
  @GraveyardField.number({ nullable: true }) price?: number | null;
  @GraveyardField.boolean() paid?: boolean;
  @GraveyardField.enum(["EUR", "USD"]) currency?: "EUR" | "USD";
  @GraveyardField.array(field.string(), { minLength: 0, maxLength: 5 }) tags?: string[];
  @GraveyardField.object(OrderAddress) address?: OrderAddress;
  @GraveyardField.ref("Customer", { version: 2 }) customer?: Record<string, unknown>;
  @GraveyardField.ref(() => Order) parent?: Order;
}

const orderDefinition = defineEntity(
  "Order",
  {
    id: field.string({ required: true, pattern: "[A-Z]{3}-[0-9]+", description: "the id" }),
    qty: field.integer({ min: 1, max: 99, default: 1 }),
    price: field.number({ nullable: true }),
    paid: field.boolean(),
    currency: field.enum(["EUR", "USD"]),
    tags: field.array(field.string(), { minLength: 0, maxLength: 5 }),
    address: field.object({ zip: field.string() }, { unknownFields: "reject" }),
    customer: field.ref("Customer", { version: 2 }),
    parent: field.ref("Order"),
  },
  { description: "an order", unknownFields: "reject", compatibility: "full" },
);

void test("the core model test's definition, from a class and from defineEntity", () => {
  assert.deepEqual(schemaOf(Order), { name: "Order", definition: CORE_ORDER });
  assert.deepEqual(schemaOf(orderDefinition), { name: "Order", definition: CORE_ORDER });
});

void test("schemaJson writes the members in the core's order and leaves out what is not set", () => {
  const expected =
    '{"name":"Order","description":"an order","fields":[' +
    '{"name":"id","type":"string","required":true,"pattern":"[A-Z]{3}-[0-9]+","description":"the id"},' +
    '{"name":"qty","type":"integer","min":1,"max":99,"default":1},' +
    '{"name":"price","type":"number","nullable":true},' +
    '{"name":"paid","type":"boolean"},' +
    '{"name":"currency","type":{"enum":["EUR","USD"]}},' +
    '{"name":"tags","type":{"array":"string"},"min_length":0,"max_length":5},' +
    '{"name":"address","type":{"object":{"fields":[{"name":"zip","type":"string"}],"unknown_fields":"reject"}}},' +
    '{"name":"customer","type":{"ref":{"name":"Customer","version":2}}},' +
    '{"name":"parent","type":{"ref":{"name":"Order"}}}' +
    '],"unknown_fields":"reject","compatibility":"full"}';
  assert.equal(schemaJson(Order), expected);
  assert.equal(schemaJson(orderDefinition), expected);
  assert.deepEqual(JSON.parse(expected), CORE_ORDER);
});

void test("the conformance suite's order and strict schemas (schema_validation.json)", () => {
  @GraveyardEntity("order")
  class OrderV1 {
    @GraveyardField.string({ required: true, pattern: "ord-[0-9]+" }) id!: string;
    @GraveyardField.integer({ min: 1, max: 100 }) qty?: number;
    @GraveyardField.number({ min: 0.01 }) price?: number;
    @GraveyardField.string({ nullable: true, maxLength: 5 }) note?: string | null;
    @GraveyardField.boolean() gift?: boolean;
    @GraveyardField.enum(["open", "paid"], { default: "open" }) status?: string;
    @GraveyardField.array("string", { minLength: 1, maxLength: 2 }) tags?: string[];
    @GraveyardField.object({ zip: field.string({ required: true, minLength: 5 }) }) address?: { zip: string };
  }
  const orderV1 = defineEntity("order", {
    id: field.string({ required: true, pattern: "ord-[0-9]+" }),
    qty: field.integer({ min: 1, max: 100 }),
    price: field.number({ min: 0.01 }),
    note: field.string({ nullable: true, maxLength: 5 }),
    gift: field.boolean(),
    status: field.enum(["open", "paid"], { default: "open" }),
    tags: field.array(field.string(), { minLength: 1, maxLength: 2 }),
    address: field.object({ zip: field.string({ required: true, minLength: 5 }) }),
  });
  const expected = conformanceSchema("schema_validation.json", "order", 0);
  assert.deepEqual(definitionOf(OrderV1), expected);
  assert.deepEqual(definitionOf(orderV1), expected);

  const orderV2 = defineEntity("order", { id: field.string({ required: true, pattern: "ord-[0-9]+" }) }, { compatibility: "none" });
  assert.deepEqual(definitionOf(orderV2), conformanceSchema("schema_validation.json", "order", 1));
  const orderV3 = defineEntity("order", {
    id: field.string({ required: true, pattern: "ord-[0-9]+" }),
    qty: field.integer({ default: 1 }),
  });
  assert.deepEqual(definitionOf(orderV3), conformanceSchema("schema_validation.json", "order", 2));

  @GraveyardEntity({ unknownFields: "reject" })
  class Inner {
    @GraveyardField.integer() b?: number;
  }
  @GraveyardEntity()
  class Loose {}
  @GraveyardEntity("strict", { unknownFields: "reject" })
  class Strict {
    @GraveyardField.integer() a?: number;
    @GraveyardField.object(Inner) inner?: Inner;
    @GraveyardField.object(Loose) loose?: Loose;
  }
  const strict = defineEntity(
    "strict",
    {
      a: field.integer(),
      inner: field.object({ b: field.integer() }, { unknownFields: "reject" }),
      loose: field.object({}),
    },
    { unknownFields: "reject" },
  );
  const expectedStrict = conformanceSchema("schema_validation.json", "strict");
  assert.deepEqual(definitionOf(Strict), expectedStrict);
  assert.deepEqual(definitionOf(strict), expectedStrict);
});

void test("the conformance suite's user, address and recursive node schemas", () => {
  @GraveyardEntity("user", { description: "a user of the shop" })
  class User {
    @GraveyardField.string({ required: true, minLength: 1 }) name!: string;
    @GraveyardField.integer({ min: 0 }) age?: number;
    @GraveyardField.string() email?: string;
  }
  const v2 = structuredClone(conformanceSchema("schemas.json", "user", 2)) as { fields: unknown[] };
  assert.deepEqual(definitionOf(User), v2);

  const address = defineEntity("address", { zip: field.string() });
  assert.deepEqual(definitionOf(address), conformanceSchema("schemas.json", "address"));

  @GraveyardEntity("node")
  class Node {
    @GraveyardField.integer() value?: number;
    @GraveyardField.ref(() => Node) next?: Node;
  }
  const node = defineEntity("node", { value: field.integer(), next: field.ref("node") });
  const expected = conformanceSchemas("invalid_schemas.json").find(
    (s) => s.name === "node" && (s.fields as unknown[]).length === 2,
  );
  assert.deepEqual(definitionOf(Node), expected);
  assert.deepEqual(definitionOf(node), expected);

  const pinned = defineEntity("u", { a: field.ref("s", { version: 9 }) });
  assert.deepEqual(definitionOf(pinned), conformanceSchemas("invalid_schemas.json").find((s) => JSON.stringify(s).includes('"version":9')));
});

void test("every field type and rule, mapped to its JSON", () => {
  enum Color {
    Red = "red",
    Green = "green",
  }
  const address = defineEntity("address", { zip: field.string() }, { unknownFields: "reject" });
  @GraveyardEntity("customer")
  class Customer {
    @GraveyardField.string() id?: string;
  }
  const all = defineEntity(
    "all",
    {
      s: field.string({ minLength: 1, maxLength: 3, pattern: "[a-z]+", default: "ab", description: "a string" }),
      i: field.integer({ min: -5, max: 5, required: true }),
      big: field.integer({ bigint: true, min: -(2n ** 63n), max: 2n ** 64n - 1n, default: 2n ** 60n + 1n }),
      n: field.number({ min: 0.5, max: 1e300, nullable: true, default: 0.75 }),
      b: field.boolean({ default: false }),
      e: field.enum(Color, { default: Color.Green }),
      d: field.date({ default: new Date(Date.UTC(2024, 4, 1, 10, 15, 30, 123)) }),
      bin: field.bytes({ default: new Uint8Array([1, 2, 3, 250]) }),
      list: field.array(field.array(field.integer()), { minLength: 1, default: [[1, 2], [3]] }),
      dates: field.array(field.date()),
      colors: field.array(field.enum(["a", "b"])),
      objects: field.array(field.object({ x: field.number() })),
      addressHere: field.object(address, { default: { zip: "1000" } }),
      addressRef: field.ref(address, { required: true }),
      customer: field.ref(Customer, { version: 3 }),
      customerInPlace: field.object(Customer),
    },
    { compatibility: "forward" },
  );
  assert.deepEqual(definitionOf(all), {
    name: "all",
    compatibility: "forward",
    fields: [
      { name: "s", type: "string", min_length: 1, max_length: 3, pattern: "[a-z]+", default: "ab", description: "a string" },
      { name: "i", type: "integer", required: true, min: -5, max: 5 },
      { name: "big", type: "integer", min: -(2n ** 63n), max: 2n ** 64n - 1n, default: 2n ** 60n + 1n },
      { name: "n", type: "number", nullable: true, min: 0.5, max: 1e300, default: 0.75 },
      { name: "b", type: "boolean", default: false },
      { name: "e", type: { enum: ["red", "green"] }, default: "green" },
      { name: "d", type: "string", pattern: DATE_PATTERN, default: "2024-05-01T10:15:30.123Z" },
      { name: "bin", type: "string", pattern: BASE64_PATTERN, default: "AQID+g==" },
      { name: "list", type: { array: { array: "integer" } }, min_length: 1, default: [[1, 2], [3]] },
      { name: "dates", type: { array: "string" } },
      { name: "colors", type: { array: { enum: ["a", "b"] } } },
      { name: "objects", type: { array: { object: { fields: [{ name: "x", type: "number" }] } } } },
      {
        name: "addressHere",
        type: { object: { fields: [{ name: "zip", type: "string" }], unknown_fields: "reject" } },
        default: { zip: "1000" },
      },
      { name: "addressRef", type: { ref: { name: "address" } }, required: true },
      { name: "customer", type: { ref: { name: "customer", version: 3 } } },
      { name: "customerInPlace", type: { object: { fields: [{ name: "id", type: "string" }] } } },
    ],
  });
  // Bigints beyond 2^53 are exact in the text; the others are plain numbers.
  const json = schemaJson(all);
  assert.ok(json.includes('"min":-9223372036854775808,"max":18446744073709551615,"default":1152921504606846977'), json);
  assert.ok(json.includes('"min":-5,"max":5'), json);
});

void test("compatibility and unknown fields: the core's defaults are left out", () => {
  for (const compatibility of ["none", "forward", "full"] as const) {
    assert.equal(definitionOf(defineEntity("c", {}, { compatibility })).compatibility, compatibility);
  }
  assert.deepEqual(definitionOf(defineEntity("c", {}, { compatibility: "backward", unknownFields: "allow" })), { name: "c", fields: [] });
  assert.deepEqual(definitionOf(defineEntity("c", {}, { unknownFields: "reject" })), { name: "c", fields: [], unknown_fields: "reject" });
});

void test("the three ways to declare a field give the same schema; name renames the member; accessors work", () => {
  @GraveyardEntity("three")
  class Three {
    @GraveyardField({ type: "integer", min: 18 }) a?: number;
    @GraveyardField.integer({ min: 18 }) b?: number;
    @GraveyardField(field.integer({ min: 18 })) c?: number;
    @GraveyardField({ type: "enum", values: ["x"], default: "x" }) d?: string;
    @GraveyardField({ type: "array", items: field.object({ z: field.boolean() }), maxLength: 2 }) e?: unknown[];
    @GraveyardField({ type: "object", of: { z: field.boolean() }, unknownFields: "reject" }) f?: unknown;
    @GraveyardField({ type: "ref", to: "other", version: 1 }) g?: unknown;
    @GraveyardField.string({ name: "postal_code" }) postalCode?: string;
    @GraveyardField.string() accessor nick: string | undefined;
  }
  const three = defineEntity("three", {
    a: field.integer({ min: 18 }),
    b: field.integer({ min: 18 }),
    c: field.integer({ min: 18 }),
    d: field.enum(["x"], { default: "x" }),
    e: field.array(field.object({ z: field.boolean() }), { maxLength: 2 }),
    f: field.object({ z: field.boolean() }, { unknownFields: "reject" }),
    g: field.ref("other", { version: 1 }),
    postal_code: field.string(),
    nick: field.string(),
  });
  assert.deepEqual(definitionOf(Three), definitionOf(three));
  assert.equal(schemaJson(Three), schemaJson(three));
  const t = new Three();
  t.postalCode = "1000-001";
  t.nick = "ada";
  assert.equal(text(serializeEntity(t).data), '{"postal_code":"1000-001","nick":"ada"}');
  const back = hydrate(Three, bytes('{"postal_code":"9","nick":"bo"}'));
  assert.equal(back.postalCode, "9");
  assert.equal(back.nick, "bo");
});

void test("Symbol.metadata is installed, and a field's declaration is kept off the metadata's enumerable keys", () => {
  assert.equal(typeof Symbol.metadata, "symbol");
  const metadata = (Order as unknown as Record<symbol, object>)[Symbol.metadata];
  assert.ok(metadata);
  assert.deepEqual(Object.keys(metadata), []);
});

// ---------------------------------------------------------------------------------------------
// Inheritance
// ---------------------------------------------------------------------------------------------

@GraveyardEntity("base-event")
class BaseEvent {
  @GraveyardField.string({ required: true }) id!: string;
  @GraveyardField.integer() version?: number | bigint;
}

@GraveyardEntity("renamed")
class Renamed extends BaseEvent {
  @GraveyardField.string() from?: string;
  @GraveyardField.integer({ bigint: true, min: 0 }) override version?: number | bigint = undefined;
  @GraveyardField.string() to?: string;
}

class Undecorated extends Renamed {}

void test("a subclass has its parent's fields first; a redeclared field keeps its place; the parent is unchanged", () => {
  assert.deepEqual(definitionOf(Renamed), {
    name: "renamed",
    fields: [
      { name: "id", type: "string", required: true },
      { name: "version", type: "integer", min: 0 },
      { name: "from", type: "string" },
      { name: "to", type: "string" },
    ],
  });
  assert.deepEqual(definitionOf(BaseEvent), {
    name: "base-event",
    fields: [
      { name: "id", type: "string", required: true },
      { name: "version", type: "integer" },
    ],
  });
  const r = Object.assign(new Renamed(), { id: "1", version: 7, from: "a", to: "b" });
  assert.deepEqual(serializeEntity(r), { type: "renamed", data: bytes('{"id":"1","version":7,"from":"a","to":"b"}') });
  assert.equal(hydrate(Renamed, '{"id":"1","version":9007199254740993}').version, 9007199254740993n);
});

void test("an undecorated subclass of an entity is no entity: its event type would be ambiguous", () => {
  const u = Object.assign(new Undecorated(), { id: "1" });
  const message = 'Undecorated extends the entity Renamed ("renamed") without @GraveyardEntity: decorate it (@GraveyardEntity("renamed") to write the same event type)';
  assert.throws(() => entityNameOf(u), { name: "TypeError", message });
  assert.throws(() => serializeEntity(u), { name: "TypeError", message });
  assert.throws(() => schemaOf(Undecorated), {
    name: "TypeError",
    message: 'Undecorated has no @GraveyardEntity: schemaOf takes a class decorated with @GraveyardEntity("name") or a defineEntity definition',
  });
  // Reading into it needs no entity: it has its parents' fields.
  const back = hydrate(Undecorated, '{"id":"2","to":"z"}');
  assert.ok(back instanceof Undecorated);
  assert.deepEqual({ ...back }, { id: "2", version: undefined, from: undefined, to: "z" });
});

void test("two entities may share a name with different definitions (a class per version, a read model)", () => {
  @GraveyardEntity("shared")
  class SharedV1 {
    @GraveyardField.string() a?: string;
  }
  @GraveyardEntity("shared")
  class SharedV2 {
    @GraveyardField.string() a?: string;
    @GraveyardField.string() b?: string;
  }
  assert.equal(definitionOf(SharedV1).fields.length, 1);
  assert.equal(definitionOf(SharedV2).fields.length, 2);
  assert.equal(entityNameOf(new SharedV1()), "shared");
  assert.equal(entityNameOf(new SharedV2()), "shared");
});

// ---------------------------------------------------------------------------------------------
// Writing and reading instances
// ---------------------------------------------------------------------------------------------

enum Status {
  Active = "active",
  Suspended = "suspended",
}

@GraveyardEntity({ unknownFields: "reject" })
class Address {
  @GraveyardField.string({ required: true, minLength: 1 }) street!: string;
  @GraveyardField.string({ name: "postal_code", pattern: "[0-9]{4}-[0-9]{3}" }) postalCode?: string;
  format(): string {
    return `${this.street} ${this.postalCode ?? ""}`.trim();
  }
}

@GraveyardEntity("line")
class Line {
  @GraveyardField.string({ required: true }) sku!: string;
  @GraveyardField.integer({ min: 1 }) qty = 1;
}

@GraveyardEntity("account")
class Account {
  @GraveyardField.string({ required: true }) id!: string;
  @GraveyardField.enum(Status, { required: true }) status: Status = Status.Active;
  @GraveyardField.object(Address) address?: Address;
  @GraveyardField.array(field.object(Line), { maxLength: 10 }) lines: Line[] = [];
  @GraveyardField.integer({ bigint: true }) balance = 0n;
  @GraveyardField.integer() logins?: number;
  @GraveyardField.number({ nullable: true }) score?: number | null;
  @GraveyardField.date() since?: Date;
  @GraveyardField.bytes() avatar?: Uint8Array;
  @GraveyardField.array(field.date()) seen: Date[] = [];
  @GraveyardField.ref(() => Account) referrer?: Account;
  @GraveyardField.ref("anything") extra?: Record<string, unknown>;
  cache = "not data";
}

function sampleAccount(): Account {
  const a = new Account();
  a.id = "acc-1";
  a.status = Status.Suspended;
  a.address = Object.assign(new Address(), { street: "Rua Augusta", postalCode: "1100-048" });
  a.lines = [Object.assign(new Line(), { sku: "A" }), Object.assign(new Line(), { sku: "B", qty: 3 })];
  a.balance = 2n ** 64n - 1n;
  a.logins = 42;
  a.score = null;
  a.since = new Date(Date.UTC(1843, 6, 1, 12));
  a.avatar = new Uint8Array([0, 255, 16]);
  a.seen = [new Date(0)];
  const r = new Account();
  r.id = "acc-0";
  r.balance = -(2n ** 63n);
  a.referrer = r;
  a.extra = { any: [1, "two", { three: true }], big: 2n ** 70n };
  return a;
}

void test("an instance is written with its entity name as the type and its declared fields as JSON", () => {
  const { type, data } = serializeEntity(sampleAccount());
  assert.equal(type, "account");
  assert.equal(
    text(data),
    '{"id":"acc-1","status":"suspended",' +
      '"address":{"street":"Rua Augusta","postal_code":"1100-048"},' +
      '"lines":[{"sku":"A","qty":1},{"sku":"B","qty":3}],' +
      '"balance":18446744073709551615,"logins":42,"score":null,' +
      '"since":"1843-07-01T12:00:00.000Z","avatar":"AP8Q","seen":["1970-01-01T00:00:00.000Z"],' +
      '"referrer":{"id":"acc-0","status":"active","lines":[],"balance":-9223372036854775808,"seen":[]},' +
      '"extra":{"any":[1,"two",{"three":true}],"big":1180591620717411303424}}',
  );
});

void test("a written instance reads back into its classes, nested ones and arrays of them included", () => {
  const original = sampleAccount();
  const back = hydrate(Account, serializeEntity(original).data);
  assert.ok(back instanceof Account);
  assert.ok(back.address instanceof Address);
  assert.equal(back.address.format(), "Rua Augusta 1100-048");
  assert.ok(back.lines.every((l) => l instanceof Line));
  assert.ok(back.referrer instanceof Account);
  assert.deepEqual(back, original);
  assert.equal(back.balance, 18446744073709551615n);
  assert.equal(back.referrer.balance, -9223372036854775808n);
  // An undeclared member of a reference by name keeps its precision when hydrate parses the bytes.
  assert.equal(back.extra?.big, 2n ** 70n);
});

void test("bigint fields at the edges of the store's integers, exact both ways", () => {
  @GraveyardEntity("big")
  class Big {
    @GraveyardField.integer({ bigint: true }) n?: bigint;
  }
  for (const n of [-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    const data = serializeEntity(Object.assign(new Big(), { n })).data;
    assert.equal(text(data), `{"n":${n}}`);
    assert.equal(hydrate(Big, data).n, n);
    assert.equal(hydrate(Big, text(data)).n, n);
  }
  for (const n of [-(2n ** 63n) - 1n, 2n ** 64n]) {
    assert.throws(() => serializeEntity(Object.assign(new Big(), { n })), {
      name: "RangeError",
      message: "Big.n: the integer is outside -2^63 ..= 2^64-1, the integers the store holds",
    });
  }
  // Already parsed by JSON.parse: small integers convert, larger ones have lost their digits.
  assert.equal(hydrate(Big, { n: 12 }).n, 12n);
  assert.throws(() => hydrate(Big, JSON.parse('{"n":9007199254740993}')), {
    name: "RangeError",
    message: "Big.n: the integer is beyond Number.MAX_SAFE_INTEGER and was rounded by JSON.parse: pass the event's bytes to hydrate",
  });
  assert.throws(() => hydrate(Big, '{"n":1.5}'), { name: "TypeError", message: "Big.n: expected an integer, not a number with a fraction" });
});

void test("integer fields held as numbers refuse integers a number cannot hold exactly, both ways", () => {
  @GraveyardEntity("small")
  class Small {
    @GraveyardField.integer() n?: number;
    @GraveyardField.number() x?: number;
  }
  const message = "Small.n: the integer is beyond Number.MAX_SAFE_INTEGER (declare the field with bigint: true)";
  assert.throws(() => hydrate(Small, '{"n":9007199254740993}'), { name: "RangeError", message });
  assert.throws(() => hydrate(Small, { n: 2 ** 60 }), { name: "RangeError", message });
  assert.throws(() => serializeEntity(Object.assign(new Small(), { n: 2 ** 60 })), {
    name: "RangeError",
    message: "Small.n: the integer is beyond Number.MAX_SAFE_INTEGER, where a number is not exact (use a bigint)",
  });
  assert.equal(hydrate(Small, '{"n":9007199254740991}').n, Number.MAX_SAFE_INTEGER);
  // A number field takes any number, large integers too (as the nearest double).
  assert.equal(hydrate(Small, '{"x":12345678901234567890}').x, 12345678901234567890);
  assert.equal(text(serializeEntity(Object.assign(new Small(), { x: 1e21, n: -0 })).data), '{"n":0,"x":1e+21}');
  assert.throws(() => serializeEntity(Object.assign(new Small(), { x: Number.NaN })), {
    name: "RangeError",
    message: "Small.x: NaN has no JSON form",
  });
  assert.throws(() => serializeEntity(Object.assign(new Small(), { n: 1.5 })), {
    name: "TypeError",
    message: "Small.n: expected an integer, not a number with a fraction",
  });
});

void test("writing: undefined is left out, null written, class properties that are not fields left out", () => {
  const a = new Account();
  a.id = "x";
  a.score = null;
  a.cache = "never written";
  (a as unknown as Record<string, unknown>).adHoc = 1;
  assert.equal(text(serializeEntity(a).data), '{"id":"x","status":"active","lines":[],"balance":0,"score":null,"seen":[]}');
});

void test("writing checks each value's JSON type and names the path, never the value", () => {
  const cases: [(a: Account) => void, string, string][] = [
    [(a) => Object.assign(a, { id: 5 }), "TypeError", "Account.id: expected a string, not a number"],
    [(a) => Object.assign(a, { status: true }), "TypeError", "Account.status: expected a string, not a boolean"],
    [(a) => Object.assign(a, { logins: "3" }), "TypeError", "Account.logins: expected an integer (a number or a bigint), not a string"],
    [(a) => Object.assign(a, { since: "2024-01-01" }), "TypeError", "Account.since: expected a Date, not a string"],
    [(a) => Object.assign(a, { since: new Date(Number.NaN) }), "RangeError", "Account.since: an invalid Date has no JSON form"],
    [(a) => Object.assign(a, { avatar: [1, 2] }), "TypeError", "Account.avatar: expected a Uint8Array, not an array"],
    [(a) => Object.assign(a, { lines: {} }), "TypeError", "Account.lines: expected an array, not an object"],
    [(a) => Object.assign(a, { lines: [null] }), "TypeError", "Account.lines[0]: array items are never null in the schema model"],
    [(a) => Object.assign(a, { lines: [{ sku: 1 }] }), "TypeError", "Account.lines[0].sku: expected a string, not a number"],
    [(a) => Object.assign(a, { address: "Lisbon" }), "TypeError", "Account.address: expected an object, not a string"],
    [(a) => Object.assign(a, { extra: { f: () => 1 } }), "TypeError", "Account.extra.f: a function has no JSON form"],
    [(a) => Object.assign(a, { extra: { m: new Map() } }), "TypeError", "Account.extra.m: an instance of Map has no JSON form (declare the field: field.bytes(), field.object() ...)"],
    [
      (a) => {
        a.referrer = a;
      },
      "TypeError",
      "Account.referrer: the object contains itself",
    ],
  ];
  for (const [mutate, name, message] of cases) {
    const a = Object.assign(new Account(), { id: "x" });
    mutate(a);
    assert.throws(() => serializeEntity(a), { name, message });
  }
});

void test("entityNameOf: decorated instances and created objects have a name, other values none", () => {
  assert.equal(entityNameOf(new Account()), "account");
  assert.equal(entityNameOf(new Address()), undefined, "a nameless entity is only a nested object");
  assert.equal(entityNameOf({ id: "x" }), undefined);
  assert.equal(entityNameOf(Object.create(null) as object), undefined);
  assert.equal(entityNameOf(new Map()), undefined);
  const user = defineEntity("user", { age: field.integer({ min: 18 }), name: field.string({ required: true }) });
  const data = { name: "Ada", age: 36 };
  const created = user.create(data);
  assert.equal(entityNameOf(created), "user");
  assert.notEqual(created, data, "create copies");
  assert.equal(entityNameOf(data), undefined);
  assert.equal(entityNameOf({ ...created }), undefined, "a copy is plain data");
  assert.throws(() => serializeEntity({ name: "Ada" }), {
    name: "TypeError",
    message:
      'serializeEntity takes an instance of a class decorated with @GraveyardEntity("name") or an object made by definition.create(), not an object',
  });
  assert.throws(() => serializeEntity(new Address()), { name: "TypeError" });
});

void test("isEntity tells decorated classes and definitions from other values", () => {
  assert.equal(isEntity(Account), true);
  assert.equal(isEntity(orderDefinition), true);
  assert.equal(isEntity(Address), false, "nameless: no schema");
  assert.equal(isEntity(Undecorated), false);
  assert.equal(isEntity({ name: "user", fields: [] }), false);
  assert.equal(isEntity(null), false);
});

void test("defineEntity instances: plain objects written with undeclared members, read back tagged", () => {
  const user = defineEntity("user", {
    name: field.string({ required: true }),
    born: field.date(),
    points: field.integer({ bigint: true }),
    address: field.object({ zip: field.string() }),
  });
  type User = InferEntity<typeof user>;
  const u: User = { name: "Ada", born: new Date(0), points: 10n ** 19n, address: { zip: "1" } };
  const { type, data } = serializeEntity(user.create({ ...u, note: "kept", address: { zip: "1", floor: 2 } } as User));
  assert.equal(type, "user");
  assert.equal(text(data), '{"name":"Ada","born":"1970-01-01T00:00:00.000Z","points":10000000000000000000,"address":{"zip":"1","floor":2},"note":"kept"}');
  const back = hydrate(user, data);
  assert.equal(entityNameOf(back), "user");
  assert.deepEqual(back, { name: "Ada", born: new Date(0), points: 10n ** 19n, address: { zip: "1", floor: 2 }, note: "kept" });
  assert.deepEqual(serializeEntity(back), { type, data });
});

void test("reading: absent members keep the constructor's value, null is set, undeclared members are dropped", () => {
  const a = hydrate(Account, { id: "a", score: null, cache: "ignored", unknown: 1 });
  assert.equal(a.status, Status.Active);
  assert.deepEqual(a.lines, []);
  assert.equal(a.balance, 0n);
  assert.equal(a.score, null);
  assert.equal(a.cache, "not data");
  assert.equal((a as unknown as Record<string, unknown>).unknown, undefined);
});

void test("reading refuses data of the wrong type with the member's path", () => {
  const cases: [unknown, string, string][] = [
    ['"text"', "TypeError", "Account: the event data is a string, not a JSON object"],
    ["[1]", "TypeError", "Account: the event data is an array, not a JSON object"],
    ['{"id":1}', "TypeError", "Account.id: expected a string, not a number"],
    ['{"logins":true}', "TypeError", "Account.logins: expected an integer, not a boolean"],
    ['{"lines":[{"sku":"a","qty":"1"}]}', "TypeError", "Account.lines[0].qty: expected an integer, not a string"],
    ['{"lines":[null]}', "TypeError", "Account.lines[0]: array items are never null in the schema model"],
    ['{"since":"yesterday"}', "TypeError", "Account.since: expected a date string, not one Date can read"],
    ['{"avatar":"not base64!"}', "TypeError", "Account.avatar: expected a base64 string, not another string"],
    ['{"address":[]}', "TypeError", "Account.address: expected an object, not an array"],
    ['{"referrer":{"address":{"street":7}}}', "TypeError", "Account.referrer.address.street: expected a string, not a number"],
    ['{"id":', "SyntaxError", "Unexpected end of JSON input"],
    [new Uint8Array([0x7b, 0xff, 0x7d]), "TypeError", "The encoded data was not valid for encoding utf-8"],
  ];
  for (const [data, name, message] of cases) {
    assert.throws(() => hydrate(Account, data), { name, message }, String(data));
  }
});

void test("reading a member named __proto__ sets a member, not the prototype", () => {
  const loose = defineEntity("loose", { a: field.object({}) });
  const back = hydrate(loose, '{"a":{"__proto__":{"x":1},"n":12345678901234567890},"__proto__":5}') as Record<string, unknown>;
  const a = back.a as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(a, "__proto__")?.value, { x: 1 });
  assert.equal(a.n, 12345678901234567890n);
  assert.equal(Object.getOwnPropertyDescriptor(back, "__proto__")?.value, 5);
});

void test("the lossless reading path reads every JSON text as JSON.parse does, large integers exactly", () => {
  const anyDef = defineEntity("any", {});
  const cases: [string, unknown][] = [
    [
      '{"a":1234567890123456,"b":-0,"c":1.5e300,"d":"\\u00e9\\n\\"q\\"\\\\","e":[true,false,null,[],{}],"f":0.1234567890123456789}',
      { a: 1234567890123456, b: -0, c: 1.5e300, d: 'é\n"q"\\', e: [true, false, null, [], {}], f: 0.1234567890123456789 },
    ],
    [' {\n\t"k" : [ 1 , 2 ,3 ] , "s":"1234567890123456789" }\r\n', { k: [1, 2, 3], s: "1234567890123456789" }],
    [
      '{"":{"deep":[[[9007199254740991,9007199254740992]]]},"emoji":"\\ud83d\\ude00 😀","e":1E+2,"x":-12345678901234567,"y":12345678901234567.0}',
      { "": { deep: [[[9007199254740991, 9007199254740992n]]] }, emoji: "😀 😀", e: 100, x: -12345678901234567n, y: 12345678901234568 },
    ],
  ];
  for (const [json, expected] of cases) {
    assert.deepEqual(hydrate(anyDef, json), expected, json);
    // Without its bigints, the value is JSON.parse's.
    const noBig = JSON.parse(JSON.stringify(expected, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))) as unknown;
    const parsed = JSON.parse(json) as unknown;
    assert.deepEqual(JSON.stringify(parsed), JSON.stringify(noBig), json);
  }
  for (const bad of ['{"a":1234567890123456,}', '{"a":01234567890123456}', '{"a":1234567890123456} x', '{"a":"1234567890123456\n"}', "{'a':1234567890123456}", '{"a":1234567890123456', '[1234567890123456]x']) {
    assert.throws(() => hydrate(anyDef, bad), { name: "SyntaxError" }, bad);
  }
});

// ---------------------------------------------------------------------------------------------
// Declaration errors
// ---------------------------------------------------------------------------------------------

/** Declarations that must throw, each with its error and message. */
const declarationErrors: [string, () => unknown, "TypeError" | "RangeError", string][] = [
  [
    "min above max",
    () => (@GraveyardEntity("u") class U { @GraveyardField.integer({ min: 5, max: 1 }) n?: number }),
    "RangeError",
    "U.n: min 5 is above max 1",
  ],
  [
    "min above max, bigints",
    () => defineEntity("u", { n: field.integer({ min: 2n ** 64n, max: 2 ** 60 }) }),
    "RangeError",
    'defineEntity("u").n: min 18446744073709551616 is above max 1152921504606847000',
  ],
  [
    "minLength above maxLength",
    () => (@GraveyardEntity("u") class U { @GraveyardField.string({ minLength: 4, maxLength: 2 }) s?: string }),
    "RangeError",
    "U.s: minLength 4 is above maxLength 2",
  ],
  ["negative length", () => defineEntity("u", { a: field.array("string", { maxLength: -1 }) }), "RangeError", 'defineEntity("u").a: maxLength must be at least 0, not -1'],
  ["fractional length", () => defineEntity("u", { s: field.string({ minLength: 1.5 }) }), "TypeError", 'defineEntity("u").s: minLength must be a whole number (of characters or items), not 1.5'],
  ["non-finite bound", () => defineEntity("u", { n: field.number({ max: Infinity }) }), "RangeError", 'defineEntity("u").n: max must be a finite number, not Infinity'],
  ["bound of the wrong type", () => defineEntity("u", { n: field.number({ min: "1" as unknown as number }) }), "TypeError", 'defineEntity("u").n: min must be a number or a bigint, not "1"'],
  [
    "required and nullable",
    () => (@GraveyardEntity("u") class U { @GraveyardField.string({ required: true, nullable: true }) s?: string }),
    "TypeError",
    "U.s: required and nullable contradict each other: a required field holds a value (drop one; a default fills absent and null values)",
  ],
  ["a rule on the wrong type: min on a string", () => defineEntity("u", { s: field.string({ min: 1 } as never) }), "TypeError", 'defineEntity("u").s: min applies to numbers and integers, not to a string'],
  ["max_length on a number", () => defineEntity("u", { n: field.number({ maxLength: 3 } as never) }), "TypeError", 'defineEntity("u").n: maxLength applies to strings and arrays, not to a number'],
  ["pattern on an integer", () => defineEntity("u", { n: field.integer({ pattern: "1" } as never) }), "TypeError", 'defineEntity("u").n: pattern applies to strings, not to an integer'],
  ["pattern on a date", () => defineEntity("u", { d: field.date({ pattern: "x" } as never) }), "TypeError", 'defineEntity("u").d: pattern does not apply to a date, whose text has a fixed form (the schema carries its pattern)'],
  ["bigint on a number", () => defineEntity("u", { n: field.number({ bigint: true } as never) }), "TypeError", 'defineEntity("u").n: bigint applies to integers, not to a number'],
  ["version on an object", () => defineEntity("u", { o: field.object({}, { version: 1 } as never) }), "TypeError", 'defineEntity("u").o: version applies to references, not to an object'],
  [
    "unknown option, snake_case",
    () => defineEntity("u", { s: field.string({ min_length: 1 } as never) }),
    "TypeError",
    'defineEntity("u").s: unknown option \'min_length\' (write minLength) (a string field takes required, nullable, default, description, minLength, maxLength, pattern)',
  ],
  [
    "unknown option, maxItems",
    () => (@GraveyardEntity("u") class U { @GraveyardField.array(field.string(), { maxItems: 3 } as never) a?: string[] }),
    "TypeError",
    "U.a: unknown option 'maxItems' (arrays count their items with minLength and maxLength) (an array field takes required, nullable, default, description, name, minLength, maxLength)",
  ],
  [
    "unknown option, misspelt (the conformance suite's requried)",
    () => (@GraveyardEntity("u") class U { @GraveyardField({ type: "integer", requried: true } as never) n?: number }),
    "TypeError",
    "U.n: unknown option 'requried' (an integer field takes required, nullable, default, description, name, min, max, bigint)",
  ],
  ["an unknown type", () => (@GraveyardEntity("u") class U { @GraveyardField({ type: "decimal" } as never) n?: number }), "TypeError", 'U.n: unknown type "decimal" (the types are string, integer, number, boolean, date, bytes, enum, array, object, ref)'],
  [
    "a field without a type",
    () => (@GraveyardEntity("u") class U { @GraveyardField({ min: 18 } as never) age?: number }),
    "TypeError",
    'U.age: the field has no type: TypeScript erases property types, so give it (@GraveyardField.integer({ ... }), field.string(), or { type: "integer", ... })',
  ],
  [
    "a decorator without its call",
    () => (@GraveyardEntity("u") class U { @(GraveyardField as unknown as FieldDecoratorLike) age?: number }),
    "TypeError",
    'U.age: @GraveyardField needs the field\'s type: TypeScript erases property types (write @GraveyardField.integer({ ... }) or @GraveyardField({ type: "integer", ... }))',
  ],
  ["options that are not an object", () => defineEntity("u", { e: field.string("enum" as never) }), "TypeError", 'defineEntity("u").e: the options must be an object, not "enum"'],
  ["enum options without values", () => (@GraveyardEntity("u") class U { @GraveyardField({ type: "enum" } as never) e?: string }), "TypeError", 'U.e: a field of type "enum" needs \'values\''],
  ["an empty enum", () => defineEntity("u", { e: field.enum([]) }), "TypeError", 'defineEntity("u").e: the enum has no variants'],
  ["a duplicated enum variant", () => defineEntity("u", { e: field.enum(["a", "b", "a"]) }), "TypeError", 'defineEntity("u").e: enum variant "a" is listed more than once'],
  ["a numeric TypeScript enum", () => defineEntity("u", { e: field.enum(NumericEnum as never) }), "TypeError", 'defineEntity("u").e: a numeric TypeScript enum has no string variants; use a string enum or a list of strings'],
  ["a non-string variant", () => defineEntity("u", { e: field.enum([1] as never) }), "TypeError", 'defineEntity("u").e: enum variants are strings, not 1'],
  [
    "array items with rules",
    () => defineEntity("u", { a: field.array(field.string({ maxLength: 3 })) }),
    "TypeError",
    'defineEntity("u").a[]: array items take no rules in the schema model, only a type (maxLength belongs on the array\'s own field, or on a field of an object item)',
  ],
  [
    "array items required",
    () => defineEntity("u", { a: field.array(field.integer({ required: true })) }),
    "TypeError",
    'defineEntity("u").a[]: array items take no rules in the schema model, only a type (required belongs on the array\'s own field, or on a field of an object item)',
  ],
  ["an array without items", () => defineEntity("u", { a: field.array(undefined as never) }), "TypeError", 'defineEntity("u").a[]: field.array needs the type of its items (field.array(field.string()))'],
  ["a null default", () => defineEntity("u", { s: field.string({ default: null as never }) }), "TypeError", 'defineEntity("u").s: a null default changes nothing (the store writes a default in place of null)'],
  ["a default of the wrong type", () => defineEntity("u", { n: field.integer({ default: "1" as never }) }), "TypeError", 'defineEntity("u").n: default: expected an integer (a number or a bigint), not a string'],
  ["a default below min (the conformance suite's)", () => defineEntity("u", { n: field.integer({ min: 1, default: 0 }) }), "RangeError", 'defineEntity("u").n: default 0 is below min 1'],
  ["a default above max", () => defineEntity("u", { n: field.number({ max: 1, default: 1.5 }) }), "RangeError", 'defineEntity("u").n: default 1.5 is above max 1'],
  ["a default outside the enum", () => defineEntity("u", { e: field.enum(["a"], { default: "b" as never }) }), "TypeError", 'defineEntity("u").e: default "b" is not one of the enum\'s variants'],
  ["a default too long", () => defineEntity("u", { s: field.string({ maxLength: 2, default: "éèê" }) }), "RangeError", 'defineEntity("u").s: default has length 3, above maxLength 2'],
  ["a default with too few items", () => defineEntity("u", { a: field.array("integer", { minLength: 2, default: [1] }) }), "RangeError", 'defineEntity("u").a: default has length 1, below minLength 2'],
  ["a default object of the wrong shape", () => defineEntity("u", { o: field.object({ n: field.integer() }, { default: { n: "x" } as never }) }), "TypeError", 'defineEntity("u").o: default.n: expected an integer (a number or a bigint), not a string'],
  ["an empty entity name", () => defineEntity("", {}), "TypeError", 'defineEntity(""): the entity name is empty'],
  ["a reserved entity name", () => (@GraveyardEntity("$user") class U {}), "TypeError", 'U: the entity name "$user" starts with \'$\', which is reserved for the system'],
  ["a NUL in the entity name", () => defineEntity("a\0b", {}), "TypeError", 'defineEntity("a\\u0000b"): the entity name contains a NUL character'],
  [
    "an entity name too long for its stream",
    () => defineEntity("s".repeat(249), {}),
    "RangeError",
    `defineEntity("${"s".repeat(249)}"): the entity name is 249 bytes of UTF-8, longer than 248 (its stream $schema-<name> must fit in 256)`,
  ],
  ["an entity name that is not a string", () => (@GraveyardEntity(5 as unknown as string) class U {}), "TypeError", "U: the entity name must be a string, not 5"],
  ["an unknown entity option", () => defineEntity("u", {}, { unknown_fields: "reject" } as never), "TypeError", 'defineEntity("u"): unknown entity option \'unknown_fields\' (write unknownFields) (the options are description, unknownFields, compatibility)'],
  ["a wrong unknownFields", () => defineEntity("u", {}, { unknownFields: "maybe" } as never), "TypeError", 'defineEntity("u"): unknownFields must be "allow" or "reject", not "maybe"'],
  ["a wrong compatibility", () => (@GraveyardEntity("u", { compatibility: "strict" } as never) class U {}), "TypeError", 'U: compatibility must be "none", "backward", "forward" or "full", not "strict"'],
  [
    "schema options on a nameless entity",
    () => (@GraveyardEntity({ compatibility: "full" } as never) class U {}),
    "TypeError",
    'U: description and compatibility describe a schema, and an entity without a name has none (give it one: @GraveyardEntity("name", ...))',
  ],
  ["a class decorator without its call", () => (@(GraveyardEntity as unknown as ClassDecoratorLike) class U {}), "TypeError", 'U: write @GraveyardEntity("name") (with its call and the entity name)'],
  ["a class decorated twice", () => (@GraveyardEntity("a") @GraveyardEntity("b") class U {}), "TypeError", "U: @GraveyardEntity is applied more than once"],
  [
    "two properties writing one member",
    () => (@GraveyardEntity("u") class U { @GraveyardField.string({ name: "x" }) a?: string; @GraveyardField.string() x?: string }),
    "TypeError",
    'U: the properties a and x both write the JSON member "x"',
  ],
  ["an empty member name", () => (@GraveyardEntity("u") class U { @GraveyardField.string({ name: "" }) a?: string }), "TypeError", "U.a: name is empty"],
  ["name in defineEntity", () => defineEntity("u", { a: field.string({ name: "b" }) }), "TypeError", 'defineEntity("u").a: name renames a class property; here the key is the JSON member name'],
  ["a field decorated twice", () => (@GraveyardEntity("u") class U { @GraveyardField.string() @GraveyardField.string() a?: string }), "TypeError", "U.a: @GraveyardField is applied more than once"],
  ["a static field", () => (@GraveyardEntity("u") class U { @GraveyardField.string() static a?: string }), "TypeError", "U.a: a static member belongs to the class, not to the data of its instances"],
  ["a private field", () => (@GraveyardEntity("u") class U { @GraveyardField.string() #a?: string; read() { return this.#a; } }), "TypeError", "U.#a: a private (#) member cannot be read or set from outside its class"],
  ["a method", () => (@GraveyardEntity("u") class U { @(GraveyardField.string() as unknown as MethodDecoratorLike) m() {} }), "TypeError", "U.m: @GraveyardField decorates fields and auto-accessors, not a method"],
  ["field options that are not an object", () => defineEntity("u", { s: 5 as never }), "TypeError", 'defineEntity("u").s: not a field declaration: 5 (use field.string(), field.integer() ...)'],
  ["fields that are not an object", () => defineEntity("u", [] as never), "TypeError", 'defineEntity("u"): the fields must be an object of field specs'],
  ["a ref version of 0", () => defineEntity("u", { r: field.ref("a", { version: 0 }) }), "RangeError", 'defineEntity("u").r: version 0 is outside 1 ..= 4294967295 (versions are numbered from 1)'],
  ["a fractional ref version", () => defineEntity("u", { r: field.ref("a", { version: 1.5 }) }), "TypeError", 'defineEntity("u").r: version must be an integer, not 1.5'],
  ["a ref to an empty name", () => defineEntity("u", { r: field.ref("") }), "TypeError", 'defineEntity("u").r: the referred schema\'s name is empty'],
  ["a ref to a nameless class", () => defineEntity("u", { r: field.ref(Address) }), "TypeError", 'defineEntity("u").r: field.ref refers to Address, which has no entity name (@GraveyardEntity("name"))'],
  [
    "unknownFields on an object declared by a class",
    () => defineEntity("u", { o: field.object(Line, { unknownFields: "reject" }) }),
    "TypeError",
    'defineEntity("u").o: unknownFields of an object declared by a class or a definition is its own (@GraveyardEntity({ unknownFields: "reject" }) or defineEntity\'s options)',
  ],
  [
    "an object of a class that declares nothing",
    () => defineEntity("u", { o: field.object(class Plain {}) }),
    "TypeError",
    "Plain declares no @GraveyardField and has no @GraveyardEntity: decorate its fields (@GraveyardField.string() ...) so that its data can be described",
  ],
  [
    "an object of one field spec",
    () => defineEntity("u", { o: field.object(field.string() as never) }),
    "TypeError",
    'defineEntity("u").o: field.object takes the object\'s fields ({ zip: field.string() }), a class or a definition, not one field spec',
  ],
  [
    "an object of something else",
    () => defineEntity("u", { o: field.object(42 as never) }),
    "TypeError",
    'defineEntity("u").o: field.object takes a class, a defineEntity definition, an object of field specs or an arrow function returning a class or definition, not 42',
  ],
  [
    "an error in a nested class names the nested class",
    () => {
      class Inner {
        @GraveyardField.integer({ min: 2, max: 1 }) n?: number;
      }
      return @GraveyardEntity("u") class U { @GraveyardField.object(Inner) inner?: Inner };
    },
    "RangeError",
    "Inner.n: min 2 is above max 1",
  ],
];

enum NumericEnum {
  A,
  B,
}
type FieldDecoratorLike = (value: undefined, context: ClassFieldDecoratorContext) => void;
type ClassDecoratorLike = (value: abstract new () => object, context: ClassDecoratorContext) => void;
type MethodDecoratorLike = (value: () => void, context: ClassMethodDecoratorContext) => void;

for (const [what, declare, name, message] of declarationErrors) {
  void test(`declaration error: ${what}`, () => {
    assert.throws(declare, (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, name);
      assert.equal(e.message, message);
      return true;
    });
  });
}

void test("errors found when the schema is built: recursion through objects, thunks that return nothing useful", () => {
  @GraveyardEntity("tree")
  class Tree {
    @GraveyardField.array(field.object(() => Tree)) kids?: Tree[];
  }
  assert.throws(() => schemaOf(Tree), {
    name: "TypeError",
    message:
      "Tree.kids[]: Tree contains itself; objects are declared in place and cannot nest endlessly (refer to an entity with field.ref(() => Class) for recursive data)",
  });
  const bad = defineEntity("bad", { r: field.ref(() => 5 as never) });
  assert.throws(() => schemaOf(bad), {
    name: "TypeError",
    message: 'defineEntity("bad").r: field.ref takes a class, a defineEntity definition, a schema name or an arrow function returning a class or definition, not 5',
  });
  @GraveyardEntity("later")
  class Later {
    @GraveyardField.object(() => Forward, { default: { n: "x" } }) f?: unknown;
  }
  @GraveyardEntity()
  class Forward {
    @GraveyardField.integer() n?: number;
  }
  assert.throws(() => schemaOf(Later), {
    name: "TypeError",
    message: "Later.f: default.n: expected an integer (a number or a bigint), not a string",
  });
  void Forward;
});

void test("schemaOf and hydrate take entities only", () => {
  assert.throws(() => schemaOf(Address), {
    name: "TypeError",
    message: 'Address has no entity name: give it one (@GraveyardEntity("name")) to make it a schema',
  });
  assert.throws(() => schemaOf({ name: "user" } as never), {
    name: "TypeError",
    message: "schemaOf takes a decorated class or a defineEntity definition, not an object",
  });
  assert.throws(() => hydrate(class Nothing {}, {}), {
    name: "TypeError",
    message: "Nothing declares no @GraveyardField and has no @GraveyardEntity: decorate its fields (@GraveyardField.string() ...) so that its data can be described",
  });
});

void test("legacy decorators are refused with the reason", () => {
  const legacy = GraveyardField.string() as unknown as (target: object, key: string) => void;
  assert.throws(() => legacy({}, "name"), {
    name: "TypeError",
    message: "@GraveyardField on 'name': it is a TypeScript 5 standard decorator; turn off experimentalDecorators",
  });
});

void test("the schema is built once and frozen", () => {
  assert.equal(schemaOf(Order), schemaOf(Order));
  assert.ok(Object.isFrozen(schemaOf(Order).definition));
  assert.ok(Object.isFrozen(schemaOf(Order).definition.fields[0]));
});

void test("defineEntity infers its instances' type", () => {
  const user = defineEntity("user", {
    name: field.string({ required: true }),
    age: field.integer({ min: 0 }),
    big: field.integer({ bigint: true, required: true }),
    note: field.string({ nullable: true }),
    role: field.enum(["admin", "member"] as const),
    tags: field.array(field.string()),
    address: field.object({ zip: field.string({ required: true }) }),
    line: field.object(Line),
  });
  type User = InferEntity<typeof user>;
  const u: User = { name: "x", big: 1n, note: null, role: "admin", tags: ["a"], address: { zip: "1" }, line: new Line() };
  // @ts-expect-error name is required
  const missing: User = { big: 1n };
  // @ts-expect-error role is one of the variants
  const wrongRole: User = { name: "x", big: 1n, role: "owner" };
  // @ts-expect-error age is a number
  const wrongAge: User = { name: "x", big: 1n, age: "3" };
  // @ts-expect-error an option no field takes
  field.string({ maxItems: 3 });
  void [missing, wrongRole, wrongAge];
  assert.equal(entityNameOf(user.create(u)), "user");
});
