// `prepack` (npm pack, npm publish): builds dist (scripts/build.mjs) so that a tarball never
// ships a stale build, and strips the debug info of the addon in native/ so that it never ships
// the ~60 MB of line tables of the workspace's release profile (debug = "line-tables-only").
//
// The addon is stripped where it is, on purpose: native/ is what the package ships (the loader,
// src/native.ts, reads it there), and a staged copy would leave a plain `npm pack` or
// `npm publish` of this folder shipping the unstripped file. Nothing is lost to development:
// `--strip-debug` keeps the symbol table (backtraces and profilers still name functions), and
// the unstripped library stays in the cargo target folder, where `npm run build` of
// bindings/node copies it from again.
import { execFileSync } from "node:child_process";
import { readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit" });

const native = join(root, "native");
const addons = readdirSync(native).filter((f) => f.endsWith(".node"));
if (addons.length === 0) {
  // The package would install and then fail on its first import: refuse to pack it.
  console.error("prepack: no addon in native/: build it first (cd bindings/node && npm ci && npm run build)");
  process.exit(1);
}
// GNU strip (Linux) and Apple's strip name the same thing differently; Windows keeps its debug
// info in a separate .pdb, so its .node has nothing to strip.
const stripArgs = { linux: ["--strip-debug"], darwin: ["-S"] }[process.platform];
for (const name of addons) {
  const file = join(native, name);
  const before = statSync(file).size;
  if (stripArgs !== undefined) {
    // Written beside and renamed over: a process that has the addon loaded (a test run, the
    // bench) keeps its mapping of the old file instead of seeing it rewritten under it.
    const tmp = join(native, `.${name}.${process.pid}.tmp`);
    try {
      execFileSync("strip", [...stripArgs, "-o", tmp, file], { stdio: "inherit" });
      renameSync(tmp, file);
    } catch (e) {
      rmSync(tmp, { force: true });
      console.error(`prepack: could not strip ${file} (is binutils' strip on the PATH?)`);
      throw e;
    }
  }
  const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
  console.log(`prepack: native/${name}: ${mb(before)} -> ${mb(statSync(file).size)}`);
}
