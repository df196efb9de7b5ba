#!/usr/bin/env bash
# The standard gRPC tools against a real node, as an operator uses them: grpcurl lists and calls
# the API through server reflection (no .proto files), grpc-health-probe reports SERVING, and a
# node started with --reflection off is not listable. Both tools are `go install`ed (pinned) into
# the build's target directory. The drain (NOT_SERVING) is checked by
# server/tests/standard_services.rs, on a connection that stays open through it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
[[ "$target" = /* ]] || target="$repo/$target"
bin="$target/go-tools"
mkdir -p "$bin"
[[ -x "$bin/grpcurl" ]] || GOBIN="$bin" go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
[[ -x "$bin/grpc-health-probe" ]] || GOBIN="$bin" go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.63

work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$target/release/graveyard" serve --listen "127.0.0.1:$port" --data "$work/data-$port" "$@" >"$work/node-$port.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$bin/grpc-health-probe" -addr "127.0.0.1:$port" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/node-$port.log" >&2
  echo "test-grpc-tools: the node did not become healthy" >&2
  exit 1
}
stop() { kill "$pid"; wait "$pid" || true; pid=""; }

start
addr="127.0.0.1:$port"
echo "test-grpc-tools: grpc-health-probe: $("$bin/grpc-health-probe" -addr "$addr" 2>&1)"
"$bin/grpc-health-probe" -addr "$addr" -service graveyard.v1.Graveyard >/dev/null
services="$("$bin/grpcurl" -plaintext "$addr" list)"
for service in graveyard.v1.Graveyard grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
  grep -qx "$service" <<<"$services" || { echo "test-grpc-tools: grpcurl list lacks $service: $services" >&2; exit 1; }
done
data="$(printf '{"qty": 2}' | base64)"
"$bin/grpcurl" -plaintext -d "{\"stream\": \"order-1\", \"events\": [{\"type\": \"OrderPlaced\", \"data\": \"$data\"}]}" \
  "$addr" graveyard.v1.Graveyard/Append >/dev/null
read="$("$bin/grpcurl" -plaintext -d '{"stream": "order-1"}' "$addr" graveyard.v1.Graveyard/ReadStream)"
grep -q '"type": "OrderPlaced"' <<<"$read" || { echo "test-grpc-tools: ReadStream did not return the event: $read" >&2; exit 1; }
# A bad request through grpcurl: a clear error, nothing written.
if out="$("$bin/grpcurl" -plaintext -d '{"stream": ""}' "$addr" graveyard.v1.Graveyard/Append 2>&1)"; then
  echo "test-grpc-tools: an append without a stream name was accepted: $out" >&2; exit 1
fi
grep -q "InvalidArgument" <<<"$out" || { echo "test-grpc-tools: unexpected error: $out" >&2; exit 1; }
stop

start --reflection off
if "$bin/grpcurl" -plaintext "127.0.0.1:$port" list >/dev/null 2>&1; then
  echo "test-grpc-tools: reflection answered with --reflection off" >&2; exit 1
fi
"$bin/grpc-health-probe" -addr "127.0.0.1:$port" >/dev/null
stop
echo "test-grpc-tools: passed"
