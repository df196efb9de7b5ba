// `npm test`: compiles the sources and tests (tsconfig.test.json) and runs them with node:test.
// Fails when no test ran, so that a broken glob never passes as a green run.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist-test");
rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.test.json")], {
  stdio: "inherit",
});
const filter = process.env.TEST_FILTER ?? "";
const files = readdirSync(join(out, "test"))
  .filter((f) => f.endsWith(".test.js") && f.includes(filter))
  .map((f) => join(out, "test", f));
if (files.length === 0) {
  console.error(`npm test: no test file matched${filter ? ` TEST_FILTER=${filter}` : ""}`);
  process.exit(1);
}
const tap = join(out, "results.tap");
const run = spawnSync(
  process.execPath,
  ["--expose-gc", "--test", "--test-reporter=spec", "--test-reporter-destination=stdout", "--test-reporter=tap", `--test-reporter-destination=${tap}`, ...files],
  { stdio: "inherit", cwd: root },
);
const summary = readFileSync(tap, "utf8");
const count = (key) => Number(summary.match(new RegExp(`^# ${key} (\\d+)$`, "m"))?.[1] ?? 0);
const tests = count("tests");
const pass = count("pass");
if (!(tests > 0)) {
  console.error("npm test: no test ran");
  process.exit(1);
}
console.log(`npm test: ${pass} of ${tests} passed`);
process.exit(run.status ?? 1);
