#!/usr/bin/env bash
# Builds everything and runs every test in every language. The README's test command, and
# what CI runs (.ci/run). Idempotent: installs what the project needs if it is missing.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
source scripts/target-dir.sh
export CARGO_TERM_COLOR=never

# Each step says when it starts (seconds since this script began), so a CI log shows where the
# time goes; the summary at the end lists each step's share.
started=$SECONDS
steps=()
step() {
  steps+=("$((SECONDS - started)) $*")
  printf '\n==> [%ds] %s\n' "$((SECONDS - started))" "$*"
}
summary() {
  local i end
  echo
  echo "time per step (s):"
  for i in "${!steps[@]}"; do
    end=$((SECONDS - started))
    [[ $((i + 1)) -lt ${#steps[@]} ]] && end=${steps[$((i + 1))]%% *}
    printf '  %5d  %s\n' "$((end - ${steps[$i]%% *}))" "${steps[$i]#* }"
  done
  printf '  %5d  in all\n' "$((SECONDS - started))"
}

step "toolchain"
bash scripts/ensure-tools.sh

step "format and lints (Rust), the core's import graph"
cargo fmt --all --check
python3 scripts/check-imports.py
cargo clippy --locked --workspace --all-targets --release -- -D warnings

step "tests (Rust: unit, integration, conformance, model, crash)"
cargo test --locked --workspace --release

# The binaries are built once for the whole workspace (the features the tests were built with):
# `cargo run -p <one crate>` would unify features differently and rebuild much of the tree.
cargo build --locked --workspace --release --bins -q
BIN=$target/release

step "tests (Java SDK: unit, conformance, annotations, concurrency, cluster; Maven, surefire with -Xcheck:jni)"
# The JNI library (a cdylib, which `--bins` does not build) with the same features as above, so
# nothing is rebuilt but the library itself; Maven packs it into the jar and runs the tests, the
# cluster test against "$BIN/graveyard" (CARGO_TARGET_DIR, exported absolute by target-dir.sh).
# ensure-tools.sh (the first step) installed the JDK and Maven if they were missing.
cargo build --locked --workspace --release --lib -q
(cd sdk-java && mvn -B -ntp test)

step "tests (C ABI: the C test program under AddressSanitizer and UndefinedBehaviorSanitizer)"
# The library built by the --lib build above; bindings/c/tests/generated.rs (in cargo test)
# already checked the committed header.
bash scripts/test-c.sh

step "tests (Go SDK: gofmt, vet, go test -race, benchmark smoke run, go get through a module proxy)"
bash scripts/test-go.sh

step "tests (TypeScript SDK: N-API addon and its declarations, tsc --strict, eslint, node:test, package build)"
bash scripts/test-ts.sh

step "tests (Python SDK: ruff, the wheel built by maturin over the uniffi module, mypy --strict, pytest)"
bash scripts/test-python.sh

step "the standard gRPC tools against a node (grpcurl through reflection, grpc-health-probe)"
bash scripts/test-grpc-tools.sh

step "the web console in headless Chromium (every page against a node with data; installs chromium if missing)"
bash scripts/test-console.sh

step "benchmark smoke run (tiny sizes: proves every peer and workload still runs)"
"$BIN/graveyard-bench" embedded --quick

step "server benchmark smoke run (real nodes, on their disk and on one Cassandra node, and PostgreSQL 15 on loopback, 1 s per row; installs postgresql-15 if missing)"
# Fails only if a row fails or an append fails, never on timing; PostgreSQL that cannot be
# installed or started is reported in the table as NOT RUN (so is a Cassandra that cannot start). The node binary is the one beside
# the bench binary.
"$BIN/graveyard-bench" server --quick

summary
echo
echo "all checks passed"
