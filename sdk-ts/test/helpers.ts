// What the tests share: throwaway stores and real `graveyard serve` nodes on loopback.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import {
  Graveyard,
  GroupDelivery,
  type ConnectOptions,
  type GroupMember,
  type OpenOptions,
  type Subscription,
  type SubscriptionMessage,
} from "../src/index";
import assert from "node:assert/strict";

/** The repository root: the parent of sdk-ts (tests run from sdk-ts/dist-test/test). */
export const repoRoot = resolve(__dirname, "..", "..", "..");

/** A directory removed when the test ends. */
export function tempDir(t: TestContext, prefix = "graveyard-ts-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh embedded store (no fsync: tests only), closed when the test ends. */
export async function openTemp(t: TestContext, options: OpenOptions = {}): Promise<Graveyard> {
  const store = await Graveyard.open(join(tempDir(t), "store"), { durability: "none", ...options });
  t.after(() => store.close());
  return store;
}

/** A binary of the workspace's release build (target/release, or $CARGO_TARGET_DIR/release), if built. */
export function releaseBinary(name: string): string | undefined {
  const target = process.env.CARGO_TARGET_DIR ? resolve(repoRoot, process.env.CARGO_TARGET_DIR) : join(repoRoot, "target");
  const bin = join(target, "release", name);
  return existsSync(bin) ? bin : undefined;
}

/** The node binary of the workspace build. */
export function serverBinary(): string | undefined {
  return releaseBinary("graveyard");
}

/** The node binary; a clear failure when it is not built (the README's test command builds it). */
export function requireServer(): string {
  const bin = serverBinary();
  if (bin === undefined) {
    throw new Error("the node binary is not built: cargo build --release --workspace --bins (tests of real nodes need it)");
  }
  return bin;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** One `graveyard serve` process on a loopback port. */
export class Node {
  process: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly port: number,
    readonly dir: string,
    readonly bin: string,
    readonly args: string[],
    readonly token: string | undefined,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  log(): string {
    try {
      const text = readFileSync(join(this.dir, "node.log"), "utf8");
      return text.length > 4000 ? `...${text.slice(-4000)}` : text;
    } catch {
      return "";
    }
  }

  start(): void {
    const log = openSync(join(this.dir, "node.log"), "a");
    const env: NodeJS.ProcessEnv = {};
    // The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GRAVEYARD_")) env[k] = v;
    env.GRAVEYARD_LOG = "info";
    const child = spawn(
      this.bin,
      ["serve", "--listen", `127.0.0.1:${this.port}`, "--data", join(this.dir, "data"), ...this.args],
      { env, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    this.process = child;
    this.exited = new Promise((done) => child.once("exit", () => done()));
  }

  /** SIGTERM (a clean shutdown), SIGKILL when it has not exited after `graceMs`; waits for it to go. */
  async stop(graceMs = 30_000): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)));
    const killed = await Promise.race([this.exited.then(() => false), late]);
    clearTimeout(timer);
    if (killed) {
      child.kill("SIGKILL");
      await this.exited;
      throw new Error(`node ${this.id} did not stop within ${graceMs} ms of SIGTERM`);
    }
  }

  /** SIGKILL, and waits for the process to go. */
  async kill(): Promise<void> {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }

  /** Waits until the node answers a connection to it alone. */
  async waitReady(): Promise<void> {
    const deadline = Date.now() + 60_000;
    let last: unknown;
    let gone = false;
    void this.exited.then(() => (gone = true));
    while (Date.now() < deadline) {
      if (gone) throw new Error(`node ${this.id} exited: ${this.log()}`);
      try {
        const c = await Graveyard.connect([this.url], { retries: 0, connectTimeoutMs: 1000, token: this.token });
        await c.close();
        return;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`node ${this.id} did not answer within 60 s (${String(last)}): ${this.log()}`);
  }
}

export interface NodeOptions {
  token?: string;
  masterKey?: Uint8Array;
}

/**
 * Starts a cluster of the given member ids (one id: a single node) on free loopback ports and
 * waits until each answers; the nodes are killed when the test ends.
 */
export async function startNodes(t: TestContext, ids: string[], options: NodeOptions = {}): Promise<Node[]> {
  const bin = requireServer();
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const ports = new Set<number>();
    const nodes: Node[] = [];
    for (const id of ids) {
      let port = await freePort();
      while (ports.has(port)) port = await freePort();
      ports.add(port);
      nodes.push(new Node(id, port, tempDir(t, `graveyard-node-${id}-`), bin, [], options.token));
    }
    const members = nodes.map((n) => `${n.id}=127.0.0.1:${n.port}`).join(",");
    for (const n of nodes) {
      n.args.push("--node-id", n.id);
      if (ids.length > 1) n.args.push("--members", members);
      if (options.token !== undefined) {
        const file = join(n.dir, "token");
        writeFileSync(file, options.token, { mode: 0o600 });
        n.args.push("--token-file", file);
      }
      if (options.masterKey !== undefined) {
        const file = join(n.dir, "master.key");
        // The node reads the key as 64 hex digits.
        writeFileSync(file, Buffer.from(options.masterKey).toString("hex"), { mode: 0o600 });
        n.args.push("--master-key-file", file);
      }
      n.start();
      t.after(() => n.kill());
    }
    last = undefined;
    for (const n of nodes) {
      try {
        await n.waitReady();
      } catch (e) {
        last = e;
        break;
      }
    }
    if (last === undefined) return nodes;
    await Promise.all(nodes.map((n) => n.kill()));
    if (!(last instanceof Error && last.message.includes("cannot listen"))) break;
  }
  throw last instanceof Error ? last : new Error(String(last));
}

/** A connection to the nodes, closed when the test ends; few retries, so a node down is quick. */
export async function connectTo(t: TestContext, nodes: Node[], options: ConnectOptions = {}): Promise<Graveyard> {
  const c = await Graveyard.connect(
    nodes.map((n) => n.url),
    { retries: 1, retryBackoffMs: 10, ...options },
  );
  t.after(() => c.close());
  return c;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The subscription's next message, failing the test after `ms` rather than hanging it. */
export async function nextOf(sub: Subscription, ms = 20_000): Promise<SubscriptionMessage> {
  const m = await sub.poll(ms);
  assert.ok(typeof m === "object", `no message within ${ms} ms: ${m as string}`);
  return m;
}

/** The stream, revision and type of the subscription's next message, which must be an event. */
export async function eventOf(sub: Subscription): Promise<[string, bigint, string]> {
  const m = await nextOf(sub);
  assert.equal(m.kind, "event", `expected an event, got ${m.kind}`);
  return m.kind === "event" ? [m.event.stream, m.event.revision, m.event.type] : ["", -1n, ""];
}

/** The member's next delivery, failing the test after `ms`. */
export async function deliveryOf(member: GroupMember, ms = 20_000): Promise<GroupDelivery> {
  const d = await member.poll(ms);
  assert.ok(d instanceof GroupDelivery, `no delivery within ${ms} ms: ${d as string}`);
  return d;
}
