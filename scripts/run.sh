#!/usr/bin/env bash
# The main job: a GraveyardDB node on embedded storage (./data), serving gRPC clients on
# 127.0.0.1:50051. Any `graveyard serve` flag may follow (see server/README.md), e.g.
#   scripts/run.sh --listen 127.0.0.1:50052 --data ./data-2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-tools.sh >/dev/null
exec cargo run --locked --release -q -p graveyard-server --bin graveyard -- serve "$@"
