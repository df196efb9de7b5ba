#!/usr/bin/env bash
# Proves @graveyard-db/client as a user gets it: the tarball `npm pack` makes (its prepack builds
# dist and strips the addon's debug info), its contents checked, installed with `npm install`
# into an empty folder outside the repository (a real install from the file: no workspace, no
# links), its declarations type-checked by a .mts and a .cts consumer under module node16, and
# an ES module and a CommonJS program run on an embedded store and against a real node.
# Everything it makes is in one temporary folder, removed on exit with the node it started.
set -euo pipefail
sdk="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$sdk/.." && pwd)"
source "$repo/scripts/target-dir.sh"
server="$target/release/graveyard"
userapp="$sdk/scripts/testdata/userapp"
began=$SECONDS

# The programs must load the addon shipped in the tarball (GRAVEYARD_NODE_ADDON would load
# another), and the node's flags are its whole configuration: no GRAVEYARD_* of the caller's.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^GRAVEYARD_' || true)

if [[ ! -x "$server" ]]; then
  echo "package-test: $server is not built (cargo build --release --workspace --bins --lib)" >&2
  exit 1
fi

work="$(mktemp -d)"
node_pid=""
cleanup() {
  if [[ -n "$node_pid" ]]; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Inside the repository, node's module resolution could find the SDK's own folders and prove
# nothing about the tarball.
case "$work/" in
  "$repo/"*) echo "package-test: the temporary folder $work is inside the repository (TMPDIR?)" >&2; exit 1 ;;
esac

# ---- the tarball ----------------------------------------------------------------------------
# npm caches every tarball it packs or installs from a file: a cache of the run's own keeps the
# user's npm cache free of a copy of each build.
cache="$work/npm-cache"
echo "package-test: npm pack (prepack: build dist, strip the addon)"
(cd "$sdk" && npm pack --pack-destination "$work" --cache "$cache" --loglevel=error)
tarballs=("$work"/graveyard-db-client-*.tgz)
tarball="${tarballs[0]}"
echo "package-test: $(basename "$tarball"): $(du -h "$tarball" | cut -f1)"

mkdir "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
# What the package is: the build for both module systems, its declarations and source maps, the
# addon, the README and package.json. Anything else (tests, sources, node_modules, the test
# build, a stray file of the folder) is a packing mistake.
node - "$work/unpacked/package" <<'JS'
const { readdirSync, readFileSync, statSync } = require("node:fs");
const { join, relative } = require("node:path");
const root = process.argv[2];
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else files.push(relative(root, p));
  }
};
walk(root);
const problems = [];
const allowed = [
  /^package\.json$/,
  /^README\.md$/,
  /^dist\/cjs\/package\.json$/,
  /^dist\/cjs\/[a-z]+\.(js|js\.map|d\.ts)$/,
  /^dist\/esm\/index\.(mjs|d\.mts)$/,
  /^native\/graveyard\.[a-z0-9]+-[a-z0-9]+(-[a-z]+)?\.node$/,
];
for (const f of files) if (!allowed.some((re) => re.test(f))) problems.push(`unexpected file ${f}`);
for (const f of ["dist/cjs/index.js", "dist/cjs/index.d.ts", "dist/cjs/package.json", "dist/esm/index.mjs", "dist/esm/index.d.mts"]) {
  if (!files.includes(f)) problems.push(`missing ${f}`);
}
if (!files.some((f) => f.startsWith("native/"))) problems.push("no addon in native/");
// Every module has its declarations and a source map that carries its sources: the package
// has no src/ for a map to point into.
for (const f of files.filter((f) => /^dist\/cjs\/[a-z]+\.js$/.test(f))) {
  const base = f.slice(0, -3);
  if (!files.includes(`${base}.d.ts`)) problems.push(`${f} has no ${base}.d.ts`);
  if (!files.includes(`${f}.map`)) {
    problems.push(`${f} has no source map`);
    continue;
  }
  const map = JSON.parse(readFileSync(join(root, `${f}.map`), "utf8"));
  if (!Array.isArray(map.sourcesContent) || map.sourcesContent.length !== map.sources.length || map.sourcesContent.some((s) => typeof s !== "string")) {
    problems.push(`${f}.map names sources it does not carry: ${map.sources.join(", ")}`);
  }
}
// A user's install pulls in nothing but this package.
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
for (const key of ["dependencies", "peerDependencies", "optionalDependencies", "bundleDependencies", "bundledDependencies"]) {
  if (pkg[key] !== undefined && Object.keys(pkg[key]).length > 0) problems.push(`package.json has ${key}: ${JSON.stringify(pkg[key])}`);
}
for (const hook of ["preinstall", "install", "postinstall", "prepare"]) {
  if (pkg.scripts?.[hook] !== undefined) problems.push(`package.json runs a script at install: ${hook}`);
}
const addons = [];
for (const f of files.filter((f) => f.startsWith("native/"))) {
  const mb = statSync(join(root, f)).size / 1e6;
  addons.push(`${f} ${mb.toFixed(1)} MB`);
  // The release build's line tables alone are ~50 MB; stripped, the addon is ~12 MB.
  if (mb > 25) problems.push(`${f} is ${mb.toFixed(1)} MB: its debug info was not stripped`);
}
if (problems.length > 0) {
  console.error(`package-test: the tarball is wrong:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`package-test: ${files.length} files, as expected (${addons.join(", ")})`);
JS
# The size bound above is a backstop; the section table says it for sure (readelf comes with
# the binutils whose strip the prepack needs).
if command -v readelf >/dev/null && readelf -S --wide "$work"/unpacked/package/native/*.node | grep -q '\.debug_'; then
  echo "package-test: the shipped addon still has .debug_* sections" >&2
  exit 1
fi

# ---- an empty folder outside the repository -------------------------------------------------
app="$work/app"
mkdir "$app"
cp "$userapp"/esm.mjs "$userapp"/cjs.cjs "$userapp"/consumer.mts "$userapp"/consumer.cts "$app/"
cd "$app"
npm init -y >/dev/null
# TypeScript and Node's types at the versions the SDK builds with: a TypeScript user has both.
pin() { node -p "require('$sdk/package.json').devDependencies['$1']"; }
echo "package-test: npm install typescript@$(pin typescript) @types/node@$(pin @types/node), then the tarball, in $app"
npm install --no-audit --no-fund --loglevel=error "typescript@$(pin typescript)" "@types/node@$(pin @types/node)"
npm install --no-audit --no-fund --loglevel=error --cache "$cache" "$tarball"
installed="$app/node_modules/@graveyard-db/client"
if [[ -L "$installed" || ! -f "$installed/package.json" ]]; then
  echo "package-test: $installed is not a real install of the tarball (a link, or missing)" >&2
  exit 1
fi

echo "package-test: tsc --strict, module node16: consumer.mts (ES module) and consumer.cts (CommonJS)"
# Emitted only when both check cleanly, so the runs below are of type-checked programs.
node node_modules/typescript/bin/tsc --strict --module node16 --target es2022 --noEmitOnError \
  --outDir build consumer.mts consumer.cts

# ---- a real node ----------------------------------------------------------------------------
# A free loopback port can be taken between the pick and the bind: then another port.
for attempt in 1 2 3 4 5; do
  port="$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  "$server" serve --listen "127.0.0.1:$port" --data "$work/node-data" >"$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$node_pid" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  kill "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
  if [[ $attempt -eq 5 ]] || ! grep -q "cannot listen" "$work/node.log"; then
    echo "package-test: the node did not start:" >&2
    cat "$work/node.log" >&2
    exit 1
  fi
done
url="http://127.0.0.1:$port"

# ---- the programs ---------------------------------------------------------------------------
echo "package-test: esm.mjs (import) on an embedded store and against the node at $url"
node esm.mjs "$work/esm-store" "$url"
echo "package-test: cjs.cjs (require) on an embedded store and against the node at $url"
node cjs.cjs "$work/cjs-store" "$url"
echo "package-test: the compiled consumers on embedded stores"
node build/consumer.mjs "$work/mts-store"
node build/consumer.cjs "$work/cts-store"

echo "package-test: passed in $((SECONDS - began)) s"
