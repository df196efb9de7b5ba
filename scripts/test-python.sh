#!/usr/bin/env bash
# The Python SDK's checks, after the workspace build: its tools in sdk-python/.venv (pinned in
# sdk-python/requirements-dev.txt, from PyPI), ruff, the wheel built by maturin (the uniffi
# module of bindings/python and the graveyard package) and installed into that venv, mypy
# --strict on the package as installed, the tests and the benchmark, then pytest against the
# installed wheel (it fails when no test ran, or when one skipped), a smoke run of the benchmark, then
# scripts/test-python-package.sh (pip install of the wheel into an empty virtual environment, a
# program on an embedded store and a real node).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
sdk="$repo/sdk-python"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "test-python.sh: Python 3.10 or newer is needed ($python is $("$python" --version 2>&1))" >&2
  exit 1
}
venv="$sdk/.venv"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  "$python" -m venv "$venv" || {
    echo "test-python.sh: cannot create a virtual environment (Debian: apt-get install python3-venv)" >&2
    exit 1
  }
fi
# Quiet when everything is installed already (idempotent, seconds).
"$venv/bin/pip" install -q --disable-pip-version-check -r "$sdk/requirements-dev.txt"

# maturin runs the `uniffi-bindgen` on PATH (the workspace has no binary of that name, so it does
# not compile one in the dev profile): the workspace's own, uniffi's exact version, built by
# `cargo build --release --workspace --bins`.
source "$repo/scripts/target-dir.sh"
bindgen="$target/release/graveyard-uniffi-bindgen"
[[ -x "$bindgen" ]] || {
  echo "test-python.sh: $bindgen is not built: cargo build --locked --release --workspace --bins --lib" >&2
  exit 1
}
mkdir -p "$target/uniffi-bindgen-path"
ln -sf "$bindgen" "$target/uniffi-bindgen-path/uniffi-bindgen"
export PATH="$target/uniffi-bindgen-path:$PATH"

cd "$sdk"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
rm -rf dist
"$venv/bin/maturin" build --release --out dist
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps dist/*.whl
# The package as a user gets it (site-packages, with the generated module), and the tests.
"$venv/bin/mypy" --strict -p graveyard
"$venv/bin/mypy" --strict tests bench
# pytest imports graveyard from the installed wheel: tests/ has no path to python/.
"$venv/bin/pytest" -q -p no:cacheprovider tests
# A smoke run of the benchmark (smoke sizes; it fails when a store does not hold or return what
# it acknowledged); the full run is `python bench/bench.py` (sdk-python/README.md, "Benchmark").
"$venv/bin/python" bench/bench.py --quick
# The user's view: the wheel installed into a fresh virtual environment outside the repository,
# and a program run against an embedded store and a real node.
bash "$repo/scripts/test-python-package.sh" "$sdk"/dist/*.whl
