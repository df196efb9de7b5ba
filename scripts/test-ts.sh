#!/usr/bin/env bash
# The TypeScript SDK's checks, after the workspace build: the N-API addon built by @napi-rs/cli
# (its TypeScript declarations regenerated and compared with the committed sdk-ts/src/addon.d.ts),
# then tsc --strict, eslint (typescript-eslint, type-aware), `npm test` (node:test: unit tests,
# the conformance scenarios embedded and on a real node, sessions, a 3-node cluster) and the
# user's view (scripts/package-test.sh: `npm pack`, installed into an empty folder outside the
# repository, ES module and CommonJS programs on an embedded store and a real node), and the
# benchmark at smoke sizes.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/target-dir.sh"
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "test-ts.sh: Node.js and npm are needed (the machine's own; nothing is downloaded for them)" >&2
  exit 1
}
cd "$repo/bindings/node"
npm ci --no-audit --no-fund --loglevel=error
npm run build
if ! git -C "$repo" diff --quiet -- sdk-ts/src/addon.d.ts; then
  echo "sdk-ts/src/addon.d.ts is stale: the addon's declarations changed. Commit the regenerated file:" >&2
  git -C "$repo" diff -- sdk-ts/src/addon.d.ts >&2
  exit 1
fi
cd "$repo/sdk-ts"
npm ci --no-audit --no-fund --loglevel=error
npm run typecheck
npm run lint
npm test
npm run test:package
# The benchmark at smoke sizes: it fails only when a store is wrong, never on a timing.
npm run bench -- --quick
