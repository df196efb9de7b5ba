#!/usr/bin/env bash
# The C ABI's test (bindings/c/tests/abi_test.c): compiled with gcc against the library the
# workspace build made, under AddressSanitizer, LeakSanitizer and UBSan, and run on embedded
# stores and, when the node binary is there, against one real node. Then compiled once more
# against the static library, to prove it links and runs.
#
# It builds nothing with cargo: build the libraries (and the node) first, as scripts/test-all.sh
# does:  cargo build --locked --workspace --release --lib --bins
# CARGO_TARGET_DIR is honoured (default: target). Idempotent: everything it makes goes to
# $target/c-abi-test, overwritten on each run. Arguments are passed to the test (names of the
# tests to run; `--list` names them).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
start=$SECONDS

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

source "$repo/scripts/target-dir.sh"
lib="$target/release"
out="$target/c-abi-test"
src="bindings/c/tests/abi_test.c"

step "libraries in $lib"
for f in libgraveyard_c.so libgraveyard_c.a; do
  if [[ ! -f "$lib/$f" ]]; then
    echo "test-c.sh: $lib/$f is missing: build it first (cargo build --locked --workspace --release --lib)" >&2
    exit 1
  fi
done
# A library older than its sources tests yesterday's code: say so (the build is someone else's).
newer=$(find bindings/c/src core/src -newer "$lib/libgraveyard_c.so" -type f | head -3)
if [[ -n "$newer" ]]; then
  echo "test-c.sh: WARNING: sources changed since $lib/libgraveyard_c.so was built, e.g.:" >&2
  echo "$newer" | sed 's/^/    /' >&2
fi
ls -l "$lib/libgraveyard_c.so" "$lib/libgraveyard_c.a"
command -v gcc >/dev/null || { echo "test-c.sh: gcc is missing (Debian: apt-get install build-essential)" >&2; exit 1; }
mkdir -p "$out"

cflags=(-std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=all
        -fno-omit-frame-pointer -I bindings/c/include)
# Every sanitizer report ends the run with a non-zero status (abort_on_error, halt_on_error,
# -fno-sanitize-recover). No LeakSanitizer suppressions: the Rust runtime's process-lifetime
# state (the tokio runtime, the handle registry) is reachable from statics, so LSan does not
# report it; a buffer or error the test forgets to free is reported (checked by hand once, by
# dropping a gy_buf_free). Handles live in that registry and would not be reported: the test
# checks them itself at the end (every handle issued must be freed).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The node for the `node` test: the one of the same build; the test prints a SKIP line without it.
if [[ -x "$lib/graveyard" ]]; then
  export GY_SERVER_BIN="$lib/graveyard"
else
  unset GY_SERVER_BIN
  echo "test-c.sh: no node binary at $lib/graveyard: the node test will be skipped"
fi

# Runs a test binary with its output also in a log, and fails on any sanitizer report in it even
# if the process somehow exited 0.
run_test() {
  local log="$1"
  shift
  printf '+ %s\n' "$*"
  local status=0
  "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log"; then
    echo "test-c.sh: a sanitizer reported a problem (see above; log in $log)" >&2
    exit 1
  fi
  if [[ $status -ne 0 ]]; then
    echo "test-c.sh: '$*' exited with status $status (log in $log)" >&2
    exit "$status"
  fi
}

step "compile against the shared library (cdylib)"
run gcc "${cflags[@]}" "$src" -o "$out/abi_test" -L "$lib" -lgraveyard_c -Wl,-rpath,"$lib"

step "run (ASan, LSan, UBSan)"
run_test "$out/abi_test.log" "$out/abi_test" "$@"

step "compile against the static library (staticlib)"
# The archive by path (with -L and -l the linker would pick the .so beside it). What the Rust
# standard library needs from the system, as rustc's --print native-static-libs lists it for
# x86_64-unknown-linux-gnu; on glibc 2.34 and later only -lm (exp, pow) is actually missing
# without them, the others being in libc, but older glibcs need them all.
run gcc "${cflags[@]}" "$src" -o "$out/abi_test_static" "$lib/libgraveyard_c.a" \
  -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
if command -v readelf >/dev/null && readelf -d "$out/abi_test_static" | grep -q 'libgraveyard_c'; then
  echo "test-c.sh: the static build still depends on libgraveyard_c.so" >&2
  exit 1
fi

step "smoke run of the static build"
# No rpath and no LD_LIBRARY_PATH: it cannot fall back to the shared library.
run_test "$out/abi_test_static.log" env -u LD_LIBRARY_PATH "$out/abi_test_static" versions store subscriptions panic

step "C ABI tests passed in $((SECONDS - start)) s"
