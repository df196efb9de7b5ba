#!/usr/bin/env bash
# Puts the static C library this module links into native/<goos>_<goarch>/ (the platform
# module), from a
# cargo build of bindings/c (`cargo build --release -p graveyard-c`, or pass --build to run it).
# Debug info is stripped: it would make the library (and every Go binary) several times larger.
# A release runs this on each platform it ships and commits the libraries in the release commit
# of the platform modules (README.md, "How the native library reaches go get").
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
[[ "$target" = /* ]] || target="$repo/$target"
if [[ "${1:-}" == "--build" ]]; then
  (cd "$repo" && cargo build --release -p graveyard-c)
fi
platform="$(go env GOOS)_$(go env GOARCH)"
lib="$target/release/libgraveyard_c.a"
[[ -f "$lib" ]] || { echo "native.sh: $lib is not built: cargo build --release -p graveyard-c" >&2; exit 1; }
dest="$here/native/$platform"
mkdir -p "$dest"
if [[ ! -f "$dest/libgraveyard_c.a" || "$lib" -nt "$dest/libgraveyard_c.a" ]]; then
  objcopy --strip-debug "$lib" "$dest/libgraveyard_c.a.tmp"
  mv "$dest/libgraveyard_c.a.tmp" "$dest/libgraveyard_c.a"
fi
echo "native.sh: $dest/libgraveyard_c.a ($(du -h "$dest/libgraveyard_c.a" | cut -f1))"
