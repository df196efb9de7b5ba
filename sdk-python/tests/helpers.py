"""What the client tests share: real ``graveyard serve`` nodes on loopback ports, waits that fail
a test rather than hang it, and a counter thread that measures how much another Python thread
ran while one was inside a native call (the GIL released, or not)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

import graveyard
from graveyard import (
    CAUGHT_UP,
    AsyncGroupMember,
    AsyncSubscription,
    Client,
    EventData,
    GroupDelivery,
    GroupMember,
    Poll,
    RecordedEvent,
    Subscription,
    SubscriptionMessage,
)

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
"""The repository root (sdk-python/tests/../..)."""

WAIT = 20.0
"""Seconds a test waits for a message or delivery that must come, before it fails."""


def ev(type_: str, n: int) -> EventData:
    """A small JSON event: ``{"n": n}`` of type ``type_``."""
    return EventData(type_, {"n": n})


# ---- nodes ------------------------------------------------------------------------------------


def release_path(name: str) -> Path:
    """Where the workspace's release build puts `name` (target/release, or $CARGO_TARGET_DIR/release)."""
    configured = os.environ.get("CARGO_TARGET_DIR")
    target = (REPO / configured).resolve() if configured else REPO / "target"
    return target / "release" / name


def release_binary(name: str) -> Path | None:
    """A file of the workspace's release build, if it is built."""
    binary = release_path(name)
    return binary if binary.is_file() else None


def require_server() -> Path:
    """The node binary; a failure (never a skip) when it is not built."""
    binary = release_binary("graveyard")
    if binary is None:
        pytest.fail(
            "the node binary is not built: cargo build --release --workspace --bins (tests of real nodes need it)"
        )
    return binary


def free_port() -> int:
    """A loopback port nothing listens on right now (another process may take it: start_nodes retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One ``graveyard serve`` process on a loopback port, its data and log in ``dir``."""

    def __init__(self, node_id: str, port: int, dir: Path, binary: Path, token: str | None) -> None:
        self.id, self.port, self.dir, self.binary, self.token = node_id, port, dir, binary, token
        self.args: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            text = (self.dir / "node.log").read_text(errors="replace")
        except OSError:
            return ""
        return text if len(text) <= 4000 else f"...{text[-4000:]}"

    def start(self) -> None:
        # The flags are the whole configuration: no GRAVEYARD_* variable of the caller's leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAVEYARD_")}
        env["GRAVEYARD_LOG"] = "info"
        command = [
            str(self.binary),
            "serve",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data",
            str(self.dir / "data"),
            *self.args,
        ]
        with open(self.dir / "node.log", "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def kill(self) -> None:
        """SIGKILL (no clean shutdown), and waits for the process to go."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Waits until the node answers a connection to it alone."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"node {self.id} exited: {self.log()}")
            try:
                graveyard.connect(self.url, token=self.token, retries=0, connect_timeout=1.0).close()
                return
            except graveyard.GraveyardError as e:
                last = e
            time.sleep(0.025)
        raise RuntimeError(f"node {self.id} did not answer within {timeout} s ({last}): {self.log()}")


class Nodes:
    """The nodes and connections of one test: every node is killed, every client closed and
    every directory removed at its end (the fixture ``nodes`` calls ``cleanup``)."""

    def __init__(self) -> None:
        self.started: list[Node] = []
        self.clients: list[Client] = []
        self.dirs: list[Path] = []

    def start(self, ids: Sequence[str], *, token: str | None = None, master_key: bytes | None = None) -> list[Node]:
        """A cluster of the members ``ids`` (one id: a single node) on free loopback ports, each
        answering once this returns."""
        binary = require_server()
        failure: Exception | None = None
        for _attempt in range(5):
            nodes: list[Node] = []
            ports: set[int] = set()
            for node_id in ids:
                port = free_port()
                while port in ports:
                    port = free_port()
                ports.add(port)
                folder = Path(tempfile.mkdtemp(prefix=f"graveyard-py-node-{node_id}-"))
                self.dirs.append(folder)
                nodes.append(Node(node_id, port, folder, binary, token))
            members = ",".join(f"{n.id}=127.0.0.1:{n.port}" for n in nodes)
            for n in nodes:
                n.args += ["--node-id", n.id]
                if len(ids) > 1:
                    n.args += ["--members", members]
                if token is not None:
                    (n.dir / "token").write_text(token)
                    os.chmod(n.dir / "token", 0o600)
                    n.args += ["--token-file", str(n.dir / "token")]
                if master_key is not None:
                    # The node reads the key as 64 hex digits.
                    (n.dir / "master.key").write_text(master_key.hex())
                    os.chmod(n.dir / "master.key", 0o600)
                    n.args += ["--master-key-file", str(n.dir / "master.key")]
                n.start()
                self.started.append(n)
            failure = None
            for n in nodes:
                try:
                    n.wait_ready()
                except RuntimeError as e:
                    failure = e
                    break
            if failure is None:
                return nodes
            for n in nodes:
                n.kill()
            # Another process took a port between free_port and the node's bind: new ports.
            if "cannot listen" not in str(failure):
                break
        assert failure is not None
        raise failure

    def connect(self, nodes: Sequence[Node], **options: Any) -> Client:
        """A connection to ``nodes``, closed at the end of the test; few retries, so that a node
        down fails a call quickly."""
        settings: dict[str, Any] = {"retries": 1, "retry_backoff": 0.01}
        settings.update(options)
        client = graveyard.connect([n.url for n in nodes], **settings)
        self.clients.append(client)
        return client

    def cleanup(self) -> None:
        for client in self.clients:
            client.close()
        for n in self.started:
            n.kill()
        for folder in self.dirs:
            shutil.rmtree(folder, ignore_errors=True)


# ---- waits that fail instead of hanging ----------------------------------------------------------


def next_of(sub: Subscription, timeout: float = WAIT) -> SubscriptionMessage:
    """The subscription's next message, failing the test after ``timeout`` seconds."""
    m = sub.poll(timeout)
    assert not isinstance(m, Poll), f"no message within {timeout} s: {m!r}"
    return m


def event_of(sub: Subscription, timeout: float = WAIT) -> tuple[str, int, str]:
    """The stream, revision and type of the next message, which must be an event."""
    m = next_of(sub, timeout)
    assert isinstance(m, RecordedEvent), f"expected an event, got {m!r}"
    return m.stream, m.revision, m.type


def delivery_of(member: GroupMember, timeout: float = WAIT) -> GroupDelivery:
    """The member's next delivery, failing the test after ``timeout`` seconds."""
    d = member.poll(timeout)
    assert isinstance(d, GroupDelivery), f"no delivery within {timeout} s: {d!r}"
    return d


async def anext_of(sub: AsyncSubscription, timeout: float = WAIT) -> SubscriptionMessage:
    m = await sub.poll(timeout)
    assert not isinstance(m, Poll), f"no message within {timeout} s: {m!r}"
    return m


async def aevent_of(sub: AsyncSubscription, timeout: float = WAIT) -> tuple[str, int, str]:
    m = await anext_of(sub, timeout)
    assert isinstance(m, RecordedEvent), f"expected an event, got {m!r}"
    return m.stream, m.revision, m.type


async def adelivery_of(member: AsyncGroupMember, timeout: float = WAIT) -> GroupDelivery:
    d = await member.poll(timeout)
    assert isinstance(d, GroupDelivery), f"no delivery within {timeout} s: {d!r}"
    return d


def history(sub: Subscription) -> list[RecordedEvent]:
    """The events a subscription hands out before CAUGHT_UP (which it consumes)."""
    events: list[RecordedEvent] = []
    while (m := next_of(sub)) is not CAUGHT_UP:
        assert isinstance(m, RecordedEvent)
        events.append(m)
    return events


def eventually(check: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """``check()`` until ``done`` holds for its value or ``timeout`` seconds went by: its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


# ---- the GIL -------------------------------------------------------------------------------------


class Counter:
    """A thread counting as fast as it can (a pure-Python loop: it needs the GIL for every
    increment). ``rate_during(call)`` is how many increments it made while ``call`` ran, as a
    share of its rate while the calling thread sleeps (time.sleep releases the GIL): about 1
    when the call releases the GIL, about 0 when it holds it. Proportions, never timings."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            self.count += 1

    def __enter__(self) -> Counter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _rate(self, call: Callable[[], object]) -> float:
        before, started = self.count, time.perf_counter()
        call()
        return (self.count - before) / (time.perf_counter() - started)

    def baseline(self) -> float:
        """Increments per second while this thread sleeps (the best of three)."""
        return max(self._rate(lambda: time.sleep(0.05)) for _ in range(3))

    def share_during(self, call: Callable[[], object]) -> float:
        """The counter's rate while ``call`` runs, as a share of its baseline."""
        baseline = self.baseline()
        return self._rate(call) / baseline
