#!/usr/bin/env bash
# The crash soak: the kill -9 crash test of core/tests/crash.rs with many kills (default 1,000
# of a plain store and 1,000 of an encrypted one), outside CI (it takes minutes). Every kill is
# followed by a reopen that proves every acknowledged append is there exactly once and nothing
# partial is visible. The kills run in rounds of 100, each on a fresh store: the test verifies
# the whole store after every kill, so one store killed 1,000 times would spend the soak
# re-reading its own history.
#   bash scripts/soak-crash.sh [KILLS]
# A failure prints GRAVEYARD_CRASH_SEED=...; rerun one round with that variable set to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-1000}
[[ "$kills" =~ ^[1-9][0-9]*$ ]] || { echo "usage: bash scripts/soak-crash.sh [KILLS]" >&2; exit 2; }
SECONDS=0
cargo build --locked --release -p graveyard --tests -q
done_kills=0
while (( done_kills < kills )); do
  round=$(( kills - done_kills < 100 ? kills - done_kills : 100 ))
  GRAVEYARD_CRASH_ITERATIONS=$round cargo test --locked --release -q -p graveyard --test crash -- --test-threads 1 crash_recovery
  done_kills=$(( done_kills + round ))
  echo "soak-crash: $done_kills of $kills kills (plain and encrypted) passed after ${SECONDS}s"
done
echo "soak-crash: $kills kills of a plain store and $kills of an encrypted one, 0 acknowledged events lost, in ${SECONDS}s"
