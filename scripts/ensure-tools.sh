#!/usr/bin/env bash
# Checks (and where it can, installs) what the build needs. Safe to run again and again.
set -euo pipefail
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing: $1 ($2)" >&2; exit 1; }; }
need cargo "Rust via rustup: https://rustup.rs"
need cc "a C compiler, for LMDB and SQLite (Debian: apt-get install build-essential)"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
cargo --version
