"""The language-neutral scenarios of ../conformance/*.json through the Python SDK: the shared
runner (graveyard-conformance, the one parser and matcher of every SDK) drives the executor of
conformance_executor.py over the protocol of conformance/README.md, once per form: the blocking
Client and the AsyncClient, each on embedded stores (graveyard.open) and on one real node per
scenario (graveyard.connect). Each run fails with the runner's report of every failing step.

CONFORMANCE_FILTER=<text> runs only the files whose name holds the text.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import release_binary

REPO = Path(__file__).resolve().parents[2]
"""The repository root (sdk-python/tests/../..)."""

EXECUTOR = Path(__file__).resolve().parent / "conformance_executor.py"

TIMEOUT = 10 * 60.0
"""Bounds one run, in seconds: a run that hangs (a deadlock in the binding) fails instead of stalling CI."""


def run_conformance(args: list[str]) -> None:
    runner = release_binary("graveyard-conformance")
    if runner is None:
        pytest.fail("the conformance runner is not built: cargo build --release -p graveyard-conformance")
    command = shlex.join([sys.executable, str(EXECUTOR), *args])
    runner_args = [str(runner), "--exec", command]
    conformance_filter = os.environ.get("CONFORMANCE_FILTER")
    if conformance_filter:
        runner_args += ["--filter", conformance_filter]
    runner_args.append(str(REPO / "conformance"))
    started = time.monotonic()
    # A session of its own: on a timeout, the runner, its executor and the executor's node go
    # together.
    child = subprocess.Popen(
        runner_args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = child.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        report = out.decode(errors="replace")
        pytest.fail(f"the conformance run did not finish within {TIMEOUT:.0f} s:\n{report}")
    report = out.decode(errors="replace")
    assert child.returncode == 0, (
        f"conformance failures through the Python SDK (exit status {child.returncode}):\n{report}"
    )
    # The summary says how many steps ran: a run of nothing is no pass.
    assert re.search(r"\b[1-9][0-9]* step\(s\) run, 0 failure\(s\)", report), report
    summary = [line for line in report.splitlines() if line.startswith("conformance (")]
    print("\n".join(summary), f"({time.monotonic() - started:.1f} s)")


def server() -> str:
    """The node binary; a failure (never a skip) when it is not built."""
    binary = release_binary("graveyard")
    if binary is None:
        pytest.fail(
            "the node binary is not built: cargo build --release --workspace --bins (tests of real nodes need it)"
        )
    return str(binary)


def test_embedded() -> None:
    run_conformance([])


def test_embedded_async() -> None:
    run_conformance(["--async"])


def test_node() -> None:
    run_conformance(["--node", server()])


def test_node_async() -> None:
    run_conformance(["--async", "--node", server()])
