#!/usr/bin/env bash
# The Python package as a user installs it: the wheel pip-installed into a fresh virtual
# environment outside the repository (with Pydantic from PyPI, through the wheel's "pydantic"
# extra), then a user's program (sdk-python/tests/userapp/app.py, copied out of the repository)
# run against an embedded store and against a real node this script starts on a free loopback
# port: entities from a dataclass and a Pydantic model, schemas, appends, reads, typed errors,
# subscriptions, with the blocking and the asyncio client.
#
#   bash scripts/test-python-package.sh [WHEEL]
#
# WHEEL defaults to the one wheel in sdk-python/dist (scripts/test-python.sh builds it). The
# node is the workspace's release build (target/release/graveyard, or under $CARGO_TARGET_DIR).
# Idempotent: everything goes into a new temporary directory, removed at exit with the node.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"

fail() {
  echo "test-python-package.sh: $*" >&2
  exit 1
}

# ---- what to test ---------------------------------------------------------------------------

if [[ $# -ge 1 ]]; then
  wheel="$1"
else
  shopt -s nullglob
  wheels=("$repo"/sdk-python/dist/graveyard_db-*.whl)
  shopt -u nullglob
  [[ ${#wheels[@]} -eq 1 ]] ||
    fail "expected one wheel in sdk-python/dist, found ${#wheels[@]} (build it: bash scripts/test-python.sh, or pass its path)"
  wheel="${wheels[0]}"
fi
[[ -f "$wheel" ]] || fail "no wheel at $wheel"
wheel="$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")"

source "$repo/scripts/target-dir.sh"
server="$target/release/graveyard"
[[ -x "$server" ]] || fail "the node binary is not built at $server: cargo build --release --workspace --bins"

"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
  fail "Python 3.10 or newer is needed ($python is $("$python" --version 2>&1))"

# ---- a place outside the repository, and its cleanup --------------------------------------------

work="$(mktemp -d "${TMPDIR:-/tmp}/graveyard-py-package.XXXXXX")"
case "$work/" in
  "$repo"/*) rm -rf "$work"; fail "the temporary directory $work is inside the repository: set TMPDIR elsewhere" ;;
esac
node_pid=""

cleanup() {
  # The node this script started, by its pid only; then everything it made.
  if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- install, as a user would -------------------------------------------------------------------

echo "test-python-package.sh: installing $(basename "$wheel") into a fresh venv in $work"
"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
# The wheel and its "pydantic" extra (Pydantic v2 from PyPI): what `pip install graveyard-db[pydantic]` gives.
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel[pydantic]"

# The user's program runs from a directory of its own: nothing of the repository is on its path.
mkdir "$work/app"
cp "$repo/sdk-python/tests/userapp/app.py" "$work/app/app.py"
cd "$work/app"
installed="$("$venv_python" -c 'import graveyard; print(graveyard.__file__)')"
case "$installed" in
  "$work/venv/"*) ;;
  *) fail "graveyard was imported from $installed, not from the fresh venv" ;;
esac
# Typed, as the package says (py.typed ships in the wheel).
"$venv_python" -c 'import importlib.resources as r; assert r.files("graveyard").joinpath("py.typed").is_file()'

# ---- a node on a free loopback port ---------------------------------------------------------------

free_port() {
  "$venv_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Answers once the node takes a connection (the installed SDK connecting to it).
node_answers() {
  "$venv_python" - "$1" <<'EOF' >/dev/null 2>&1
import sys

import graveyard

graveyard.connect(sys.argv[1], retries=0, connect_timeout=1.0).close()
EOF
}

url=""
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  log="$work/node-$attempt.log"
  # Only the flags configure the node: no GRAVEYARD_* variable of the caller's leaks in. The
  # subshell execs the node, so $! is the node's own pid.
  (
    while read -r name; do unset "$name"; done < <(compgen -e | grep '^GRAVEYARD_' || true)
    exec "$server" serve --listen "127.0.0.1:$port" --data "$work/node-data-$attempt" --node-id solo
  ) </dev/null >"$log" 2>&1 &
  node_pid=$!
  deadline=$((SECONDS + 60))
  while kill -0 "$node_pid" 2>/dev/null && ((SECONDS < deadline)); do
    if node_answers "http://127.0.0.1:$port"; then
      url="http://127.0.0.1:$port"
      break
    fi
    sleep 0.05
  done
  [[ -n "$url" ]] && break
  kill -KILL "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
  # Another process took the port between free_port and the node's bind: another port.
  grep -q "cannot listen" "$log" || { cat "$log" >&2; fail "the node did not start"; }
done
[[ -n "$url" ]] || fail "no free port the node could listen on"

# ---- the user's program ---------------------------------------------------------------------------

echo "test-python-package.sh: running the user program (embedded, and the node at $url)"
"$venv_python" app.py "$url"
echo "test-python-package.sh: ok"
