// The TypeScript SDK's executor of the conformance protocol (conformance/README.md, "Running the
// scenarios in an SDK"): one JSON request per line on stdin, one JSON answer per line on stdout.
// It only dispatches: each request is one call of the SDK's public API, each answer its result
// or its error in the protocol's form. The shared runner (graveyard-conformance) parses and
// matches the scenarios; test/conformance.test.ts runs it over this program.
//
//   node dist-test/conformance/executor.js            every scenario on an embedded store
//   node dist-test/conformance/executor.js --node BIN  on one real node (BIN: `graveyard`)
//
// Embedded stores are opened without fsync in a fresh temporary directory. With --node, each
// scenario starts `BIN serve` on a free loopback port and reaches it with Graveyard.connect;
// `reopen` stops it with SIGTERM and starts it again on the same data.
//
// Logs go to stderr: stdout carries the answers only.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  ENDED_SESSION,
  GraveyardError,
  Graveyard,
  TIMED_OUT,
  type ExpectedVersion,
  type Filter,
  type GroupInfo,
  type GroupMember,
  type GroupSettings,
  type GroupTarget,
  type OpenOptions,
  type RecordedEvent,
  type RegisteredSchema,
  type StreamMetadata,
  type Subscription,
  type SubscriptionStart,
  stringifyJsonLossless,
  parseJsonLossless,
} from "../src/index";
import { Node, freePort } from "../test/helpers";

type Json = Record<string, unknown>;

/** A value the scenario wrote that the SDK's types cannot carry: INVALID_ARGUMENT, as a user is refused it. */
class Unexpressible extends Error {}

/** A request this executor cannot run at all (a protocol error, an executor bug): a `fail` answer. */
class Failure extends Error {}

/** A subscription or a member, under the name the scenario gave it. */
interface Session {
  sub?: Subscription;
  member?: GroupMember;
  /** The executor cancelled it: its end is `ended`, not a failure. */
  cancelled: boolean;
}

interface Scenario {
  dir: string;
  open?: OpenOptions;
  node?: Node;
  client?: Graveyard;
  sessions: Map<string, Session>;
}

const nodeBin = (() => {
  const args = process.argv.slice(2);
  if (args.length === 0) return undefined;
  if (args.length === 2 && args[0] === "--node") return args[1];
  process.stderr.write("usage: executor.js [--node <path of the graveyard binary>]\n");
  process.exit(2);
})();

let scenario: Scenario | undefined;

function log(text: string): void {
  process.stderr.write(`ts executor: ${text}\n`);
}

// ---- the conversation ------------------------------------------------------------------------

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const answer = await answerOf(line);
    let text: string;
    try {
      text = stringifyJsonLossless(answer);
    } catch (e) {
      text = JSON.stringify({ fail: `cannot write the answer: ${String(e)}` });
    }
    await new Promise<void>((done, reject) => process.stdout.write(`${text}\n`, (e) => (e ? reject(e) : done())));
  }
  // The runner closed stdin: the run is over.
  await end();
}

async function answerOf(line: string): Promise<Json> {
  let r: Json;
  try {
    const parsed = parseJsonLossless(line);
    if (!isRecord(parsed)) throw new Error("not an object");
    r = parsed;
  } catch (e) {
    return { fail: `the request is not one this executor reads: ${String(e)}` };
  }
  try {
    return { ok: await run(r) };
  } catch (e) {
    if (e instanceof GraveyardError) {
      return { error: { ...e.details(), code: e.code, message: e.message } };
    }
    if (e instanceof Unexpressible) {
      return { error: { code: "INVALID_ARGUMENT", message: `refused by the TypeScript SDK's types: ${e.message}` } };
    }
    // A failure of this executor, or an error of the SDK without a code (which the SDK must
    // never throw from a call of the store).
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { fail: `${String(r.op)}: ${what}` };
  }
}

async function run(r: Json): Promise<Json> {
  switch (r.op) {
    case "begin":
      await end();
      await begin(r);
      return {};
    case "end":
      await end();
      return {};
  }
  if (scenario === undefined) throw new Failure('no scenario is open ("begin" first)');
  return step(scenario, r);
}

async function begin(r: Json): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "graveyard-conformance-ts-"));
  const sc: Scenario = { dir, sessions: new Map() };
  scenario = sc; // so that end removes the directory whatever happens next
  const options = record(r.options, "options");
  const maxEventSize = options.max_event_size == null ? undefined : safeNumber(options.max_event_size, "max_event_size");
  let key: Buffer | undefined;
  if (options.master_key != null) {
    const hex = str(options.master_key, "master_key");
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Failure(`the master key is not 64 hex digits: ${hex}`);
    key = Buffer.from(hex, "hex");
  }
  if (nodeBin !== undefined) {
    const args: string[] = [];
    if (maxEventSize !== undefined) args.push("--max-event-size", String(maxEventSize));
    if (key !== undefined) {
      // Beside (not inside) the node's data directory; the node reads 64 hex digits.
      const file = join(dir, "master.key");
      writeFileSync(file, key.toString("hex"), { mode: 0o600 });
      args.push("--master-key-file", file);
    }
    sc.node = new Node("node-1", await freePort(), dir, nodeBin, args, undefined);
    sc.node.start();
    sc.client = await connect(sc.node);
    return;
  }
  // No scenario depends on fsync (conformance/README.md, "Running a scenario").
  sc.open = { durability: "none", maxEventSize, masterKey: key };
  sc.client = await Graveyard.open(join(dir, "store"), sc.open);
}

async function connect(node: Node): Promise<Graveyard> {
  await node.waitReady();
  return Graveyard.connect([node.url], { connectTimeoutMs: 5000 });
}

/** Ends the scenario being run: its sessions, its client, its node, its directory. */
async function end(): Promise<void> {
  const sc = scenario;
  if (sc === undefined) return;
  scenario = undefined;
  closeSessions(sc);
  try {
    await sc.client?.close();
  } catch (e) {
    log(`closing the client: ${String(e)}`);
  }
  try {
    await sc.node?.stop();
  } catch (e) {
    log(String(e));
  }
  rmSync(sc.dir, { recursive: true, force: true });
}

function closeSessions(sc: Scenario): void {
  for (const s of sc.sessions.values()) closeSession(s);
  sc.sessions.clear();
}

function closeSession(s: Session): void {
  s.sub?.cancel();
  s.member?.cancel();
}

/** Drops every session, closes the store and opens the same data again (restarts the node). */
async function reopen(sc: Scenario): Promise<void> {
  closeSessions(sc);
  const client = sc.client;
  sc.client = undefined; // later steps fail as a fail answer, not on a stale client, if this fails
  await client?.close();
  try {
    if (sc.node !== undefined) {
      await sc.node.stop();
      sc.node.start();
      sc.client = await connect(sc.node);
    } else {
      sc.client = await Graveyard.open(join(sc.dir, "store"), sc.open);
    }
  } catch (e) {
    throw new Failure(`cannot open the store again: ${String(e)}`);
  }
}

function sessionOf(sc: Scenario, name: unknown): Session {
  const s = sc.sessions.get(str(name, "session"));
  if (s === undefined) throw new Failure(`no session ${String(name)} is open`);
  return s;
}

/** Keeps a new session under its name (closing one left under it, which the runner never does). */
function keep(sc: Scenario, name: unknown, s: Session): void {
  const key = str(name, "session");
  const old = sc.sessions.get(key);
  if (old !== undefined) closeSession(old);
  sc.sessions.set(key, s);
}

// ---- the operations ---------------------------------------------------------------------------

async function step(sc: Scenario, r: Json): Promise<Json> {
  const c = sc.client;
  if (c === undefined) throw new Failure("the store could not be opened again");
  switch (r.op) {
    case "append": {
      const events = array(r.events, "events").map((e) => eventArg(record(e, "event")));
      const res = await c.append(str(r.stream, "stream"), events, { expectedVersion: expectedVersion(r.expected_version) });
      return {
        first_revision: res.firstRevision,
        last_revision: res.lastRevision,
        first_position: res.firstPosition,
        last_position: res.lastPosition,
      };
    }
    case "read_stream":
    case "read_all": {
      const direction = r.direction;
      if (direction !== "forwards" && direction !== "backwards") throw new Failure(`unknown direction ${String(direction)}`);
      const options = {
        direction,
        from: r.from == null ? undefined : u64(r.from, "from"),
        maxCount: r.limit == null ? undefined : u64(r.limit, "limit"),
      } as const;
      // The page forms: the iterators read a stream without visible events as empty, where
      // the scenarios expect NOT_FOUND.
      const events =
        r.op === "read_stream"
          ? await c.readStreamPage(str(r.stream, "stream"), options)
          : await c.readAllPage({ ...options, filter: r.filter == null ? undefined : filterArg(r.filter) });
      return { events: events.map(eventJson) };
    }
    case "stream_info": {
      const info = await c.streamInfo(str(r.stream, "stream"));
      return {
        current: info.current,
        next_revision: info.nextRevision,
        deleted: info.deleted,
        shredded: info.shredded,
        metadata: metadataJson(info.metadata),
      };
    }
    case "set_stream_metadata": {
      const m = record(r.metadata, "metadata");
      const metadata: StreamMetadata = {
        maxCount: m.max_count == null ? undefined : u64(m.max_count, "max_count"),
        maxAgeMs: m.max_age_ms == null ? undefined : safeNumber(m.max_age_ms, "max_age_ms"),
        truncateBefore: m.truncate_before == null ? undefined : u64(m.truncate_before, "truncate_before"),
      };
      await c.setStreamMetadata(str(r.stream, "stream"), metadata);
      return {};
    }
    case "get_stream_metadata":
      return metadataJson(await c.getStreamMetadata(str(r.stream, "stream")));
    case "delete_stream":
      await c.deleteStream(str(r.stream, "stream"), { expectedVersion: expectedVersion(r.expected_version) });
      return {};
    case "tombstone_stream":
      await c.tombstoneStream(str(r.stream, "stream"), { expectedVersion: expectedVersion(r.expected_version) });
      return {};
    case "shred_stream":
      await c.shredStream(str(r.stream, "stream"));
      return {};
    case "save_snapshot":
      await c.saveSnapshot(str(r.stream, "stream"), u64(r.revision, "revision"), base64(r.data, "data"));
      return {};
    case "get_snapshot": {
      const s = await c.getSnapshot(str(r.stream, "stream"));
      return {
        snapshot:
          s === undefined
            ? null
            : { stream: s.stream, revision: s.revision, data: s.data.toString("base64"), timestamp: s.timestampMicros },
      };
    }
    case "head_position":
      return { head_position: await c.headPosition() };
    case "upsert_schema": {
      // The definition as the scenario wrote it, as JSON text: the core refuses what is wrong.
      const u = await c.upsertSchema(stringifyJsonLossless(r.schema));
      return { name: u.name, version: u.version, changed: u.changed };
    }
    case "get_schema": {
      let version: number | undefined;
      if (r.version != null) {
        const v = u64(r.version, "version");
        if (v === 0n || v > 0xffff_ffffn) throw new Unexpressible(`schema version ${v}: getSchema takes a u32 from 1`);
        version = Number(v);
      }
      return schemaJson(await c.getSchema(str(r.name, "name"), version));
    }
    case "list_schemas":
      return { schemas: (await c.listSchemas()).map(schemaJson) };
    case "close":
      // The sessions stay, and fail like the store.
      await c.close();
      return {};
    case "reopen":
      await reopen(sc);
      return {};
    case "subscribe_to_stream":
    case "subscribe_to_all": {
      const from = startArg(r.start);
      let pageSize: number | undefined;
      if (r.page_size != null) {
        const n = u64(r.page_size, "page_size");
        // The SDK reads a pageSize of 0 (or none) as "the store's default": it cannot ask for 0.
        if (n === 0n || n > 0xffff_ffffn) throw new Unexpressible(`page size ${n}: pageSize is a u32 where 0 takes the default`);
        pageSize = Number(n);
      }
      const sub =
        r.op === "subscribe_to_stream"
          ? await c.subscribeToStream(str(r.stream, "stream"), { from, pageSize })
          : await c.subscribeToAll({ from, pageSize, filter: r.filter == null ? undefined : filterArg(r.filter) });
      keep(sc, r.session, { sub, cancelled: false });
      return {};
    }
    case "create_group": {
      const info = await c.createGroup(str(r.group, "group"), targetArg(r.target), {
        from: startArg(r.start),
        settings: settingsArg(r.settings),
      });
      return groupJson(info);
    }
    case "update_group":
      return groupJson(await c.updateGroup(str(r.group, "group"), settingsArg(r.settings)));
    case "delete_group":
      await c.deleteGroup(str(r.group, "group"));
      return {};
    case "group_info":
      return groupJson(await c.groupInfo(str(r.group, "group")));
    case "list_groups":
      return { groups: await c.listGroups() };
    case "replay_parked": {
      let limit: bigint | undefined;
      if (r.limit != null) {
        limit = u64(r.limit, "limit");
        if (limit === 0n) throw new Unexpressible('limit 0: replayParked reads no limit as "every parked event" and takes none of 0');
      }
      const info = await c.replayParked(str(r.group, "group"), { limit });
      return { from: info.from, to: info.to, parked: info.parked, replaying: info.replaying };
    }
    case "join_group": {
      const member = await c.joinGroup(str(r.group, "group"), str(r.member, "member"));
      keep(sc, r.session, { member, cancelled: false });
      return {};
    }
    case "next":
      return next(sessionOf(sc, r.session), safeNumber(r.timeout_ms, "timeout_ms"));
    case "ack":
    case "nack": {
      const s = sessionOf(sc, r.session);
      if (s.member === undefined) throw new Failure(`${String(r.op)} names a subscription, not a member`);
      const ids = array(r.deliveries, "deliveries").map((d) => {
        const text = str(d, "delivery id");
        // Not a number: an id this executor never handed out. Ask the SDK with one it never
        // handed out either, as the reference executor does.
        return /^[0-9]{1,20}$/.test(text) && BigInt(text) <= 0xffff_ffff_ffff_ffffn ? BigInt(text) : 0xffff_ffff_ffff_ffffn;
      });
      if (r.op === "ack") {
        await s.member.ack(ids);
      } else {
        const action = r.action;
        if (action !== "retry" && action !== "park" && action !== "skip") throw new Failure(`unknown nack action ${String(action)}`);
        await s.member.nack(ids, action);
      }
      return {};
    }
    case "cancel": {
      // cancel() ends the session's waits for good; its next poll then says "ended".
      const s = sessionOf(sc, r.session);
      s.cancelled = true;
      closeSession(s);
      return {};
    }
    case "close_session": {
      const s = sessionOf(sc, r.session);
      closeSession(s);
      sc.sessions.delete(str(r.session, "session"));
      return {};
    }
  }
  throw new Failure(`unknown op ${String(r.op)}`);
}

/** The session's next message, waiting at most `timeoutMs`. */
async function next(s: Session, timeoutMs: number): Promise<Json> {
  if (s.sub !== undefined) {
    const m = await s.sub.poll(timeoutMs);
    if (m === TIMED_OUT) return { timeout: true };
    if (m === ENDED_SESSION) return endedOf(s);
    return m.kind === "caughtUp" ? { caught_up: true } : { event: eventJson(m.event) };
  }
  const d = await s.member!.poll(timeoutMs);
  if (d === TIMED_OUT) return { timeout: true };
  if (d === ENDED_SESSION) return endedOf(s);
  return {
    delivery: {
      // A string: ids use all 64 bits, beyond what every JSON reader keeps.
      id: d.id.toString(),
      attempt: d.attempt,
      parked_revision: d.parkedRevision ?? null,
      event: eventJson(d.event),
    },
  };
}

/** The end of a session the executor cancelled is "ended"; one the SDK ended on its own is a fail. */
function endedOf(s: Session): Json {
  if (s.cancelled) return { ended: true };
  throw new Failure("the session ended though nobody cancelled it");
}

// ---- arguments: the protocol's JSON forms to the SDK's types -----------------------------------

function expectedVersion(v: unknown): ExpectedVersion {
  if (v === "any" || v === "no_stream" || v === "stream_exists") return v;
  if (isRecord(v) && Object.keys(v).length === 1 && "exact" in v) return u64(v.exact, "expected_version.exact");
  throw new Failure(`expected_version: ${stringifyJsonLossless(v)}`);
}

function eventArg(e: Json): { id?: string; type: string; contentType: string; data: Uint8Array; metadata: Uint8Array } {
  return {
    id: e.id == null ? undefined : str(e.id, "id"),
    type: str(e.type, "type"),
    contentType: str(e.content_type, "content_type"),
    data: base64(e.data, "data"),
    metadata: base64(e.metadata, "metadata"),
  };
}

function startArg(v: unknown): SubscriptionStart {
  if (v === "start" || v === "end") return v;
  if (isRecord(v) && Object.keys(v).length === 1 && "after" in v) return { after: u64(v.after, "start.after") };
  throw new Failure(`unknown start ${stringifyJsonLossless(v)}`);
}

/** A filter as the scenario wrote it: only the two lists, each of strings. */
function filterArg(v: unknown): Filter {
  if (!isRecord(v)) throw new Unexpressible(`a filter is an object, not ${stringifyJsonLossless(v)}`);
  const f: { streamPrefixes?: string[]; eventTypes?: string[] } = {};
  for (const [k, list] of Object.entries(v)) {
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
      throw new Unexpressible(`filter.${k} is a list of strings, not ${stringifyJsonLossless(list)}`);
    }
    if (k === "stream_prefixes") f.streamPrefixes = list;
    else if (k === "event_types") f.eventTypes = list;
    else throw new Unexpressible(`a Filter has no ${k}`);
  }
  return f;
}

/** {"stream": name} or {"all": filter}, as the scenario wrote it. */
function targetArg(v: unknown): GroupTarget {
  const shape = () => new Unexpressible(`a group target is {"stream": name} or {"all": filter}, not ${stringifyJsonLossless(v)}`);
  if (!isRecord(v) || Object.keys(v).length !== 1) throw shape();
  if ("stream" in v) {
    if (typeof v.stream !== "string") throw new Unexpressible(`a target stream is a string, not ${stringifyJsonLossless(v.stream)}`);
    return { stream: v.stream };
  }
  if ("all" in v) return { all: filterArg(v.all) };
  throw shape();
}

/** Group settings as the scenario wrote them; what is left out takes the store's default. */
function settingsArg(v: unknown): GroupSettings {
  if (!isRecord(v)) throw new Unexpressible(`group settings are an object, not ${stringifyJsonLossless(v)}`);
  const s: GroupSettings = {};
  for (const [k, value] of Object.entries(v)) {
    switch (k) {
      case "max_retries":
        s.maxRetries = intIn(k, value, 0xffff_ffff);
        break;
      case "ack_timeout_ms":
        s.ackTimeoutMs = intIn(k, value, Number.MAX_SAFE_INTEGER);
        break;
      case "max_in_flight":
        s.maxInFlight = intIn(k, value, 0xffff_ffff);
        break;
      case "strategy":
        if (value !== "round_robin" && value !== "pinned_by_stream") {
          throw new Unexpressible(`strategy is "round_robin" or "pinned_by_stream" (GroupStrategy), not ${stringifyJsonLossless(value)}`);
        }
        s.strategy = value;
        break;
      default:
        throw new Unexpressible(`GroupSettings has no ${k}`);
    }
  }
  return s;
}

/** A JSON integer in 0..=most, the range of the SDK's field it goes to. */
function intIn(what: string, v: unknown, most: number): number {
  const n = typeof v === "bigint" ? Number.NaN : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > most) {
    throw new Unexpressible(`${what} is an integer in 0..=${most}, not ${stringifyJsonLossless(v)}`);
  }
  return n;
}

// ---- results: the SDK's types to the protocol's JSON forms -------------------------------------

function eventJson(e: RecordedEvent): Json {
  const f = e.toFields();
  return {
    stream: f.stream,
    revision: f.revision,
    position: f.position,
    id: f.id,
    type: f.type,
    content_type: f.contentType,
    data: Buffer.from(f.data).toString("base64"),
    metadata: Buffer.from(f.metadata).toString("base64"),
    timestamp: f.timestampMicros,
    shredded: f.shredded,
    schema_version: f.schemaVersion ?? null,
  };
}

function metadataJson(m: StreamMetadata): Json {
  return { max_count: m.maxCount ?? null, max_age_ms: m.maxAgeMs ?? null, truncate_before: m.truncateBefore ?? null };
}

function schemaJson(s: RegisteredSchema): Json {
  return { name: s.name, version: s.version, schema: s.schema };
}

function filterJson(f: Filter): Json {
  return { stream_prefixes: [...(f.streamPrefixes ?? [])], event_types: [...(f.eventTypes ?? [])] };
}

function groupJson(g: GroupInfo): Json {
  return {
    name: g.name,
    target: "stream" in g.target ? { stream: g.target.stream } : { all: filterJson(g.target.all) },
    settings: {
      max_retries: g.settings.maxRetries,
      ack_timeout_ms: g.settings.ackTimeoutMs,
      max_in_flight: g.settings.maxInFlight,
      strategy: g.settings.strategy,
    },
    checkpoint: g.checkpoint,
    lag: g.lag,
    members: g.members,
    in_flight: g.inFlight,
    buffered: g.buffered,
    parked_stream: g.parkedStream,
    parked: g.parked,
    replaying: g.replaying,
  };
}

// ---- readers of the request's JSON ---------------------------------------------------------------

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function record(v: unknown, what: string): Json {
  if (!isRecord(v)) throw new Failure(`${what} is not an object`);
  return v;
}

function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Failure(`${what} is not a list`);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Failure(`${what} is not a string`);
  return v;
}

/** A JSON integer 0..2^64-1 (parseJsonLossless gives bigints beyond 2^53). */
function u64(v: unknown, what: string): bigint {
  if (typeof v === "bigint" && v >= 0n && v <= 0xffff_ffff_ffff_ffffn) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new Failure(`${what} is not an unsigned 64-bit integer: ${String(v)}`);
}

/** A JSON integer the SDK takes as a number: beyond 2^53 its types cannot carry it. */
function safeNumber(v: unknown, what: string): number {
  const n = u64(v, what);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Unexpressible(`${what} ${n} is beyond the numbers the SDK takes (2^53-1)`);
  return Number(n);
}

function base64(v: unknown, what: string): Buffer {
  const text = str(v, what);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) throw new Failure(`${what} is not base64`);
  return Buffer.from(text, "base64");
}

main().catch(async (e: unknown) => {
  log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await end();
  process.exit(1);
});
