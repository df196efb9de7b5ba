#!/usr/bin/env bash
# The standard gRPC tools against a real node, as an operator uses them: grpcurl lists and calls
# the API through server reflection (no .proto files), grpc-health-probe reports SERVING, and a
# node started with --reflection off is not listable. Both tools are `go install`ed (pinned) into
# the build's target directory. The drain (NOT_SERVING) is checked by
# server/tests/standard_services.rs, on a connection that stays open through it.
set -euo pipefail
who=test-grpc-tools
source "$(dirname "$0")/grpc-node.sh"
go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4

start_node
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
# Appends over one AppendSession call, each answered by its id: a new stream, and a stale
# condition answered with the status a unary Append would end with.
session="$("$bin/grpcurl" -plaintext -d "{\"id\": 7, \"append\": {\"stream\": \"order-2\", \"events\": [{\"type\": \"OrderPlaced\", \"data\": \"$data\"}]}}
{\"id\": 8, \"append\": {\"stream\": \"order-1\", \"expected\": {\"kind\": \"KIND_NO_STREAM\"}, \"events\": [{\"type\": \"OrderPlaced\", \"data\": \"$data\"}]}}" \
  "$addr" graveyard.v1.Graveyard/AppendSession)"
python3 - "$session" <<'EOF' || { echo "test-grpc-tools: unexpected AppendSession answers: $session" >&2; exit 1; }
import json, sys
decoder, text, answers = json.JSONDecoder(), sys.argv[1].strip(), {}
while text:
    answer, end = decoder.raw_decode(text)
    answers[answer["id"]] = answer
    text = text[end:].strip()
assert set(answers) == {"7", "8"}, answers
assert answers["7"]["result"].get("lastRevision", "0") == "0", answers  # JSON leaves out zeros
assert answers["8"]["error"]["code"] == 9, answers
assert any(d.get("code") == "WRONG_EXPECTED_VERSION" for d in answers["8"]["error"]["details"]), answers
EOF
# A bad request through grpcurl: a clear error, nothing written.
if out="$("$bin/grpcurl" -plaintext -d '{"stream": ""}' "$addr" graveyard.v1.Graveyard/Append 2>&1)"; then
  echo "test-grpc-tools: an append without a stream name was accepted: $out" >&2; exit 1
fi
grep -q "InvalidArgument" <<<"$out" || { echo "test-grpc-tools: unexpected error: $out" >&2; exit 1; }
stop_node

start_node --reflection off
if "$bin/grpcurl" -plaintext "127.0.0.1:$port" list >/dev/null 2>&1; then
  echo "test-grpc-tools: reflection answered with --reflection off" >&2; exit 1
fi
"$bin/grpc-health-probe" -addr "127.0.0.1:$port" >/dev/null
stop_node
echo "test-grpc-tools: passed"
