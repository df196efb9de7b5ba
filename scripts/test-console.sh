#!/usr/bin/env bash
# The web console in a real browser: Debian's Chromium (installed with apt-get when missing and
# run as root) and the test's npm packages (playwright-core, pinned by its lock file), then
# server/tests/console.rs, which starts a node with data and drives every page of its console.
# Screenshots: target/console-screenshots/. Safe to run again and again.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
source scripts/target-dir.sh
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x "$chromium" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "test-console: installing Debian's chromium with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  fi
  [[ -x "$chromium" ]] || { echo "missing: Chromium at $chromium (Debian: apt-get install chromium), for the console test" >&2; exit 1; }
fi
"$chromium" --version
(cd server/console/test && npm ci --no-audit --no-fund --loglevel=error)
# The whole workspace's features, as the earlier steps built with: nothing is rebuilt but the test.
CHROMIUM="$chromium" cargo test --locked --workspace --release --test console -- --ignored
