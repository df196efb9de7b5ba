// The language-neutral scenarios of ../conformance/*.json through the TypeScript SDK: the shared
// runner (graveyard-conformance, the one parser and matcher of every SDK) drives the executor of
// conformance/executor.ts over the protocol of conformance/README.md, twice: on embedded stores
// (Graveyard.open), then on one real node per scenario (Graveyard.connect). Each run fails with
// the runner's report of every failing step.
//
// CONFORMANCE_FILTER=<text> runs only the files whose name holds the text.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { releaseBinary, repoRoot, requireServer } from "./helpers";

/** Bounds one run: a run that hangs (a deadlock in the binding) fails instead of stalling CI. */
const TIMEOUT_MS = 10 * 60_000;

const executor = join(__dirname, "..", "conformance", "executor.js");

async function runConformance(args: string[]): Promise<void> {
  const runner = releaseBinary("graveyard-conformance");
  assert.ok(runner !== undefined, "the conformance runner is not built: cargo build --release -p graveyard-conformance");
  assert.ok(existsSync(executor), `the executor is not compiled at ${executor}`);
  const command = [process.execPath, executor, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const runnerArgs = ["--exec", command];
  const filter = process.env.CONFORMANCE_FILTER;
  if (filter) runnerArgs.push("--filter", filter);
  runnerArgs.push(join(repoRoot, "conformance"));
  const child = spawn(runner, runnerArgs, { stdio: ["ignore", "pipe", "pipe"] });
  let report = "";
  child.stdout.on("data", (b: Buffer) => (report += b.toString()));
  child.stderr.on("data", (b: Buffer) => (report += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.once("close", (c, s) => done([c, s])),
  );
  clearTimeout(timer);
  assert.ok(signal === null, `the conformance run did not finish within ${TIMEOUT_MS / 1000} s:\n${report}`);
  assert.equal(code, 0, `conformance failures through the TypeScript SDK (exit status ${code}):\n${report}`);
  // The summary says how many steps ran: a run of nothing is no pass.
  assert.match(report, /[1-9][0-9]* step\(s\) run, 0 failure\(s\)/, report);
  process.stdout.write(report.split("\n").filter((l) => l.startsWith("conformance (")).join("\n") + "\n");
}

void test("conformance scenarios on embedded stores", async () => {
  await runConformance([]);
});

void test("conformance scenarios on a real node", async () => {
  await runConformance(["--node", requireServer()]);
});
