#!/usr/bin/env bash
# A third-party load tool against one node: ghz (https://ghz.sh), `go install`ed (pinned) into the
# build's target directory, drives 64 concurrent callers over 64 connections at a fresh node on
# loopback (durable, the defaults), through server reflection (no .proto files):
#   1. unary Append: one event per call, each call a new stream with expected version NoStream
#      (so every call is a version-checked append that succeeds);
#   2. AppendSession: each call a session of 100 appends of one event (ids 0-99, each a new
#      stream with NoStream), sent as fast as ghz sends them; ghz counts calls, so appends/s is
#      its rate times 100, and its latency is that of a whole session.
# Then checks that the node holds every append ghz saw acknowledged.
#
#   bash bench/ghz.sh [SECONDS] [MARKDOWN-FILE]     (default 10 s per run; needs target/release/graveyard)
set -euo pipefail
seconds="${1:-10}"
markdown="${2:-}"
who=ghz.sh
source "$(dirname "$0")/../scripts/grpc-node.sh"
go_tool ghz github.com/bojand/ghz/cmd/ghz@v0.121.0
start_node
addr="127.0.0.1:$port"

# graveyard-bench's 107-byte JSON event (bench/src/workload.rs, `payload(0)`), base64 for the
# JSON form of the request; ghz sends the same bytes with every append.
data="$(printf '{"order_id":"ord-000000000000","customer":"cust-000000","amount_cents":10000000,"currency":"EUR","items":1}' | base64 -w0)"
event="{\"type\":\"Bench\",\"data\":\"$data\"}"

run() {
  "$bin/ghz" --insecure -c 64 --connections 64 -z "${seconds}s" --count-errors -O json "$@" "$addr" >"$work/out.json" || true
  python3 - "$work/out.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
lat = {d["percentage"]: d["latency"] / 1000 for d in r.get("latencyDistribution") or []}
print(json.dumps({"rps": r["rps"], "ok": codes.get("OK", 0), "errors": {k: v for k, v in codes.items() if k != "OK"},
                  "p50_us": lat.get(50, 0), "p99_us": lat.get(99, 0)}))
EOF
}

echo "ghz.sh: unary Append, 64 callers, ${seconds} s ..." >&2
unary="$(run --call graveyard.v1.Graveyard.Append \
  -d "{\"stream\":\"ghz-unary-{{.RequestNumber}}\",\"expected\":{\"kind\":\"KIND_NO_STREAM\"},\"events\":[$event]}")"

messages="$(python3 -c "
import sys
event = sys.argv[1]
print('[' + ','.join('{\"id\":%d,\"append\":{\"stream\":\"ghz-session-{{.RequestNumber}}-%d\",\"expected\":{\"kind\":\"KIND_NO_STREAM\"},\"events\":[%s]}}' % (i, i, event) for i in range(100)) + ']')
" "$event")"
echo "ghz.sh: AppendSession of 100 appends per call, 64 callers, ${seconds} s ..." >&2
session="$(run --call graveyard.v1.Graveyard.AppendSession -d "$messages")"

report="$(python3 - "$unary" "$session" "$seconds" <<'EOF'
import json, sys
unary, session, seconds = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
rows = [
    ("unary Append (1 event per call)", unary["rps"], unary["p50_us"], unary["p99_us"], unary["errors"], "per append"),
    ("AppendSession (100 appends of 1 event per call)", session["rps"] * 100, session["p50_us"], session["p99_us"], session["errors"], "per session of 100"),
]
print(f"ghz v0.121.0, 64 concurrent callers over 64 connections, {seconds} s per run, one node on loopback (durable, defaults)\n")
print("| call | appends/s | p50 µs | p99 µs | latency of | errors |")
print("|---|---:|---:|---:|---|---|")
for name, rate, p50, p99, errors, of in rows:
    print(f"| {name} | {rate:,.0f} | {p50:,.0f} | {p99:,.0f} | {of} | {errors or 'none'} |")
print()
print("Errors: calls ghz cancelled in flight when its time ran out (\"transport is closing\") are counted by ghz, not by the node.")
EOF
)"
echo "$report"
[[ -n "$markdown" ]] && { printf '## ghz against one node\n\n%s\n' "$report" >"$markdown"; echo "ghz.sh: wrote $markdown" >&2; }

# Every append ghz saw acknowledged is stored. ghz also counts as errors the calls it cancelled
# itself when its time ran out, which may have committed: the node may hold more, never fewer.
stats="$("$target/release/graveyard" stats --json --endpoints "$addr")"
python3 - "$unary" "$session" "$stats" <<'EOF'
import json, sys
acknowledged = json.loads(sys.argv[1])["ok"] + 100 * json.loads(sys.argv[2])["ok"]
stats = json.loads(sys.argv[3])
stored = sum(n.get("head_position", 0) for n in stats.get("nodes", [])) if stats.get("nodes") else None
print(f"ghz.sh: {acknowledged:,} appends acknowledged to ghz, {stored} events stored", file=sys.stderr)
if not isinstance(stored, int) or stored < acknowledged:
    sys.exit(f"ghz.sh: the node holds fewer events than were acknowledged: {stats}")
EOF
