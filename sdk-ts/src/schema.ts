/**
 * Schemas from TypeScript classes and plain objects: the JSON definition the core's
 * `upsert_schema` takes (docs/semantics.md, "Schemas"; core/src/schema/model.rs), the JSON an
 * instance is appended as, and the instance an event's data is read back into.
 *
 * ```ts
 * @GraveyardEntity("user", { unknownFields: "reject" })
 * class User {
 *   @GraveyardField.string({ required: true, minLength: 1, maxLength: 100 }) name!: string;
 *   @GraveyardField.integer({ min: 18 }) age?: number;
 *   @GraveyardField.object(Address) address?: Address;
 *   @GraveyardField.array(field.string(), { maxLength: 10 }) tags: string[] = [];
 * }
 * // the same schema without decorators:
 * const user = defineEntity("user", {
 *   name: field.string({ required: true, minLength: 1, maxLength: 100 }),
 *   age: field.integer({ min: 18 }),
 *   address: field.object(Address),
 *   tags: field.array(field.string(), { maxLength: 10 }),
 * }, { unknownFields: "reject" });
 * ```
 *
 * Mapping, one to one with the model (options are the model's keys in camelCase):
 *
 * | TypeScript                                  | schema JSON                                      |
 * |---------------------------------------------|--------------------------------------------------|
 * | `field.string()`                            | `"string"`                                       |
 * | `field.integer()` (`{ bigint: true }`)       | `"integer"` (read and written as `bigint`)       |
 * | `field.number()`                            | `"number"`                                       |
 * | `field.boolean()`                           | `"boolean"`                                      |
 * | `field.enum(["a", "b"])`, a string `enum`   | `{"enum": ["a", "b"]}`                           |
 * | `field.array(item)`                         | `{"array": <item type>}`                         |
 * | `field.object(Class \| definition \| {...})` | `{"object": {"fields": [...], "unknown_fields"?}}` |
 * | `field.ref("name" \| Class \| definition, { version })` | `{"ref": {"name", "version"?}}`         |
 * | `field.date()`                              | `"string"` with an RFC 3339 pattern, as `Date`   |
 * | `field.bytes()`                             | `"string"` with the base64 pattern, as `Uint8Array` |
 * | `required`, `nullable`, `min`, `max`, `minLength`, `maxLength`, `pattern`, `default`, `description` | the field's `required` ... `description` |
 * | entity `description`, `unknownFields`, `compatibility` | the schema's `description`, `unknown_fields`, `compatibility` |
 *
 * The model has no map, "any" or format type: `date` and `bytes` are strings whose form the
 * schema fixes with a pattern, as the Go and Java SDKs derive for their time and byte types.
 *
 * Decisions (see also the functions):
 * - Declaration errors are thrown when the class is decorated or `defineEntity` is called (those
 *   that need a reference resolved, when the schema is first built): `TypeError` for a wrong or
 *   contradictory option, `RangeError` for a value out of its range; the message starts with the
 *   class and field (`User.age: ...`, `defineEntity("user").age: ...`). Rules the core checks
 *   with more knowledge (patterns, which compile with Rust's regex; references to schemas that
 *   exist; rules of nested defaults) are left to its INVALID_SCHEMA.
 * - Entity names are not registered globally: two classes may share a name (a class per schema
 *   version, a read model of some members); the store decides which definition is in force.
 * - `min`/`max` of integer fields carry no implicit range: a TypeScript `number` is the JSON
 *   number, and implicit bounds would make every schema written from TypeScript differ from
 *   the same one written by hand. Instead, an integer beyond `Number.MAX_SAFE_INTEGER` is
 *   refused on write and on read with a `RangeError` (declare `bigint: true` to hold it).
 */

// Standard decorators give `context.metadata` only when `Symbol.metadata` exists at the moment a
// class is defined (TypeScript's emit tests it, esbuild's and swc's too), and Node 20 has none:
// without it, field decorators could not pass what they declare to the class decorator. Users
// import the decorators from this module, so it is evaluated before any of their classes.
// Symbol.for("Symbol.metadata") is the symbol esbuild falls back to and other polyfills install,
// so code compiled by any of them shares the key; a runtime that has the symbol keeps its own.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for("Symbol.metadata");

// ---------------------------------------------------------------------------------------------
// The JSON form (docs/semantics.md, "Schemas")
// ---------------------------------------------------------------------------------------------

/** A JSON value; integers beyond 2^53 are `bigint` so that none loses precision. */
export type JsonValue = null | boolean | number | bigint | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [member: string]: JsonValue;
}

export type UnknownFieldsMode = "allow" | "reject";
export type CompatibilityMode = "none" | "backward" | "forward" | "full";

/** A field type in its JSON form. */
export type FieldTypeJson =
  | "number"
  | "integer"
  | "string"
  | "boolean"
  | { readonly enum: readonly string[] }
  | { readonly array: FieldTypeJson }
  | { readonly object: ObjectTypeJson }
  | { readonly ref: { readonly name: string; readonly version?: number } };

export interface ObjectTypeJson {
  readonly fields: readonly FieldJson[];
  readonly unknown_fields?: "reject";
}

/** A field in its JSON form, keys in the order the core writes them. */
export interface FieldJson {
  readonly name: string;
  readonly type: FieldTypeJson;
  readonly required?: true;
  readonly nullable?: true;
  /** A `bigint` only for a bound beyond 2^53 given as one (the core reads bounds as doubles). */
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  readonly min_length?: number;
  readonly max_length?: number;
  readonly pattern?: string;
  readonly default?: JsonValue;
  readonly description?: string;
}

/** A schema definition as `upsert_schema` takes it. Defaults are left out, as the core does. */
export interface SchemaDefinition {
  readonly name: string;
  readonly description?: string;
  readonly fields: readonly FieldJson[];
  readonly unknown_fields?: "reject";
  readonly compatibility?: "none" | "forward" | "full";
}

// ---------------------------------------------------------------------------------------------
// Declarations: options, field specs, entities
// ---------------------------------------------------------------------------------------------

export type ScalarTypeName = "string" | "integer" | "number" | "boolean" | "date" | "bytes";
export type FieldTypeName = ScalarTypeName | "enum" | "array" | "object" | "ref";

interface BaseOptions<D> {
  /** Present and not null (absent: a `required` violation, null: `nullable`). */
  readonly required?: boolean;
  /** May be null. Not with `required`. */
  readonly nullable?: boolean;
  /** Written by the store when the member is absent or null; not null. */
  readonly default?: D;
  readonly description?: string;
  /** Decorators only: the JSON member name, when it is not the property's name. */
  readonly name?: string;
}

export interface StringOptions extends BaseOptions<string> {
  /** In characters (Unicode scalar values). */
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A Rust `regex` the whole string must match (the store anchors it). */
  readonly pattern?: string;
}
export interface NumberOptions extends BaseOptions<number> {
  /** Inclusive. */
  readonly min?: number | bigint;
  readonly max?: number | bigint;
}
export interface IntegerOptions extends BaseOptions<number | bigint> {
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  /** Read and written as `bigint`, exactly (the store holds -2^63 ..= 2^64-1). */
  readonly bigint?: boolean;
}
export type BooleanOptions = BaseOptions<boolean>;
export type DateOptions = BaseOptions<Date>;
export type BytesOptions = BaseOptions<Uint8Array>;
export type EnumOptions<V extends string = string> = BaseOptions<V>;
export interface ArrayOptions<I = unknown> extends BaseOptions<readonly I[]> {
  /** In items (the model's `min_length`/`max_length` count the items of arrays). */
  readonly minLength?: number;
  readonly maxLength?: number;
}
export interface ObjectOptions<T = unknown> extends BaseOptions<T> {
  /** For objects declared by a map of fields; a class or definition carries its own. */
  readonly unknownFields?: UnknownFieldsMode;
}
export interface RefOptions<T = unknown> extends BaseOptions<T> {
  /** Pins a version of the referred schema; without it the core pins the latest at upsert. */
  readonly version?: number;
}

/** The variants of an enum: a list, or a TypeScript string `enum`. */
export type EnumValues = readonly string[] | Readonly<Record<string, string>>;
/** An array's item: a field spec without rules, or the name of a scalar type. */
export type ItemSpec = FieldSpec | ScalarTypeName;
/** Fields by member name, for `defineEntity` and in-place objects. */
export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

/** A class; decorated with `@GraveyardField`s (and `@GraveyardEntity` to be an entity). */
export type EntityClass<T extends object = object> = abstract new (...args: never[]) => T;
/** What `schemaOf`, `hydrate`... take: a decorated class or a `defineEntity` definition. */
export type Entity<T extends object = object> = EntityClass<T> | EntityDefinition<T>;
/** Evaluated late, for a class declared further down or for the class itself. */
export type EntityThunk = () => EntityClass | EntityDefinition<object>;
export type ObjectTarget = EntityClass | EntityDefinition<object> | FieldSpecs | EntityThunk;
export type RefTarget = string | EntityClass | EntityDefinition<object> | EntityThunk;

/** The declaration form of `@GraveyardField({ type: ..., ...rules })`. */
export type FieldOptions =
  | ({ readonly type: "string" } & StringOptions)
  | ({ readonly type: "integer" } & IntegerOptions)
  | ({ readonly type: "number" } & NumberOptions)
  | ({ readonly type: "boolean" } & BooleanOptions)
  | ({ readonly type: "date" } & DateOptions)
  | ({ readonly type: "bytes" } & BytesOptions)
  | ({ readonly type: "enum"; readonly values: EnumValues } & EnumOptions)
  | ({ readonly type: "array"; readonly items: ItemSpec } & ArrayOptions)
  | ({ readonly type: "object"; readonly of: ObjectTarget } & ObjectOptions)
  | ({ readonly type: "ref"; readonly to: RefTarget } & RefOptions);

/**
 * A field's declaration, made by `field.*`. `T` is the property's TypeScript type and `R`
 * whether it is required; both exist for `defineEntity`'s inferred type only.
 */
export interface FieldSpec<T = unknown, R extends boolean = boolean> {
  readonly type: FieldTypeName;
  readonly options: Readonly<Record<string, unknown>>;
  readonly "~value"?: T;
  readonly "~required"?: R;
}

/** The schema-level options of an entity. */
export interface EntityOptions {
  readonly description?: string;
  readonly unknownFields?: UnknownFieldsMode;
  readonly compatibility?: CompatibilityMode;
}

/** An entity declared without a class. */
export interface EntityDefinition<T extends object = Record<string, unknown>> {
  readonly name: string;
  readonly fields: FieldSpecs;
  readonly options: Readonly<EntityOptions>;
  /**
   * A copy of `data` that `entityNameOf` and `serializeEntity` know as this entity's. Plain
   * objects are otherwise untagged data.
   */
  create(data: T): T;
}

type ValueWith<T, O> = O extends { readonly nullable: true } ? T | null : T;
type RequiredOf<O> = O extends { readonly required: true } ? true : false;
/** Refuses keys `Allowed` does not have (generic options escape excess property checks). */
type Strict<O, Allowed> = O & Record<Exclude<keyof O, keyof Allowed>, never>;
type NoOptions = Record<never, never>;
type Simplify<T> = { [K in keyof T]: T[K] } & NonNullable<unknown>;

type SpecValue<S> = S extends { readonly "~value"?: infer T } ? T : unknown;
type SpecRequired<S> = S extends { readonly "~required"?: infer R } ? (R extends true ? true : false) : false;

/** The object type a map of field specs describes: required fields required, others optional. */
export type InferFields<F extends FieldSpecs> = Simplify<
  { -readonly [K in keyof F as SpecRequired<F[K]> extends true ? K : never]: SpecValue<F[K]> } & {
    -readonly [K in keyof F as SpecRequired<F[K]> extends true ? never : K]?: SpecValue<F[K]>;
  }
>;
/** The instance type of an entity. */
export type InferEntity<E> =
  E extends EntityDefinition<infer T> ? T : E extends abstract new (...args: never[]) => infer I ? I : never;

type ObjectValue<X> = X extends abstract new (...args: never[]) => infer I
  ? I
  : X extends EntityDefinition<infer T>
    ? T
    : X extends () => infer R
      ? ObjectValue<R>
      : X extends FieldSpecs
        ? InferFields<X>
        : never;
type RefValue<X> = X extends string ? Record<string, unknown> : ObjectValue<X>;
type ItemValue<I> = I extends FieldSpec
  ? Exclude<SpecValue<I>, null>
  : I extends "string"
    ? string
    : I extends "integer" | "number"
      ? number
      : I extends "boolean"
        ? boolean
        : I extends "date"
          ? Date
          : I extends "bytes"
            ? Uint8Array
            : never;

// ---------------------------------------------------------------------------------------------
// field.*: the builders
// ---------------------------------------------------------------------------------------------

interface SpecData {
  readonly kind: FieldTypeName;
  /** The enum's values, the array's items, the object's or the reference's target. */
  readonly arg: unknown;
  readonly options: Readonly<Record<string, unknown>>;
}

/** The specs made here, so that options objects (which have a `type` too) are not taken for one. */
const specs = new WeakMap<object, SpecData>();

function makeSpec(kind: FieldTypeName, arg: unknown, options: unknown): FieldSpec<never, never> {
  // Checked when the spec is attached to a field, where the error can name it.
  const opts = isRecord(options) ? Object.freeze({ ...options }) : options === undefined ? {} : { "~invalid": options };
  const spec: FieldSpec<never, never> = Object.freeze({ type: kind, options: opts });
  specs.set(spec, { kind, arg, options: opts });
  return spec;
}

function stringField<const O extends StringOptions = NoOptions>(
  options?: Strict<O, StringOptions>,
): FieldSpec<ValueWith<string, O>, RequiredOf<O>> {
  return makeSpec("string", undefined, options);
}
function integerField<const O extends IntegerOptions = NoOptions>(
  options?: Strict<O, IntegerOptions>,
): FieldSpec<ValueWith<O extends { readonly bigint: true } ? bigint : number, O>, RequiredOf<O>> {
  return makeSpec("integer", undefined, options);
}
function numberField<const O extends NumberOptions = NoOptions>(
  options?: Strict<O, NumberOptions>,
): FieldSpec<ValueWith<number, O>, RequiredOf<O>> {
  return makeSpec("number", undefined, options);
}
function booleanField<const O extends BooleanOptions = NoOptions>(
  options?: Strict<O, BooleanOptions>,
): FieldSpec<ValueWith<boolean, O>, RequiredOf<O>> {
  return makeSpec("boolean", undefined, options);
}
function dateField<const O extends DateOptions = NoOptions>(
  options?: Strict<O, DateOptions>,
): FieldSpec<ValueWith<Date, O>, RequiredOf<O>> {
  return makeSpec("date", undefined, options);
}
function bytesField<const O extends BytesOptions = NoOptions>(
  options?: Strict<O, BytesOptions>,
): FieldSpec<ValueWith<Uint8Array, O>, RequiredOf<O>> {
  return makeSpec("bytes", undefined, options);
}
function enumField<const V extends readonly string[], const O extends EnumOptions<V[number]> = NoOptions>(
  values: V,
  options?: Strict<O, EnumOptions<V[number]>>,
): FieldSpec<ValueWith<V[number], O>, RequiredOf<O>>;
function enumField<E extends Readonly<Record<string, string>>, const O extends EnumOptions<E[keyof E]> = NoOptions>(
  values: E,
  options?: Strict<O, EnumOptions<E[keyof E]>>,
): FieldSpec<ValueWith<E[keyof E], O>, RequiredOf<O>>;
function enumField(values: EnumValues, options?: EnumOptions): FieldSpec {
  return makeSpec("enum", values, options);
}
function arrayField<const I extends ItemSpec, const O extends ArrayOptions<ItemValue<I>> = NoOptions>(
  items: I,
  options?: Strict<O, ArrayOptions<ItemValue<I>>>,
): FieldSpec<ValueWith<ItemValue<I>[], O>, RequiredOf<O>> {
  return makeSpec("array", items, options);
}
function objectField<const X extends ObjectTarget, const O extends ObjectOptions<ObjectValue<X>> = NoOptions>(
  of: X,
  options?: Strict<O, ObjectOptions<ObjectValue<X>>>,
): FieldSpec<ValueWith<ObjectValue<X>, O>, RequiredOf<O>> {
  return makeSpec("object", of, options);
}
function refField<const X extends RefTarget, const O extends RefOptions<RefValue<X>> = NoOptions>(
  to: X,
  options?: Strict<O, RefOptions<RefValue<X>>>,
): FieldSpec<ValueWith<RefValue<X>, O>, RequiredOf<O>> {
  return makeSpec("ref", to, options);
}

/**
 * Field declarations, for `defineEntity`, in-place objects, array items and `@GraveyardField`.
 * Types are given explicitly because TypeScript erases them (no `reflect-metadata` needed).
 */
export const field = Object.freeze({
  string: stringField,
  integer: integerField,
  number: numberField,
  boolean: booleanField,
  /** A `Date`, as an RFC 3339 string (`toISOString`); the schema carries the pattern. */
  date: dateField,
  /** A `Uint8Array`, as a base64 string; the schema carries the pattern. */
  bytes: bytesField,
  enum: enumField,
  array: arrayField,
  /** An object declared in place: the fields of a class, a definition or a map of field specs. */
  object: objectField,
  /** Another schema by name (or this one, for recursive data): `field.ref(() => Node)`. */
  ref: refField,
});

// ---------------------------------------------------------------------------------------------
// Decorators
// ---------------------------------------------------------------------------------------------

/** What a field decorator records in its class's metadata. */
interface Decl {
  readonly property: string;
  readonly declared: unknown;
  /** When the decorator expression was evaluated: the member's place in the source. */
  readonly order: number;
  /** A misuse found by the decorator, thrown where the class can be named. */
  readonly problem?: string;
}

/** The key of the field list in `context.metadata`; each class owns its list (see fieldsOf). */
const FIELDS = Symbol("graveyard-db.fields");

export type FieldDecorator = (
  value: undefined | ClassAccessorDecoratorTarget<unknown, unknown>,
  context: ClassFieldDecoratorContext | ClassAccessorDecoratorContext,
) => void;

export type EntityDecorator = (value: EntityClass, context: ClassDecoratorContext) => void;

interface DecoratorContextLike {
  readonly kind: string;
  readonly name: string | symbol | undefined;
  readonly static?: boolean;
  readonly private?: boolean;
  readonly metadata?: DecoratorMetadataObject;
}

function isDecoratorContext(value: unknown): value is DecoratorContextLike {
  return isRecord(value) && typeof value.kind === "string" && "name" in value;
}

function ownFieldList(metadata: DecoratorMetadataObject): Decl[] {
  const store = metadata as Record<symbol, unknown>;
  // The metadata of a subclass inherits its parent's through its prototype: a list reached
  // through the prototype is the parent's, and pushing to it would declare the field there.
  if (!Object.hasOwn(store, FIELDS)) {
    Object.defineProperty(store, FIELDS, { value: [], enumerable: false });
  }
  return store[FIELDS] as Decl[];
}

function noMetadata(what: string): TypeError {
  return new TypeError(
    `${what}: the decorator context has no metadata. @graveyard-db/client uses TypeScript 5 standard ` +
      "decorators with decorator metadata (TypeScript >= 5.2, esbuild >= 0.21, swc with the 2023-11 " +
      "decorators): turn off experimentalDecorators, and import @graveyard-db/client before the " +
      "classes are defined (it installs Symbol.metadata on runtimes that lack it)",
  );
}

/**
 * Decorators are applied methods and accessors first, fields after, so the order of application
 * is not the order of the source; decorator expressions are evaluated in source order, though.
 */
let evaluated = 0;

function fieldDecorator(declared: unknown): FieldDecorator {
  const order = evaluated++;
  return (_value, context) => record(declared, context, order);
}

function record(declared: unknown, context: unknown, order = evaluated++): void {
  if (!isDecoratorContext(context)) {
    // Legacy (experimentalDecorators) decorators are called with (prototype, property name).
    throw new TypeError(
      `@GraveyardField on ${typeof context === "string" ? `'${context}'` : "a member"}: it is a TypeScript 5 ` +
        "standard decorator; turn off experimentalDecorators",
    );
  }
  if (context.metadata === undefined || context.metadata === null) {
    throw noMetadata(`@GraveyardField on '${String(context.name)}'`);
  }
  const list = ownFieldList(context.metadata);
  const property = typeof context.name === "string" ? context.name : String(context.name);
  let problem: string | undefined;
  if (context.kind !== "field" && context.kind !== "accessor") {
    problem = `@GraveyardField decorates fields and auto-accessors, not a ${context.kind}`;
  } else if (typeof context.name !== "string") {
    problem = "a symbol-named member has no JSON member name";
  } else if (context.private === true) {
    problem = "a private (#) member cannot be read or set from outside its class";
  } else if (context.static === true) {
    problem = "a static member belongs to the class, not to the data of its instances";
  } else if (list.some((decl) => decl.property === property)) {
    problem = "@GraveyardField is applied more than once";
  }
  list.push(problem === undefined ? { property, declared, order } : { property, declared, order, problem });
}

interface GraveyardFieldDecorators {
  /** `@GraveyardField(field.integer({ min: 18 }))` or `@GraveyardField({ type: "integer", min: 18 })`. */
  (declared: FieldSpec | FieldOptions): FieldDecorator;
  string(options?: StringOptions): FieldDecorator;
  integer(options?: IntegerOptions): FieldDecorator;
  number(options?: NumberOptions): FieldDecorator;
  boolean(options?: BooleanOptions): FieldDecorator;
  date(options?: DateOptions): FieldDecorator;
  bytes(options?: BytesOptions): FieldDecorator;
  enum(values: EnumValues, options?: EnumOptions): FieldDecorator;
  array(items: ItemSpec, options?: ArrayOptions): FieldDecorator;
  object(of: ObjectTarget, options?: ObjectOptions): FieldDecorator;
  ref(to: RefTarget, options?: RefOptions): FieldDecorator;
}

function graveyardField(declared: FieldSpec | FieldOptions): FieldDecorator;
function graveyardField(...args: unknown[]): FieldDecorator | undefined {
  if (args.length === 2 && isDecoratorContext(args[1])) {
    // Written without its call: `@GraveyardField age`.
    record(undefined, args[1]);
    return undefined;
  }
  return fieldDecorator(args[0]);
}

/**
 * The field decorator. TypeScript erases property types, so the type is given: by a shorthand
 * (`@GraveyardField.integer({ min: 18 })`), a spec (`@GraveyardField(field.integer(...))`) or
 * options with a `type` (`@GraveyardField({ type: "integer", min: 18 })`). Works on fields and
 * auto-accessors; `name` sets a JSON member name other than the property's.
 */
export const GraveyardField: GraveyardFieldDecorators = Object.assign(graveyardField, {
  string: (options?: StringOptions) => fieldDecorator(makeSpec("string", undefined, options)),
  integer: (options?: IntegerOptions) => fieldDecorator(makeSpec("integer", undefined, options)),
  number: (options?: NumberOptions) => fieldDecorator(makeSpec("number", undefined, options)),
  boolean: (options?: BooleanOptions) => fieldDecorator(makeSpec("boolean", undefined, options)),
  date: (options?: DateOptions) => fieldDecorator(makeSpec("date", undefined, options)),
  bytes: (options?: BytesOptions) => fieldDecorator(makeSpec("bytes", undefined, options)),
  enum: (values: EnumValues, options?: EnumOptions) => fieldDecorator(makeSpec("enum", values, options)),
  array: (items: ItemSpec, options?: ArrayOptions) => fieldDecorator(makeSpec("array", items, options)),
  object: (of: ObjectTarget, options?: ObjectOptions) => fieldDecorator(makeSpec("object", of, options)),
  ref: (to: RefTarget, options?: RefOptions) => fieldDecorator(makeSpec("ref", to, options)),
});

interface EntityInfo {
  readonly name?: string;
  readonly description?: string;
  readonly unknownFields: UnknownFieldsMode;
  readonly compatibility: CompatibilityMode;
}

/** Classes decorated with @GraveyardEntity. */
const entities = new WeakMap<object, EntityInfo>();

/**
 * The class decorator: `@GraveyardEntity("user", options?)` makes the class an entity whose
 * schema and event type are `name`. `@GraveyardEntity({ unknownFields: "reject" })`, without a
 * name, only sets how a class used as a nested object treats undeclared members. The class's
 * declarations are checked here, so mistakes throw when the module defining it loads.
 */
export function GraveyardEntity(name: string, options?: EntityOptions): EntityDecorator;
export function GraveyardEntity(options?: Pick<EntityOptions, "unknownFields">): EntityDecorator;
export function GraveyardEntity(nameOrOptions?: string | EntityOptions, maybeOptions?: EntityOptions): EntityDecorator {
  if (typeof nameOrOptions === "function") {
    // Written without its call: `@GraveyardEntity class User {}`.
    const cls = nameOrOptions as unknown as EntityClass;
    throw new TypeError(`${cls.name || "a class"}: write @GraveyardEntity("name") (with its call and the entity name)`);
  }
  // Anything but options is taken for a name, so that a name of the wrong type says so.
  const named = nameOrOptions !== undefined && !isPlainRecord(nameOrOptions);
  const options: unknown = named ? maybeOptions : nameOrOptions;
  return (value, context) => {
    const label = value.name || (typeof context.name === "string" ? context.name : "") || "(anonymous class)";
    if (context.kind !== "class") {
      throw new TypeError(`@GraveyardEntity on ${label}: it decorates classes, not a ${String(context.kind)}`);
    }
    if (context.metadata === undefined || context.metadata === null) throw noMetadata(label);
    if (entities.has(value)) throw new TypeError(`${label}: @GraveyardEntity is applied more than once`);
    if (named) checkEntityName(nameOrOptions, label);
    const info = entityInfo(named ? nameOrOptions : undefined, options, label);
    entities.set(value, info);
    try {
      classModel(value, context.metadata);
    } catch (e) {
      entities.delete(value);
      throw e;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// defineEntity
// ---------------------------------------------------------------------------------------------

interface DefinitionData {
  readonly info: EntityInfo & { readonly name: string };
  readonly model: ObjectModel;
}

const definitions = new WeakMap<object, DefinitionData>();
/** Plain objects made by `definition.create` or `hydrate(definition, ...)`. */
const tagged = new WeakMap<object, EntityDefinition<object>>();

/**
 * An entity without a class: `defineEntity("user", { age: field.integer({ min: 18 }) })`. The
 * keys are the JSON member names, in the object's key order (JavaScript puts integer-like keys
 * such as "1" first). Gives the same schema as a decorated class with the same fields.
 * Instances are plain objects: `user.create({ age: 20 })`.
 */
export function defineEntity<const F extends FieldSpecs>(
  name: string,
  fields: F,
  options?: EntityOptions,
): EntityDefinition<InferFields<F>> {
  const label = `defineEntity(${typeof name === "string" ? JSON.stringify(name) : String(name)})`;
  checkEntityName(name, label);
  const info = { ...entityInfo(name, options, label), name };
  if (!isPlainRecord(fields)) throw new TypeError(`${label}: the fields must be an object of field specs`);
  const model = plainModel(fields, label, info.unknownFields);
  const definition: EntityDefinition<InferFields<F>> = Object.freeze({
    name,
    fields: Object.freeze({ ...fields }),
    options: Object.freeze({ ...(options ?? {}) }),
    create(data: InferFields<F>): InferFields<F> {
      if (!isRecord(data) || Array.isArray(data)) throw new TypeError(`${label}.create: the data must be an object`);
      const copy = { ...data };
      tagged.set(copy, definition);
      return copy;
    },
  });
  definitions.set(definition, { info, model });
  return definition;
}

// ---------------------------------------------------------------------------------------------
// The compiled model
// ---------------------------------------------------------------------------------------------

type TypeModel =
  | { readonly kind: "string" | "number" | "boolean" | "date" | "bytes" }
  | { readonly kind: "integer"; readonly bigint: boolean }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "array"; readonly items: TypeModel }
  | { readonly kind: "object"; readonly object: Lazy<ObjectModel> }
  | { readonly kind: "ref"; readonly name?: string; readonly target?: Lazy<RefModel>; readonly version?: number };

interface RefModel {
  readonly name: string;
  readonly object: ObjectModel;
}

interface FieldModel {
  readonly property: string;
  readonly member: string;
  /** For messages: `User.age`. */
  readonly where: string;
  readonly type: TypeModel;
  readonly required: boolean;
  readonly nullable: boolean;
  readonly min?: number | bigint;
  readonly max?: number | bigint;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly description?: string;
  readonly hasDefault: boolean;
  readonly defaultValue: unknown;
  /** The default in JSON, once converted and checked (at declaration, or when a reference it needs resolves). */
  defaultJson?: JsonValue;
}

interface ObjectModel {
  readonly label: string;
  readonly fields: readonly FieldModel[];
  readonly unknownFields: UnknownFieldsMode;
  /** The class instances are read into; none for plain objects. */
  readonly cls?: EntityClass;
}

/** A target resolved on first use: thunks name classes that may not exist yet. */
interface Lazy<T> {
  resolved?: T;
  readonly get: () => T;
}

function lazy<T>(get: () => T): Lazy<T> {
  const cell: Lazy<T> = {
    get: () => {
      if (cell.resolved === undefined) cell.resolved = get();
      return cell.resolved;
    },
  };
  return cell;
}

function ready<T>(value: T): Lazy<T> {
  return { resolved: value, get: () => value };
}

const classModels = new WeakMap<object, ObjectModel>();

/** The fields of a class and its ancestors, ancestors' first; a redeclared property keeps its place. */
function fieldsOf(metadata: DecoratorMetadataObject | null | undefined): Decl[] {
  const chain: Decl[][] = [];
  for (let m: object | null | undefined = metadata; m; m = Object.getPrototypeOf(m) as object | null) {
    if (Object.hasOwn(m, FIELDS)) chain.unshift([...(m as Record<symbol, Decl[]>)[FIELDS]].sort((a, b) => a.order - b.order));
  }
  const decls: Decl[] = [];
  const index = new Map<string, number>();
  for (const list of chain) {
    for (const decl of list) {
      const at = index.get(decl.property);
      if (at === undefined) {
        index.set(decl.property, decls.length);
        decls.push(decl);
      } else if (decls[at]?.problem === undefined) {
        // A subclass redeclaring the field; a misuse found on either stays to be reported.
        decls[at] = decl;
      }
    }
  }
  return decls;
}

function metadataOf(cls: EntityClass): DecoratorMetadataObject | null | undefined {
  return (cls as { [Symbol.metadata]?: DecoratorMetadataObject | null })[Symbol.metadata];
}

function classLabel(cls: EntityClass): string {
  return cls.name || "(anonymous class)";
}

function classModel(cls: EntityClass, metadata?: DecoratorMetadataObject): ObjectModel {
  const cached = classModels.get(cls);
  if (cached) return cached;
  const label = classLabel(cls);
  const decls = fieldsOf(metadata ?? metadataOf(cls));
  const info = entities.get(cls);
  if (decls.length === 0 && info === undefined) {
    throw new TypeError(
      `${label} declares no @GraveyardField and has no @GraveyardEntity: decorate its fields ` +
        "(@GraveyardField.string() ...) so that its data can be described",
    );
  }
  const fields: FieldModel[] = [];
  for (const decl of decls) {
    const where = `${label}.${decl.property}`;
    if (decl.problem !== undefined) throw new TypeError(`${where}: ${decl.problem}`);
    fields.push(compileField(specOf(decl.declared, where, "field"), where, decl.property, true));
  }
  checkMembers(fields, label);
  const model: ObjectModel = { label, fields, unknownFields: info?.unknownFields ?? "allow", cls };
  classModels.set(cls, model);
  return model;
}

function plainModel(fields: Readonly<Record<string, unknown>>, label: string, unknownFields: UnknownFieldsMode): ObjectModel {
  const compiled = Object.keys(fields).map((member) => {
    const where = `${label}.${member}`;
    return compileField(specOf(fields[member], where, "field"), where, member, false);
  });
  return { label, fields: compiled, unknownFields };
}

function checkMembers(fields: readonly FieldModel[], label: string): void {
  const seen = new Map<string, string>();
  for (const f of fields) {
    const other = seen.get(f.member);
    if (other !== undefined) {
      throw new TypeError(`${label}: the properties ${other} and ${f.property} both write the JSON member "${f.member}"`);
    }
    seen.set(f.member, f.property);
  }
}

function entityInfo(name: string | undefined, options: unknown, label: string): EntityInfo {
  if (options !== undefined && !isPlainRecord(options)) throw new TypeError(`${label}: the entity options must be an object`);
  const o = options ?? {};
  for (const key of Object.keys(o)) {
    if (key !== "description" && key !== "unknownFields" && key !== "compatibility") {
      throw new TypeError(`${label}: unknown entity option '${key}'${hint(key, ENTITY_KEYS)} (the options are ${ENTITY_KEYS.join(", ")})`);
    }
  }
  const description = optionalString(o.description, `${label}: description`);
  const unknownFields = o.unknownFields ?? "allow";
  if (unknownFields !== "allow" && unknownFields !== "reject") {
    throw new TypeError(`${label}: unknownFields must be "allow" or "reject", not ${show(unknownFields)}`);
  }
  const compatibility = o.compatibility ?? "backward";
  if (compatibility !== "none" && compatibility !== "backward" && compatibility !== "forward" && compatibility !== "full") {
    throw new TypeError(`${label}: compatibility must be "none", "backward", "forward" or "full", not ${show(compatibility)}`);
  }
  if (name === undefined && (description !== undefined || o.compatibility !== undefined)) {
    throw new TypeError(
      `${label}: description and compatibility describe a schema, and an entity without a name has none ` +
        '(give it one: @GraveyardEntity("name", ...))',
    );
  }
  return { ...(name === undefined ? {} : { name }), ...(description === undefined ? {} : { description }), unknownFields, compatibility };
}

const ENTITY_KEYS = ["description", "unknownFields", "compatibility"];
/** The core's limit: `$schema-<name>` must fit in a 256-byte stream name. */
const MAX_NAME_BYTES = 256 - "$schema-".length;

function checkEntityName(name: unknown, label: string): asserts name is string {
  if (typeof name !== "string") throw new TypeError(`${label}: the entity name must be a string, not ${show(name)}`);
  if (name === "") throw new TypeError(`${label}: the entity name is empty`);
  if (name.startsWith("$")) throw new TypeError(`${label}: the entity name "${name}" starts with '$', which is reserved for the system`);
  if (name.includes("\0")) throw new TypeError(`${label}: the entity name contains a NUL character`);
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_NAME_BYTES) {
    throw new RangeError(
      `${label}: the entity name is ${bytes} bytes of UTF-8, longer than ${MAX_NAME_BYTES} (its stream $schema-<name> must fit in 256)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Compiling and checking a field's declaration
// ---------------------------------------------------------------------------------------------

const FIELD_TYPES: readonly string[] = ["string", "integer", "number", "boolean", "date", "bytes", "enum", "array", "object", "ref"];
/** The option of the `{ type }` form that holds each structured type's argument. */
const TYPE_ARG: Partial<Record<FieldTypeName, string>> = { enum: "values", array: "items", object: "of", ref: "to" };

/** Reads a declaration (a spec, options with a type, or a scalar type name for array items). */
function specOf(declared: unknown, where: string, role: "field" | "item"): SpecData {
  if (typeof declared === "object" && declared !== null) {
    const spec = specs.get(declared);
    if (spec) return spec;
  }
  if (typeof declared === "string" && FIELD_TYPES.includes(declared)) {
    const kind = declared as FieldTypeName;
    if (TYPE_ARG[kind] !== undefined) {
      throw new TypeError(`${where}: the type "${kind}" needs its ${TYPE_ARG[kind]}: write field.${kind}(...)`);
    }
    return { kind, arg: undefined, options: {} };
  }
  if (isPlainRecord(declared)) {
    if (declared.type === undefined) {
      throw new TypeError(
        `${where}: ${role === "item" ? "the array item" : "the field"} has no type: TypeScript erases property ` +
          "types, so give it (@GraveyardField.integer({ ... }), field.string(), or { type: \"integer\", ... })",
      );
    }
    if (typeof declared.type !== "string" || !FIELD_TYPES.includes(declared.type)) {
      throw new TypeError(`${where}: unknown type ${show(declared.type)} (the types are ${FIELD_TYPES.join(", ")})`);
    }
    const kind = declared.type as FieldTypeName;
    const argKey = TYPE_ARG[kind];
    const rest: Record<string, unknown> = { ...declared };
    delete rest.type;
    let arg: unknown;
    if (argKey !== undefined) {
      if (rest[argKey] === undefined) throw new TypeError(`${where}: a field of type "${kind}" needs '${argKey}'`);
      arg = rest[argKey];
      delete rest[argKey];
    }
    return { kind, arg, options: rest };
  }
  if (declared === undefined && role === "item") {
    throw new TypeError(`${where}: field.array needs the type of its items (field.array(field.string()))`);
  }
  if (declared === undefined) {
    throw new TypeError(
      `${where}: @GraveyardField needs the field's type: TypeScript erases property types (write ` +
        "@GraveyardField.integer({ ... }) or @GraveyardField({ type: \"integer\", ... }))",
    );
  }
  throw new TypeError(`${where}: not a field declaration: ${show(declared)} (use field.string(), field.integer() ...)`);
}

const COMMON_KEYS = ["required", "nullable", "default", "description", "name"];
const KEYS_BY_TYPE: Record<FieldTypeName, readonly string[]> = {
  string: ["minLength", "maxLength", "pattern"],
  integer: ["min", "max", "bigint"],
  number: ["min", "max"],
  boolean: [],
  date: [],
  bytes: [],
  enum: [],
  array: ["minLength", "maxLength"],
  object: ["unknownFields"],
  ref: ["version"],
};
/** Options that belong to the type itself, which array items may have. */
const TYPE_KEYS = new Set(["bigint", "unknownFields", "version"]);
const ALL_KEYS = [...new Set([...COMMON_KEYS, ...Object.values(KEYS_BY_TYPE).flat()])];

function describeKind(kind: FieldTypeName): string {
  return kind === "integer" || kind === "array" || kind === "enum" || kind === "object" ? `an ${kind}` : `a ${kind}`;
}

/** Why an option known elsewhere does not apply to this type, in the core's words where it has them. */
function misplaced(key: string, kind: FieldTypeName): string | undefined {
  const what = describeKind(kind);
  switch (key) {
    case "min":
    case "max":
      return `${key} applies to numbers and integers, not to ${what}`;
    case "minLength":
    case "maxLength":
      return kind === "date" || kind === "bytes"
        ? `${key} does not apply to ${what}, whose text has a fixed form (the schema carries its pattern)`
        : `${key} applies to strings and arrays, not to ${what}`;
    case "pattern":
      return kind === "date" || kind === "bytes"
        ? `pattern does not apply to ${what}, whose text has a fixed form (the schema carries its pattern)`
        : `pattern applies to strings, not to ${what}`;
    case "bigint":
      return `bigint applies to integers, not to ${what}`;
    case "unknownFields":
      return `unknownFields applies to objects, not to ${what}`;
    case "version":
      return `version applies to references, not to ${what}`;
    default:
      return undefined;
  }
}

function hint(key: string, known: readonly string[]): string {
  const camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  if (camel !== key && known.includes(camel)) return ` (write ${camel})`;
  if (key === "maxItems" || key === "minItems") return " (arrays count their items with minLength and maxLength)";
  if (key === "enum" || key === "values" || key === "items" || key === "of" || key === "to" || key === "type") {
    return " (the type and its argument are given by field.*(...) or the { type: ... } form)";
  }
  return "";
}

function checkKeys(spec: SpecData, where: string, role: "field" | "item", allowName: boolean): void {
  const allowed = KEYS_BY_TYPE[spec.kind];
  for (const key of Object.keys(spec.options)) {
    if (spec.options[key] === undefined) continue;
    if (key === "~invalid") throw new TypeError(`${where}: the options must be an object, not ${show(spec.options[key])}`);
    if (role === "item" && !TYPE_KEYS.has(key) && (allowed.includes(key) || COMMON_KEYS.includes(key))) {
      throw new TypeError(
        `${where}: array items take no rules in the schema model, only a type (${key} belongs on the array's ` +
          "own field, or on a field of an object item)",
      );
    }
    if (allowed.includes(key)) continue;
    if (COMMON_KEYS.includes(key)) {
      if (key === "name" && !allowName) {
        throw new TypeError(`${where}: name renames a class property; here the key is the JSON member name`);
      }
      continue;
    }
    const why = misplaced(key, spec.kind);
    if (why !== undefined) throw new TypeError(`${where}: ${why}`);
    const options = [...COMMON_KEYS.filter((k) => k !== "name" || allowName), ...allowed];
    throw new TypeError(
      `${where}: unknown option '${key}'${hint(key, ALL_KEYS)} (${describeKind(spec.kind)} field takes ${options.join(", ")})`,
    );
  }
}

function compileField(spec: SpecData, where: string, property: string, allowName: boolean): FieldModel {
  checkKeys(spec, where, "field", allowName);
  const o = spec.options;
  const required = optionalBoolean(o.required, `${where}: required`) ?? false;
  const nullable = optionalBoolean(o.nullable, `${where}: nullable`) ?? false;
  if (required && nullable) {
    throw new TypeError(
      `${where}: required and nullable contradict each other: a required field holds a value (drop one; a default ` +
        "fills absent and null values)",
    );
  }
  const min = bound(o.min, `${where}: min`);
  const max = bound(o.max, `${where}: max`);
  if (min !== undefined && max !== undefined && compareNumbers(min, max) > 0) {
    throw new RangeError(`${where}: min ${String(min)} is above max ${String(max)}`);
  }
  const minLength = length(o.minLength, `${where}: minLength`);
  const maxLength = length(o.maxLength, `${where}: maxLength`);
  if (minLength !== undefined && maxLength !== undefined && minLength > maxLength) {
    throw new RangeError(`${where}: minLength ${minLength} is above maxLength ${maxLength}`);
  }
  const pattern = optionalString(o.pattern, `${where}: pattern`);
  const description = optionalString(o.description, `${where}: description`);
  const name = optionalString(o.name, `${where}: name`);
  if (name === "") throw new TypeError(`${where}: name is empty`);
  if (o.default === null) {
    throw new TypeError(`${where}: a null default changes nothing (the store writes a default in place of null)`);
  }
  const type = typeModel(spec, where);
  const model: FieldModel = {
    property,
    member: name ?? property,
    where,
    type,
    required,
    nullable,
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
    ...(minLength === undefined ? {} : { minLength }),
    ...(maxLength === undefined ? {} : { maxLength }),
    ...(pattern === undefined ? {} : { pattern }),
    ...(description === undefined ? {} : { description }),
    hasDefault: o.default !== undefined,
    defaultValue: o.default,
  };
  // A default that needs a reference not yet resolvable (a class declared further down) is
  // checked when the schema is built.
  if (model.hasDefault && isResolved(type)) defaultJson(model);
  return model;
}

function typeModel(spec: SpecData, where: string): TypeModel {
  const o = spec.options;
  switch (spec.kind) {
    case "string":
    case "number":
    case "boolean":
    case "date":
    case "bytes":
      return { kind: spec.kind };
    case "integer":
      return { kind: "integer", bigint: optionalBoolean(o.bigint, `${where}: bigint`) ?? false };
    case "enum":
      return { kind: "enum", values: enumValues(spec.arg, where) };
    case "array": {
      const itemWhere = `${where}[]`;
      const item = specOf(spec.arg, itemWhere, "item");
      checkKeys(item, itemWhere, "item", false);
      return { kind: "array", items: typeModel(item, itemWhere) };
    }
    case "object":
      return { kind: "object", object: objectTarget(spec.arg, o.unknownFields, where) };
    case "ref":
      return refModel(spec.arg, o.version, where);
  }
}

function enumValues(values: unknown, where: string): readonly string[] {
  let list: unknown[];
  if (Array.isArray(values)) {
    list = values;
  } else if (isPlainRecord(values)) {
    list = Object.values(values);
    if (list.some((v) => typeof v === "number")) {
      throw new TypeError(`${where}: a numeric TypeScript enum has no string variants; use a string enum or a list of strings`);
    }
  } else {
    throw new TypeError(`${where}: the enum's variants must be a list of strings or a string enum, not ${show(values)}`);
  }
  if (list.length === 0) throw new TypeError(`${where}: the enum has no variants`);
  const seen = new Set<string>();
  for (const v of list) {
    if (typeof v !== "string") throw new TypeError(`${where}: enum variants are strings, not ${show(v)}`);
    if (seen.has(v)) throw new TypeError(`${where}: enum variant ${JSON.stringify(v)} is listed more than once`);
    seen.add(v);
  }
  return Object.freeze([...seen]);
}

function isThunk(value: unknown): value is () => unknown {
  // Classes (and ordinary functions) have a prototype; arrow functions have none.
  return typeof value === "function" && !Object.hasOwn(value, "prototype");
}

function isClass(value: unknown): value is EntityClass {
  return typeof value === "function" && Object.hasOwn(value, "prototype");
}

function objectTarget(target: unknown, unknownFields: unknown, where: string): Lazy<ObjectModel> {
  if (typeof target === "object" && target !== null && specs.has(target)) {
    throw new TypeError(`${where}: field.object takes the object's fields ({ zip: field.string() }), a class or a definition, not one field spec`);
  }
  if (isPlainRecord(target) && !definitions.has(target)) {
    if (unknownFields !== undefined && unknownFields !== "allow" && unknownFields !== "reject") {
      throw new TypeError(`${where}: unknownFields must be "allow" or "reject", not ${show(unknownFields)}`);
    }
    return ready(plainModel(target, where, unknownFields ?? "allow"));
  }
  if (unknownFields !== undefined) {
    throw new TypeError(
      `${where}: unknownFields of an object declared by a class or a definition is its own ` +
        '(@GraveyardEntity({ unknownFields: "reject" }) or defineEntity\'s options)',
    );
  }
  if (isThunk(target)) return lazy(() => entityObject(target(), where, "field.object"));
  return ready(entityObject(target, where, "field.object"));
}

function entityObject(target: unknown, where: string, by: string): ObjectModel {
  if (typeof target === "object" && target !== null) {
    const def = definitions.get(target);
    if (def) return def.model;
  }
  if (isClass(target)) return classModel(target);
  throw new TypeError(
    `${where}: ${by} takes a class, a defineEntity definition${by === "field.object" ? ", an object of field specs" : ", a schema name"} ` +
      `or an arrow function returning a class or definition, not ${show(target)}`,
  );
}

function refModel(target: unknown, version: unknown, where: string): TypeModel {
  if (version !== undefined && (typeof version !== "number" || !Number.isInteger(version))) {
    throw new TypeError(`${where}: version must be an integer, not ${show(version)}`);
  }
  if (typeof version === "number" && (version < 1 || version > 0xffff_ffff)) {
    throw new RangeError(`${where}: version ${version} is outside 1 ..= 4294967295 (versions are numbered from 1)`);
  }
  const pinned = version === undefined ? {} : { version };
  if (typeof target === "string") {
    if (target === "") throw new TypeError(`${where}: the referred schema's name is empty`);
    return { kind: "ref", name: target, ...pinned };
  }
  const resolve = (t: unknown): RefModel => {
    const object = entityObject(t, where, "field.ref");
    const name = typeof t === "object" && t !== null ? definitions.get(t)?.info.name : entities.get(t as object)?.name;
    if (name === undefined) {
      throw new TypeError(`${where}: field.ref refers to ${object.label}, which has no entity name (@GraveyardEntity("name"))`);
    }
    return { name, object };
  };
  if (isThunk(target)) return { kind: "ref", target: lazy(() => resolve(target())), ...pinned };
  return { kind: "ref", target: ready(resolve(target)), ...pinned };
}

function isResolved(type: TypeModel): boolean {
  switch (type.kind) {
    case "array":
      return isResolved(type.items);
    case "object":
      return type.object.resolved !== undefined;
    case "ref":
      return type.target === undefined || type.target.resolved !== undefined;
    default:
      return true;
  }
}

/** The default in JSON, checked against the field's own rules (not the pattern: see below). */
function defaultJson(f: FieldModel): JsonValue {
  if (f.defaultJson !== undefined) return f.defaultJson;
  const where = `${f.where}: default`;
  const json = toJson(f.defaultValue, f.type, where, new Set());
  // The pattern is not checked: JavaScript's RegExp reads some patterns otherwise than Rust's
  // regex (\d and \w are Unicode there), so a check here could refuse what the core accepts.
  if (f.type.kind === "enum" && !f.type.values.includes(json as string)) {
    throw new TypeError(`${where} ${JSON.stringify(json)} is not one of the enum's variants`);
  }
  if (typeof json === "number" || typeof json === "bigint") {
    if (f.min !== undefined && compareNumbers(json, f.min) < 0) {
      throw new RangeError(`${where} ${String(json)} is below min ${String(f.min)}`);
    }
    if (f.max !== undefined && compareNumbers(json, f.max) > 0) {
      throw new RangeError(`${where} ${String(json)} is above max ${String(f.max)}`);
    }
  }
  const size = typeof json === "string" ? [...json].length : Array.isArray(json) ? json.length : undefined;
  if (size !== undefined && f.type.kind !== "date" && f.type.kind !== "bytes") {
    if (f.minLength !== undefined && size < f.minLength) {
      throw new RangeError(`${where} has length ${size}, below minLength ${f.minLength}`);
    }
    if (f.maxLength !== undefined && size > f.maxLength) {
      throw new RangeError(`${where} has length ${size}, above maxLength ${f.maxLength}`);
    }
  }
  f.defaultJson = json;
  return json;
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

interface Resolved {
  readonly label: string;
  readonly info?: EntityInfo;
  readonly model: ObjectModel;
  readonly definition?: EntityDefinition<object>;
}

function resolveEntity(entity: unknown, what: string): Resolved {
  if (typeof entity === "object" && entity !== null) {
    const def = definitions.get(entity);
    if (def) return { label: `defineEntity(${JSON.stringify(def.info.name)})`, info: def.info, model: def.model, definition: entity as EntityDefinition<object> };
  }
  if (isClass(entity)) {
    const info = entities.get(entity);
    if (info === undefined && what !== "hydrate") {
      throw new TypeError(`${classLabel(entity)} has no @GraveyardEntity: ${what} takes a class decorated with @GraveyardEntity("name") or a defineEntity definition`);
    }
    return { label: classLabel(entity), ...(info ? { info } : {}), model: classModel(entity) };
  }
  throw new TypeError(`${what} takes a decorated class or a defineEntity definition, not ${show(entity)}`);
}

/** Whether `value` is what `schemaOf` takes: a class with a named @GraveyardEntity, or a defineEntity definition. */
export function isEntity(value: unknown): value is Entity {
  if (typeof value === "object" && value !== null) return definitions.has(value);
  return typeof value === "function" && entities.get(value)?.name !== undefined;
}

const schemas = new WeakMap<object, { readonly name: string; readonly definition: SchemaDefinition }>();

/**
 * The schema of an entity: its name and its definition as `upsert_schema` takes it. The
 * definition is frozen and JSON-ready, except that an integer beyond 2^53 (a bigint bound or
 * default) is a `bigint`: `schemaJson` writes it exactly.
 */
export function schemaOf(entity: Entity): { readonly name: string; readonly definition: SchemaDefinition } {
  const cached = schemas.get(entity);
  if (cached) return cached;
  const { label, info, model } = resolveEntity(entity, "schemaOf");
  if (info?.name === undefined) {
    throw new TypeError(`${label} has no entity name: give it one (@GraveyardEntity("name")) to make it a schema`);
  }
  const definition: SchemaDefinition = deepFreeze({
    name: info.name,
    ...(info.description === undefined ? {} : { description: info.description }),
    fields: fieldsJson(model, [model]),
    ...(info.unknownFields === "reject" ? { unknown_fields: "reject" as const } : {}),
    ...(info.compatibility === "backward" ? {} : { compatibility: info.compatibility }),
  });
  const schema = Object.freeze({ name: info.name, definition });
  schemas.set(entity, schema);
  return schema;
}

/** The schema definition as JSON text, the form the native binding takes. */
export function schemaJson(entity: Entity): string {
  return writeJson(schemaOf(entity).definition as unknown as JsonValue);
}

function fieldsJson(model: ObjectModel, stack: ObjectModel[]): FieldJson[] {
  return model.fields.map((f) => {
    const pattern = fixedPattern(f.type) ?? f.pattern;
    return {
    name: f.member,
    type: typeJson(f.type, f.where, stack),
    ...(f.required ? { required: true as const } : {}),
    ...(f.nullable ? { nullable: true as const } : {}),
    ...(f.min === undefined ? {} : { min: jsonNumber(f.min) }),
    ...(f.max === undefined ? {} : { max: jsonNumber(f.max) }),
    ...(f.minLength === undefined ? {} : { min_length: f.minLength }),
    ...(f.maxLength === undefined ? {} : { max_length: f.maxLength }),
    ...(pattern === undefined ? {} : { pattern }),
    ...(f.hasDefault ? { default: defaultJson(f) } : {}),
    ...(f.description === undefined ? {} : { description: f.description }),
    };
  });
}

function fixedPattern(type: TypeModel): string | undefined {
  return type.kind === "date" ? DATE_PATTERN : type.kind === "bytes" ? BASE64_PATTERN : undefined;
}

function typeJson(type: TypeModel, where: string, stack: ObjectModel[]): FieldTypeJson {
  switch (type.kind) {
    case "string":
    case "date":
    case "bytes":
      return "string";
    case "number":
    case "integer":
    case "boolean":
      return type.kind;
    case "enum":
      return { enum: [...type.values] };
    case "array":
      return { array: typeJson(type.items, `${where}[]`, stack) };
    case "object": {
      const model = type.object.get();
      if (stack.includes(model)) {
        throw new TypeError(
          `${where}: ${model.label} contains itself; objects are declared in place and cannot nest endlessly ` +
            "(refer to an entity with field.ref(() => Class) for recursive data)",
        );
      }
      const fields = fieldsJson(model, [...stack, model]);
      return { object: { fields, ...(model.unknownFields === "reject" ? { unknown_fields: "reject" as const } : {}) } };
    }
    case "ref": {
      const name = type.name ?? type.target?.get().name ?? "";
      return { ref: { name, ...(type.version === undefined ? {} : { version: type.version }) } };
    }
  }
}

function jsonNumber(n: number | bigint): number | bigint {
  return typeof n === "bigint" && n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Writing instances
// ---------------------------------------------------------------------------------------------

/**
 * The entity name of an instance: of a class decorated with `@GraveyardEntity("name")`, or of a
 * plain object made by `definition.create` or `hydrate(definition, ...)`. Undefined for other
 * values (plain data, instances of other classes). Throws a TypeError for an instance of an
 * undecorated subclass of an entity, whose event type would be ambiguous.
 */
export function entityNameOf(value: object): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const def = tagged.get(value);
  if (def) return def.name;
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  const cls = proto?.constructor;
  if (typeof cls !== "function") return undefined;
  const info = entities.get(cls);
  if (info) return info.name;
  for (let p: unknown = Object.getPrototypeOf(cls); typeof p === "function"; p = Object.getPrototypeOf(p)) {
    const parent = entities.get(p);
    if (parent?.name !== undefined) {
      throw new TypeError(
        `${cls.name || "(anonymous class)"} extends the entity ${p.name} ("${parent.name}") without @GraveyardEntity: ` +
          `decorate it (@GraveyardEntity("${parent.name}") to write the same event type)`,
      );
    }
  }
  return undefined;
}

const encoder = new TextEncoder();

/**
 * An instance as event data: its entity name as the type, and JSON of its declared fields.
 * Class instances write their declared fields only (other properties are program state);
 * plain objects (`definition.create`, in-place objects) write every own enumerable member,
 * the declared ones converted, so that data round-trips. `undefined` members are left out (the
 * store then fills a default, or refuses a required field); `null` is written. Values are
 * checked for their field's JSON type, so that every event written reads back; the rules
 * (bounds, lengths, patterns, enums, required) are the store's to check.
 */
export function serializeEntity(instance: object): { readonly type: string; readonly data: Uint8Array } {
  const type = entityNameOf(instance);
  if (type === undefined) {
    throw new TypeError(
      `serializeEntity takes an instance of a class decorated with @GraveyardEntity("name") or an object made by ` +
        `definition.create(), not ${show(instance)}`,
    );
  }
  const def = tagged.get(instance);
  const model = def
    ? (definitions.get(def) as DefinitionData).model
    : classModel((Object.getPrototypeOf(instance) as { constructor: EntityClass }).constructor);
  const json = objectToJson(instance, model, model.label, new Set());
  return { type, data: encoder.encode(writeJson(json)) };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** The integers the core holds exactly (serde_json's i64 and u64); beyond, a JSON integer is a double to it. */
const MIN_INTEGER = -(2n ** 63n);
const MAX_INTEGER = 2n ** 64n - 1n;

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a Date";
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    if (proto === null || proto === Object.prototype) return "an object";
    return `an instance of ${proto.constructor?.name || "a class"}`;
  }
  return `a ${typeof value}`;
}

/** A declared value in JSON. Messages name the path and the JavaScript type, never the value. */
function toJson(value: unknown, type: TypeModel, path: string, ancestors: Set<object>): JsonValue {
  const expected = (what: string): TypeError => new TypeError(`${path}: expected ${what}, not ${kindOf(value)}`);
  switch (type.kind) {
    case "string":
    case "enum":
      if (typeof value !== "string") throw expected("a string");
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw expected("a boolean");
      return value;
    case "number":
      if (typeof value === "bigint") return value;
      if (typeof value !== "number") throw expected("a number");
      if (!Number.isFinite(value)) throw new RangeError(`${path}: ${value} has no JSON form`);
      return value;
    case "integer":
      if (typeof value === "bigint") {
        if (value < MIN_INTEGER || value > MAX_INTEGER) {
          throw new RangeError(`${path}: the integer is outside -2^63 ..= 2^64-1, the integers the store holds`);
        }
        return value;
      }
      if (typeof value !== "number") throw expected("an integer (a number or a bigint)");
      if (!Number.isInteger(value)) throw new TypeError(`${path}: expected an integer, not a number with a fraction`);
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`${path}: the integer is beyond Number.MAX_SAFE_INTEGER, where a number is not exact (use a bigint)`);
      }
      return value;
    case "date":
      if (!(value instanceof Date)) throw expected("a Date");
      if (Number.isNaN(value.getTime())) throw new RangeError(`${path}: an invalid Date has no JSON form`);
      return value.toISOString();
    case "bytes":
      if (!(value instanceof Uint8Array)) throw expected("a Uint8Array");
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
    case "array": {
      if (!Array.isArray(value)) throw expected("an array");
      return value.map((item: unknown, i) => {
        if (item === null || item === undefined) {
          throw new TypeError(`${path}[${i}]: array items are never null in the schema model`);
        }
        return toJson(item, type.items, `${path}[${i}]`, ancestors);
      });
    }
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw expected("an object");
      return objectToJson(value, type.object.get(), path, ancestors);
    case "ref":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw expected("an object");
      return type.target ? objectToJson(value, type.target.get().object, path, ancestors) : anyToJson(value, path, ancestors);
  }
}

function objectToJson(value: object, model: ObjectModel, path: string, ancestors: Set<object>): JsonObject {
  if (ancestors.has(value)) throw new TypeError(`${path}: the object contains itself`);
  ancestors.add(value);
  const source = value as Record<string, unknown>;
  const out: Record<string, JsonValue> = {};
  for (const f of model.fields) {
    const v = source[f.property];
    if (v === undefined) continue;
    setOwn(out, f.member, v === null ? null : toJson(v, f.type, `${path}.${f.member}`, ancestors));
  }
  if (model.cls === undefined) {
    const declared = new Set(model.fields.map((f) => f.property));
    for (const key of Object.keys(source)) {
      if (declared.has(key) || source[key] === undefined) continue;
      setOwn(out, key, anyToJson(source[key], `${path}.${key}`, ancestors));
    }
  }
  ancestors.delete(value);
  return out;
}

/** An undeclared value in JSON: JSON.stringify's rules, but exact for bigints and strict about what has no JSON form. */
function anyToJson(value: unknown, path: string, ancestors: Set<object>): JsonValue {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new RangeError(`${path}: ${value} has no JSON form`);
      return value;
    case "object": {
      if (value === null) return null;
      if (ancestors.has(value)) throw new TypeError(`${path}: the object contains itself`);
      const withToJson = value as { toJSON?: unknown };
      if (typeof withToJson.toJSON === "function") {
        return anyToJson((withToJson.toJSON as (key: string) => unknown).call(value, ""), path, ancestors);
      }
      if (Array.isArray(value)) {
        ancestors.add(value);
        const items = value.map((item: unknown, i) => {
          if (item === undefined) throw new TypeError(`${path}[${i}]: undefined has no JSON form`);
          return anyToJson(item, `${path}[${i}]`, ancestors);
        });
        ancestors.delete(value);
        return items;
      }
      if (value instanceof Map || value instanceof Set || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        throw new TypeError(`${path}: ${kindOf(value)} has no JSON form (declare the field: field.bytes(), field.object() ...)`);
      }
      const cls = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
      if (isClass(cls) && cls !== Object && fieldsOf(metadataOf(cls)).length > 0) {
        return objectToJson(value, classModel(cls), path, ancestors);
      }
      return objectToJson(value, { label: path, fields: [], unknownFields: "allow" }, path, ancestors);
    }
    default:
      throw new TypeError(`${path}: ${kindOf(value)} has no JSON form`);
  }
}

/** JSON text; bigints as exact integers. */
function writeJson(value: JsonValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
    case "boolean":
    case "string":
      return JSON.stringify(value);
    default:
      if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(writeJson).join(",")}]`;
      return `{${Object.keys(value)
        .map((k) => `${JSON.stringify(k)}:${writeJson((value as JsonObject)[k])}`)
        .join(",")}}`;
  }
}

/** Sets a member even when it is named `__proto__` (which an assignment takes for the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading events back
// ---------------------------------------------------------------------------------------------

/**
 * An instance from event data: `data` is the event's bytes (UTF-8 JSON), JSON text, or an
 * already parsed value. A class is constructed with `new cls()` (its initializers run) and
 * gets the declared members present in the data (absent ones keep the constructor's value;
 * null is set as null); nested classes are constructed in turn. A definition gives a plain
 * object tagged as its entity, which keeps undeclared members as parsed. Bigint fields are
 * exact when given bytes or text (this module parses them); given a value already parsed by
 * JSON.parse, an integer beyond 2^53 has lost its precision and is refused with a RangeError.
 * Data of the wrong type throws a TypeError naming the member's path (never its value).
 */
export function hydrate<T extends object>(entity: (new () => T) | EntityDefinition<T>, data: unknown): T {
  const { label, model, definition } = resolveEntity(entity, "hydrate");
  const parsed = typeof data === "string" || data instanceof Uint8Array ? parseData(data) : data;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new TypeError(`${label}: the event data is ${kindOf(parsed)}, not a JSON object`);
  }
  const result = objectFromJson(parsed as Record<string, unknown>, model, label);
  if (definition) tagged.set(result, definition);
  return result as T;
}

function fromJson(value: unknown, type: TypeModel, path: string): unknown {
  const expected = (what: string): TypeError => new TypeError(`${path}: expected ${what}, not ${kindOf(value)}`);
  switch (type.kind) {
    case "string":
    case "enum":
      if (typeof value !== "string") throw expected("a string");
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw expected("a boolean");
      return value;
    case "number":
      if (typeof value === "bigint") return Number(value);
      if (typeof value !== "number") throw expected("a number");
      return value;
    case "integer":
      if (typeof value === "bigint") {
        if (type.bigint) return value;
        throw new RangeError(`${path}: the integer is beyond Number.MAX_SAFE_INTEGER (declare the field with bigint: true)`);
      }
      if (typeof value !== "number") throw expected("an integer");
      if (!Number.isInteger(value)) throw new TypeError(`${path}: expected an integer, not a number with a fraction`);
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(
          type.bigint
            ? `${path}: the integer is beyond Number.MAX_SAFE_INTEGER and was rounded by JSON.parse: pass the event's bytes to hydrate`
            : `${path}: the integer is beyond Number.MAX_SAFE_INTEGER (declare the field with bigint: true)`,
        );
      }
      return type.bigint ? BigInt(value) : value;
    case "date": {
      if (typeof value !== "string") throw expected("a date string");
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) throw new TypeError(`${path}: expected a date string, not one Date can read`);
      return date;
    }
    case "bytes":
      if (typeof value !== "string") throw expected("a base64 string");
      if (!BASE64.test(value)) throw new TypeError(`${path}: expected a base64 string, not another string`);
      return Uint8Array.from(Buffer.from(value, "base64"));
    case "array":
      if (!Array.isArray(value)) throw expected("an array");
      return value.map((item: unknown, i) => {
        if (item === null) throw new TypeError(`${path}[${i}]: array items are never null in the schema model`);
        return fromJson(item, type.items, `${path}[${i}]`);
      });
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw expected("an object");
      return objectFromJson(value as Record<string, unknown>, type.object.get(), path);
    case "ref":
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw expected("an object");
      return type.target ? objectFromJson(value as Record<string, unknown>, type.target.get().object, path) : value;
  }
}

function objectFromJson(data: Record<string, unknown>, model: ObjectModel, path: string): object {
  const out = (model.cls ? new (model.cls as unknown as new () => object)() : {}) as Record<string, unknown>;
  for (const f of model.fields) {
    if (!Object.hasOwn(data, f.member)) continue;
    const v = data[f.member];
    setOwn(out, f.property, v === null ? null : fromJson(v, f.type, `${path}.${f.member}`));
  }
  if (model.cls === undefined) {
    const declared = new Set(model.fields.map((f) => f.member));
    for (const key of Object.keys(data)) if (!declared.has(key)) setOwn(out, key, data[key]);
  }
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseData(data: string | Uint8Array): unknown {
  const text = typeof data === "string" ? data : decoder.decode(data);
  // Sixteen digits in a row is the shortest text that can hold an integer JSON.parse rounds
  // (2^53 has 16): without one, JSON.parse is exact and much faster than a parser in JavaScript.
  return /\d{16}/.test(text) ? parseLossless(text) : JSON.parse(text);
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/** JSON.parse, except that integers beyond 2^53 are bigints (Node 20's reviver has no source text). */
function parseLossless(text: string): unknown {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(
      i < text.length ? `Unexpected token ${JSON.stringify(text[i])} in JSON at position ${i}` : "Unexpected end of JSON input",
    );
  };
  const space = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const string = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    // The token's escapes and control characters are JSON.parse's to check and decode.
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): unknown => {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      const object: Record<string, unknown> = {};
      space();
      if (text[i] === "}") {
        i++;
        return object;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail();
        const key = string();
        space();
        if (text[i] !== ":") fail();
        i++;
        setOwn(object, key, value());
        space();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return (i++, object);
        else fail();
      }
    }
    if (c === "[") {
      i++;
      const array: unknown[] = [];
      space();
      if (text[i] === "]") {
        i++;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return (i++, array);
        else fail();
      }
    }
    if (c === '"') return string();
    for (const [word, result] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return result;
      }
    }
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) return fail();
    i += match[0].length;
    const n = Number(match[0]);
    if (match[1] !== undefined || match[2] !== undefined || Number.isSafeInteger(n)) return n;
    return BigInt(match[0]);
  };
  const result = value();
  space();
  if (i < text.length) fail();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Fixed forms and small helpers
// ---------------------------------------------------------------------------------------------

/**
 * RFC 3339 date-times, which `Date` reads: what `toISOString` writes (also its six-digit
 * years), and what the Go and Java SDKs write (up to nanoseconds, offsets). The shape is
 * checked, not the calendar.
 */
export const DATE_PATTERN =
  "(?:[0-9]{4}|[+-][0-9]{6})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]" +
  "(?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
/** Standard base64 with padding (what Buffer writes), as the Go and Java SDKs declare it. */
export const BASE64_PATTERN = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?";
const BASE64 = new RegExp(`^${BASE64_PATTERN}$`);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value) || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return value.name ? `the function ${value.name}` : "a function";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  return kindOf(value);
}

function optionalBoolean(value: unknown, what: string): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") throw new TypeError(`${what} must be a boolean, not ${show(value)}`);
  return value;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value !== undefined && typeof value !== "string") throw new TypeError(`${what} must be a string, not ${show(value)}`);
  return value;
}

function bound(value: unknown, what: string): number | bigint | undefined {
  if (value === undefined || typeof value === "bigint") return value;
  if (typeof value !== "number") throw new TypeError(`${what} must be a number or a bigint, not ${show(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, not ${value}`);
  return value;
}

function length(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${what} must be a whole number (of characters or items), not ${show(value)}`);
  }
  if (value < 0 || !Number.isSafeInteger(value)) throw new RangeError(`${what} must be at least 0, not ${value}`);
  return value;
}

/** Compares exactly: integers as integers, whatever their representation. */
function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  const exact = (n: number | bigint): number | bigint => (typeof n === "number" && Number.isInteger(n) ? BigInt(n) : n);
  const x = exact(a);
  const y = exact(b);
  if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : x > y ? 1 : 0;
  const fx = Number(x);
  const fy = Number(y);
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}
