#!/usr/bin/env bash
# The main job. Until the server lands (issue: the cluster), this runs the embedded engine's
# example program against ./data (or the directory given).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p graveyard --example embedded -- "${1:-./data}"
