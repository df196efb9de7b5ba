#!/usr/bin/env bash
# The crash soak: the kill -9 crash test of core/tests/crash.rs with many kills (default 1,000,
# plain and encrypted stores), outside CI (it takes minutes). Every kill is followed by a reopen
# that proves every acknowledged append is there exactly once and nothing partial is visible.
#   bash scripts/soak-crash.sh [KILLS]
# A failure prints GRAVEYARD_CRASH_SEED=...; rerun with that variable set to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-1000}
[[ "$kills" =~ ^[1-9][0-9]*$ ]] || { echo "usage: bash scripts/soak-crash.sh [KILLS]" >&2; exit 2; }
export GRAVEYARD_CRASH_ITERATIONS=$kills
SECONDS=0
cargo test --locked --release -p graveyard --test crash -- --test-threads 1 --nocapture crash_recovery
echo "soak-crash: $kills kills of a plain store and $kills of an encrypted one passed in ${SECONDS}s"
