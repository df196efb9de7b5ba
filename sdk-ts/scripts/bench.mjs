// `npm run bench -- [--quick] [--only W,W] [--core PATH|none] [--markdown FILE] [--dir DIR]`:
// compiles the benchmark with the SDK's sources (tsconfig.bench.json, into dist-bench) and runs
// it, passing the arguments through; its exit status is the benchmark's (1: a wrong result).
// To profile: `node --cpu-prof dist-bench/bench/bench.js --only scan-all --core none` after one run.
import { execFileSync, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist-bench");
rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.bench.json")], {
  stdio: "inherit",
});
const run = spawnSync(process.execPath, [join(out, "bench", "bench.js"), ...process.argv.slice(2)], { stdio: "inherit", cwd: root });
if (run.error) {
  console.error(run.error);
}
process.exit(run.status ?? 1);
