#!/usr/bin/env bash
# The main job: a GraveyardDB node on embedded storage (./data), serving gRPC clients on
# 127.0.0.1:50051. Any `graveyard serve` flag may follow (see server/README.md), e.g.
#   scripts/run.sh --listen 127.0.0.1:50052 --data ./data-2
# Relative paths (--data, --token-file, --tls-cert, ...) are the caller's: the node runs in the
# directory this script was called from. A node needs only Rust and a C compiler (LMDB is built
# from source); the build shows its progress and is reused when it is up to date.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
for tool in cargo cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run.sh: '$tool' is missing: install Rust (https://rustup.rs) and a C compiler (Debian: apt-get install build-essential)" >&2
    exit 1
  fi
done
# The node binary, built with the features the whole workspace resolves (--workspace, but only
# this binary is compiled): the same artifacts scripts/test-all.sh builds, so neither command
# rebuilds the core after the other (`-p graveyard-server` alone would resolve other features
# and compile the tree a second time). cargo says what it compiles, nothing when up to date.
source "$repo/scripts/target-dir.sh"
cargo build --locked --release --manifest-path "$repo/Cargo.toml" --workspace --bin graveyard >&2
exec "$target/release/graveyard" serve "$@"
