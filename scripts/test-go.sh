#!/usr/bin/env bash
# The Go SDK's checks, after the workspace build (scripts/test-all.sh builds the static library
# of bindings/c): gofmt, go vet, go test -race (unit, conformance, struct tags, sessions,
# cancellation, a real node and a 3-node cluster), the benchmark at smoke sizes (it fails only
# on a wrong result, never on timing), and the user test (go get through a module proxy).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
source "$repo/scripts/target-dir.sh"
cd "$repo/sdk-go"
bash scripts/native.sh
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
  echo "gofmt: these files need formatting:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 ./...
go run ./internal/bench --quick
bash scripts/user-test.sh
