"""Fixtures of the client tests: throwaway embedded stores, and real ``graveyard serve`` nodes
(one, or a 3-node cluster) killed at the end of the test. The node binary is the workspace's
release build (target/release/graveyard, or under $CARGO_TARGET_DIR)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Node, Nodes

import graveyard


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
