"""Fixtures of the client tests: throwaway embedded stores, and real ``graveyard serve`` nodes
(one, or a 3-node cluster) killed at the end of the test. The node binary is the workspace's
release build (target/release/graveyard, or under $CARGO_TARGET_DIR)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Node, Nodes

import graveyard

# A test that skips proves nothing: a skip (the C library not built, Pydantic not installed)
# fails the run unless GRAVEYARD_ALLOW_SKIPS=1 says a partial run is what is wanted.
_skipped: list[str] = []


def _note_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    # An expected failure reports as skipped too: it ran, and is not one.
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A module skipped whole (importorskip, allow_module_level) is skipped at collection.
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and os.environ.get("GRAVEYARD_ALLOW_SKIPS") != "1" and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped and os.environ.get("GRAVEYARD_ALLOW_SKIPS") != "1":
        terminalreporter.write_line(
            f"{len(_skipped)} test(s) skipped, which fails the run (GRAVEYARD_ALLOW_SKIPS=1 allows it):",
            red=True,
        )
        for line in _skipped:
            terminalreporter.write_line(f"  {line}", red=True)


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    """Where a test's embedded store goes (created on first open)."""
    return str(tmp_path / "store")


@pytest.fixture
def store(store_path: str) -> Iterator[graveyard.Client]:
    """A fresh embedded store without fsync (tests only), closed at the end of the test."""
    client = graveyard.open(store_path, durability="none")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def nodes() -> Iterator[Nodes]:
    """Starts nodes (``nodes.start(ids)``) and connections (``nodes.connect``), all gone at the end."""
    started = Nodes()
    try:
        yield started
    finally:
        started.cleanup()


@pytest.fixture
def node(nodes: Nodes) -> Node:
    """One node, alone in its cluster ("solo")."""
    return nodes.start(["solo"])[0]


@pytest.fixture
def cluster(nodes: Nodes) -> list[Node]:
    """A cluster of three nodes: n1, n2, n3."""
    return nodes.start(["n1", "n2", "n3"])
