// The TypeScript SDK's benchmark: the workloads of the Rust bench (`graveyard-bench embedded`,
// bench/) through the SDK on an embedded, durable store (Graveyard.open with the default fsync
// per commit) and, in the same run, right after each one, the same workload through the Rust
// core, so that each row has a ratio: SDK events/s ÷ core events/s. A port of
// sdk-go/internal/bench/main.go: the same ~100-byte JSON event (payload, byte for byte), stream
// names (bench-i), expected versions (exact previous revision, "no_stream" first), writer counts,
// durations and sizes as bench/src/workload.rs, a fresh store per workload. Goroutines and
// threads become concurrent async loops on the one event loop, each awaiting its own appends.
//
// Every write workload checks afterwards that the store holds exactly what it acknowledged
// (each stream's revision, the head of $all, every event's bytes), and every read that it got
// every event in order, then every event's bytes: a wrong store fails the run (exit 1). Timings
// are reported, never asserted.
//
//   npm run bench -- [--quick] [--only W,W] [--core PATH|none] [--markdown FILE] [--dir DIR] [--no-overhead]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Graveyard, nativeVersion, type EventData, type EventIterable, type ExpectedVersion, type RecordedEvent } from "../src/index";

/** Sizes and times of a run (workload.rs's Scale). */
interface Scale {
  /** How long each write workload runs, ms. */
  writeMs: number;
  /** Events of the read-stream stream. */
  streamEvents: number;
  /** Events of the scan-all log, and the streams it is spread over. */
  logEvents: number;
  logStreams: number;
  /** Page size of the scans. */
  page: number;
  /** Events per append while preloading. */
  preloadBatch: number;
  /** Reads repeat for at least this long (ms) and this many rounds. */
  readMinMs: number;
  readMinRounds: number;
  /** How long each half of the call-overhead measurement runs, ms. */
  overheadMs: number;
}

const FULL: Scale = {
  writeMs: 5000,
  streamEvents: 100_000,
  logEvents: 1_000_000,
  logStreams: 100,
  page: 10_000,
  preloadBatch: 1_000,
  readMinMs: 2000,
  readMinRounds: 3,
  overheadMs: 1000,
};

const QUICK: Scale = {
  writeMs: 300,
  streamEvents: 2_000,
  logEvents: 20_000,
  logStreams: 10,
  page: 10_000,
  preloadBatch: 1_000,
  readMinMs: 100,
  readMinRounds: 2,
  overheadMs: 100,
};

interface Result {
  events: number;
  ops: number;
  /** Wall time of the workload, ms. */
  ms: number;
  /** Latency of each operation, ms. */
  lat: number[];
}

type Run = (dir: string, s: Scale) => Promise<Result>;

interface Workload {
  name: string;
  what: (s: Scale) => string;
  /** The graveyard-bench workload it divides by (the GraveyardDB row of its table). */
  core: string;
  run: Run;
}

const workloads: Workload[] = [
  {
    name: "append-1",
    what: () => "1 event per append, 1 async writer, own stream",
    core: "append-1",
    run: appendWorkload(1, 1),
  },
  {
    name: "append-8",
    what: () => "1 event per append, 8 concurrent async writers, each on its own stream",
    core: "append-8",
    run: appendWorkload(8, 1),
  },
  {
    name: "append-64",
    what: () => "1 event per append, 64 concurrent async writers, each on its own stream",
    core: "append-64",
    run: appendWorkload(64, 1),
  },
  {
    name: "append-64-tasks",
    what: () => "as append-64 (64 promises on one event loop); the core's figure: 64 async tasks on 2 threads (append_async)",
    core: "append-64-tasks",
    run: appendWorkload(64, 1),
  },
  {
    name: "batch-100",
    what: () => "100 events per append, 8 concurrent async writers, each on its own stream",
    core: "batch-100",
    run: appendWorkload(8, 100),
  },
  {
    name: "read-stream",
    what: (s) => `readStream().pages() of a ${grouped(s.streamEvents)}-event stream, whole stream per page; revision and data of each event`,
    core: "read-stream",
    run: readStream,
  },
  {
    name: "scan-all",
    what: (s) =>
      `readAll().pages() of a ${grouped(s.logEvents)}-event log (${s.logStreams} streams) in pages of ${grouped(s.page)}; position and type of each event`,
    core: "scan-all",
    run: scanAll(false),
  },
  {
    name: "scan-all-fields",
    what: () =>
      "as scan-all, every field of each event read (stream, revision, position, timestamp, id, type, content type, data, metadata); " +
      "the core's figure: read_all (owned events), the plain row of encrypted-read-all",
    core: "encrypted-read-all",
    run: scanAll(true),
  },
];

// ---- events --------------------------------------------------------------------------------

const EVENT_TYPE = "Bench";
const JSON_TYPE = "application/json";
/** Each writer's payload numbers start at w << 40 (exact as a double: below 2^53). */
const WRITER_SEQ = 2 ** 40;

/** bench/src/workload.rs's payload(seq), byte for byte (seq below 2^53). */
function payloadText(seq: number): string {
  // (seq * 7919) % 90_000_000 without passing 2^53: reduce seq first.
  const amount = 10_000_000 + (((seq % 90_000_000) * 7919) % 90_000_000);
  return (
    `{"order_id":"ord-${String(seq).padStart(12, "0")}","customer":"cust-${String(seq % 1_000_000).padStart(6, "0")}",` +
    `"amount_cents":${amount},"currency":"EUR","items":${1 + (seq % 9)}}`
  );
}

function payload(seq: number): Buffer {
  return Buffer.from(payloadText(seq), "latin1");
}

function event(seq: number): EventData {
  return { type: EVENT_TYPE, contentType: JSON_TYPE, data: payload(seq) };
}

function streamName(i: number): string {
  return `bench-${i}`;
}

class BenchError extends Error {}

function fail(message: string): never {
  throw new BenchError(message);
}

// ---- writes --------------------------------------------------------------------------------

/** `writers` concurrent async loops, each appending `batch` events per call to its own stream with the exact previous revision, until the time is up. */
function appendWorkload(writers: number, batch: number): Run {
  return async (dir, s) => {
    const store = await Graveyard.open(dir);
    try {
      const written = new Array<number>(writers).fill(0);
      const lats: number[][] = [];
      let stop = false;
      const start = performance.now();
      const deadline = start + s.writeMs;
      const writer = async (w: number): Promise<void> => {
        const lat: number[] = [];
        lats.push(lat);
        const stream = streamName(w);
        let expected: ExpectedVersion = "no_stream";
        let seq = w * WRITER_SEQ;
        while (!stop && performance.now() < deadline) {
          const events = new Array<EventData>(batch);
          for (let i = 0; i < batch; i++) {
            events[i] = event(seq++);
          }
          const t = performance.now();
          const r = await store.append(stream, events, { expectedVersion: expected });
          lat.push(performance.now() - t);
          // The contract, cheaply, while we are here (as the core's bench does).
          const first = BigInt(written[w]);
          if (r.firstRevision !== first || r.lastRevision !== first + BigInt(batch - 1) || r.lastPosition - r.firstPosition !== BigInt(batch - 1)) {
            fail(`append to ${stream} after ${String(expected)} returned revisions ${r.firstRevision}..=${r.lastRevision}, positions ${r.firstPosition}..=${r.lastPosition}`);
          }
          expected = r.lastRevision;
          written[w] += batch;
        }
      };
      const settled = await Promise.allSettled(
        Array.from({ length: writers }, (_, w) =>
          writer(w).catch((e: unknown) => {
            stop = true; // one failing writer stops the others
            throw e;
          }),
        ),
      );
      const ms = performance.now() - start;
      for (const r of settled) {
        if (r.status === "rejected") throw r.reason;
      }
      let total = 0;
      for (let w = 0; w < writers; w++) {
        const n = written[w];
        total += n;
        const info = await store.streamInfo(streamName(w));
        if (info.current !== BigInt(n - 1)) {
          fail(`stream ${streamName(w)} is at revision ${String(info.current)}, ${n} events were acknowledged`);
        }
      }
      const head = await store.headPosition();
      if (head !== BigInt(total)) {
        fail(`the store holds ${head} events, ${total} were acknowledged`);
      }
      // Every acknowledged event, byte for byte: writer w's revision r is payload(w << 40 + r).
      for (let w = 0; w < writers; w++) {
        await verifyEvents(store.readStream(streamName(w), { pageSize: 10_000 }), written[w], (rev) => ({
          stream: streamName(w),
          revision: rev,
          seq: w * WRITER_SEQ + rev,
        }));
      }
      return { events: total, ops: lats.reduce((n, l) => n + l.length, 0), ms, lat: lats.flat() };
    } finally {
      await store.close();
    }
  };
}

// ---- reads ---------------------------------------------------------------------------------

/**
 * Writes `count` events over `streams` streams in appends of s.preloadBatch without fsync (the
 * appends going round-robin over the streams, as the core's preload does), then reopens the
 * store with the defaults (reads are the same either way; it loads faster).
 */
async function preload(dir: string, s: Scale, count: number, streams: number): Promise<Graveyard> {
  const store = await Graveyard.open(dir, { durability: "none" });
  try {
    for (let seq = 0; seq < count; ) {
      const stream = streamName(Math.floor(seq / s.preloadBatch) % streams);
      const batch: EventData[] = [];
      while (batch.length < s.preloadBatch && seq < count) {
        batch.push(event(seq++));
      }
      await store.append(stream, batch, { expectedVersion: "any" });
    }
  } finally {
    await store.close();
  }
  return Graveyard.open(dir);
}

/** Where preloaded event `seq` is: its stream and revision. */
function preloaded(s: Scale, streams: number): (seq: number) => { stream: string; revision: number; seq: number } {
  return (seq) => {
    const b = Math.floor(seq / s.preloadBatch);
    return { stream: streamName(b % streams), revision: Math.floor(b / streams) * s.preloadBatch + (seq % s.preloadBatch), seq };
  };
}

/** Runs round until s.readMinMs passed and at least s.readMinRounds rounds ran. */
async function repeat(s: Scale, lat: number[], round: () => Promise<{ events: number; ops: number }>): Promise<Result> {
  const r: Result = { events: 0, ops: 0, ms: 0, lat };
  const start = performance.now();
  for (let rounds = 0; rounds < s.readMinRounds || performance.now() - start < s.readMinMs; rounds++) {
    const { events, ops } = await round();
    r.events += events;
    r.ops += ops;
  }
  r.ms = performance.now() - start;
  return r;
}

async function readStream(dir: string, s: Scale): Promise<Result> {
  const store = await preload(dir, s, s.streamEvents, 1);
  try {
    const lat: number[] = [];
    const r = await repeat(s, lat, async () => {
      const t = performance.now();
      let i = 0;
      for await (const page of store.readStream(streamName(0), { pageSize: s.streamEvents }).pages()) {
        for (const e of page) {
          // What a user does with each event: its revision and its data.
          if (Number(e.revision) !== i || e.data.length === 0) {
            fail(`read-stream: event ${i} is revision ${e.revision} with ${e.data.length} bytes of data`);
          }
          i++;
        }
      }
      lat.push(performance.now() - t);
      if (i !== s.streamEvents) fail(`read-stream: ${i} events read, ${s.streamEvents} preloaded`);
      return { events: i, ops: 1 };
    });
    await verifyEvents(store.readStream(streamName(0), { pageSize: s.page }), s.streamEvents, preloaded(s, 1));
    return r;
  } finally {
    await store.close();
  }
}

/** Scans of $all in pages of s.page; `fields`: every field of each event read, else its position and type. */
function scanAll(fields: boolean): Run {
  return async (dir, s) => {
    const store = await preload(dir, s, s.logEvents, s.logStreams);
    try {
      const lat: number[] = [];
      let sink = 0;
      const r = await repeat(s, lat, async () => {
        let read = 0;
        let pages = 0;
        let t = performance.now();
        for await (const page of store.readAll({ pageSize: s.page }).pages()) {
          for (let i = 0; i < page.length; i++) {
            const e = page[i];
            if (Number(e.position) !== read + i) {
              fail(`scan-all: position ${e.position} where ${read + i} belongs`);
            }
            if (fields) {
              sink +=
                e.stream.length +
                Number(e.revision) +
                Number(e.timestampMicros & 0xffn) +
                e.id.length +
                e.type.length +
                e.contentType.length +
                e.data.length +
                e.metadata.length;
            } else if (e.type !== EVENT_TYPE) {
              fail(`scan-all: event ${read + i} is of type ${e.type}`);
            }
          }
          read += page.length;
          pages++;
          const now = performance.now();
          lat.push(now - t);
          t = now;
        }
        if (read !== s.logEvents) fail(`scan-all: ${read} events read, ${s.logEvents} preloaded`);
        return { events: read, ops: pages };
      });
      if (fields && sink === 0) fail("scan-all-fields: nothing was read");
      await verifyEvents(store.readAll({ pageSize: s.page }), s.logEvents, preloaded(s, s.logStreams));
      return r;
    } finally {
      await store.close();
    }
  };
}

/**
 * Reads `events` and checks that there are exactly `count`, the i-th being where(i): its stream,
 * its revision, type Bench, JSON, and payload(seq) byte for byte. Not timed.
 */
async function verifyEvents(events: EventIterable, count: number, where: (i: number) => { stream: string; revision: number; seq: number }): Promise<void> {
  let i = 0;
  for await (const page of events.pages()) {
    for (const e of page) {
      if (i >= count) fail(`verify: more than the ${count} events written (${describe(e)})`);
      const want = where(i);
      if (
        e.stream !== want.stream ||
        e.revision !== BigInt(want.revision) ||
        e.type !== EVENT_TYPE ||
        e.contentType !== JSON_TYPE ||
        e.metadata.length !== 0 ||
        !e.data.equals(payload(want.seq))
      ) {
        fail(`verify: event ${i} should be revision ${want.revision} of ${want.stream} with payload(${want.seq}), it is ${describe(e)}`);
      }
      i++;
    }
  }
  if (i !== count) fail(`verify: ${i} events read back, ${count} were written`);
}

function describe(e: RecordedEvent): string {
  return `revision ${e.revision} of ${e.stream} at position ${e.position}, type ${e.type}, ${e.contentType}, data ${e.data.toString("latin1").slice(0, 120)}`;
}

// ---- the core --------------------------------------------------------------------------------

/** Runs graveyard-bench on one workload and reads the GraveyardDB row of its Markdown: events/s. */
function coreRow(bin: string, name: string, quick: boolean, dir: string): number {
  const md = join(dir, `core-${name}.md`);
  const args = ["embedded", "--only", name, "--markdown", md, "--dir", dir];
  if (quick) args.push("--quick");
  const run = spawnSync(bin, args, { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 64 << 20 });
  if (run.error !== undefined || run.status !== 0) {
    fail(`${bin} ${args.join(" ")}: ${run.error?.message ?? `exit status ${run.status ?? run.signal}`}\n${run.stdout}`);
  }
  const m = /^\| GraveyardDB(?: \(\d+\))? \| ([0-9,]+) \|/m.exec(readFileSync(md, "utf8"));
  if (m === null) fail(`no GraveyardDB row in ${md}`);
  return Number(m[1].replaceAll(",", ""));
}

// ---- one call ------------------------------------------------------------------------------

/** ns per awaited call of `op`, in rounds of 1,000 for about `ms` (after a round of warm-up). */
async function perCallAsync(ms: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 1000; i++) await op();
  let n = 0;
  let elapsed = 0;
  const start = performance.now();
  do {
    for (let i = 0; i < 1000; i++) await op();
    n += 1000;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (elapsed * 1e6) / n;
}

/** ns per call of `op` with 1,000 calls in flight at once (Promise.all), for about `ms`. */
async function perCallConcurrent(ms: number, op: () => Promise<unknown>): Promise<number> {
  const round = (): Promise<unknown[]> => Promise.all(Array.from({ length: 1000 }, op));
  await round();
  let n = 0;
  let elapsed = 0;
  const start = performance.now();
  do {
    await round();
    n += 1000;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (elapsed * 1e6) / n;
}

/** ns per call of a synchronous `op`, the same way. */
function perCallSync(ms: number, op: () => void): number {
  for (let i = 0; i < 1000; i++) op();
  let n = 0;
  let elapsed = 0;
  const start = performance.now();
  do {
    for (let i = 0; i < 1000; i++) op();
    n += 1000;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (elapsed * 1e6) / n;
}

/**
 * The cost of one call through the SDK (an awaited headPosition on an embedded store: the
 * N-API crossing, the core's runtime settling the promise, the event loop resuming), the same
 * with 1,000 calls in flight (what concurrency amortizes), and a synchronous crossing alone
 * (nativeVersion).
 */
async function callOverhead(base: string, s: Scale): Promise<[number, number, number]> {
  const dir = mkdtempSync(join(base, "graveyard-ts-bench-overhead-"));
  try {
    const store = await Graveyard.open(join(dir, "store"), { durability: "none" });
    try {
      const head = await perCallAsync(s.overheadMs, () => store.headPosition());
      const concurrent = await perCallConcurrent(s.overheadMs, () => store.headPosition());
      let versions = 0;
      const crossing = perCallSync(s.overheadMs, () => {
        versions += nativeVersion().length;
      });
      if (versions === 0) fail("nativeVersion returned nothing");
      return [head, concurrent, crossing];
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the run -------------------------------------------------------------------------------

function grouped(v: number): string {
  const digits = String(Math.round(v));
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function micros(ms: number): string {
  return String(Math.round(ms * 1000));
}

const USAGE = `usage: npm run bench -- [--quick] [--only W,W] [--core PATH|none] [--markdown FILE] [--dir DIR] [--no-overhead]
  --quick          smoke sizes (0.3 s per write workload, 2k/20k events; CI)
  --only W,W       run only these workloads: ${workloads.map((w) => w.name).join(", ")}
  --core PATH      the graveyard-bench binary (default: $CARGO_TARGET_DIR or ../target, release/graveyard-bench); "none" skips the core
  --markdown FILE  also write the table to this file
  --dir DIR        where the stores write (default: the system temp dir)
  --no-overhead    do not measure the cost of one call`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      core: { type: "string" },
      markdown: { type: "string" },
      dir: { type: "string" },
      "no-overhead": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick;
  const s = quick ? QUICK : FULL;
  // The repository: sdk-ts/.. (this file runs from sdk-ts/dist-bench/bench).
  const repo = resolve(__dirname, "..", "..", "..");
  let core = values.core ?? "";
  if (core === "") {
    const target = process.env.CARGO_TARGET_DIR;
    core = join(target === undefined || target === "" ? join(repo, "target") : isAbsolute(target) ? target : join(repo, target), "release", "graveyard-bench");
  }
  if (core !== "none" && !existsSync(core)) {
    console.error(`bench: no graveyard-bench at ${core} (cargo build --release -p graveyard-bench, or --core PATH, or --core none)`);
    return 2;
  }
  const base = resolve(values.dir ?? tmpdir());
  let selected = workloads;
  if (values.only !== undefined) {
    const names = values.only.split(",").map((n) => n.trim());
    selected = workloads.filter((w) => names.includes(w.name));
    if (selected.length !== names.length) {
      console.error(`bench: unknown workload in "${values.only}" (known: ${workloads.map((w) => w.name).join(", ")})`);
      return 2;
    }
  }

  const rows: string[] = [];
  let failed = false;
  for (const w of selected) {
    const dir = mkdtempSync(join(base, `graveyard-ts-bench-${w.name}-`));
    let row: string;
    try {
      const r = await w.run(join(dir, "store"), s);
      const rate = r.events / Math.max(r.ms / 1000, 1e-9);
      let coreRate = "n/a";
      let ratio = "n/a";
      if (core !== "none") {
        const c = coreRow(core, w.core, quick, dir);
        coreRate = grouped(c);
        ratio = (rate / c).toFixed(2);
      }
      const lat = Float64Array.from(r.lat).sort();
      row = `| ${w.name} | ${w.what(s)} | ${grouped(rate)} | ${micros(percentile(lat, 0.5))} | ${micros(percentile(lat, 0.99))} | ${coreRate} | ${ratio} |`;
      console.log(row);
    } catch (e) {
      console.error(`bench: ${w.name} FAILED:`, e instanceof BenchError ? e.message : e);
      row = `| ${w.name} | ${w.what(s)} | FAILED | | | | |`;
      failed = true;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    rows.push(row);
  }

  let overhead = "";
  if (!values["no-overhead"]) {
    try {
      const [head, concurrent, crossing] = await callOverhead(base, s);
      overhead =
        `\nOne call through the SDK (await headPosition(), embedded): ${grouped(head)} ns; ` +
        `with 1,000 calls in flight (Promise.all): ${grouped(concurrent)} ns per call; ` +
        `a synchronous crossing of N-API alone (nativeVersion()): ${grouped(crossing)} ns.\n`;
    } catch (e) {
      console.error("bench: call overhead:", e);
      failed = true;
    }
  }

  let out =
    `TypeScript SDK ${nativeVersion()}, Node.js ${process.version}, ${availableParallelism()} cores, ${quick ? "quick sizes" : "full sizes"}\n\n` +
    "| workload | what | TS SDK events/s | p50 µs | p99 µs | Rust core events/s | SDK ÷ core |\n|---|---|---:|---:|---:|---:|---:|\n";
  for (const r of rows) out += r + "\n";
  out += overhead;
  process.stdout.write("\n" + out);
  if (values.markdown !== undefined) {
    try {
      writeFileSync(values.markdown, out);
    } catch (e) {
      console.error(e);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error && e.message.startsWith("Unknown option") ? `${e.message}\n${USAGE}` : e);
    process.exit(2);
  },
);
