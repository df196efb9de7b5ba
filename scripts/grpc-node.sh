# Sourced (not run) by the scripts that drive a real node with third-party gRPC tools
# (scripts/test-grpc-tools.sh, bench/ghz.sh). Sets `repo`, `target` and `bin` (where the tools
# are `go install`ed, pinned), a work directory removed on exit with the node, and:
#   go_tool NAME MODULE@VERSION   installs a tool into $bin unless it is there
#   start_node [FLAGS...]         starts target/release/graveyard on a free loopback port, waits
#                                 until grpc-health-probe says SERVING; sets `port`, `pid`
#   stop_node                     stops it
# The caller names itself in `who` (for messages) before sourcing.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/target-dir.sh"
bin="$target/go-tools"
mkdir -p "$bin"

go_tool() {
  [[ -x "$bin/$1" ]] || GOBIN="$bin" go install "$2"
}
go_tool grpc-health-probe github.com/grpc-ecosystem/grpc-health-probe@v0.4.63

work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_node() {
  [[ -x "$target/release/graveyard" ]] || { echo "$who: build the node first: cargo build --release -p graveyard-server" >&2; exit 1; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$target/release/graveyard" serve --listen "127.0.0.1:$port" --data "$work/data-$port" "$@" >"$work/node-$port.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$bin/grpc-health-probe" -addr "127.0.0.1:$port" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/node-$port.log" >&2
  echo "$who: the node did not become healthy" >&2
  exit 1
}

stop_node() { kill "$pid"; wait "$pid" || true; pid=""; }
