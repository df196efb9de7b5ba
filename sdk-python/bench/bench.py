"""The Python SDK's benchmark.

The workloads of the Rust bench (``graveyard-bench embedded``, bench/) run three ways in one
run, each on a fresh durable store:

- through the SDK (``graveyard.open`` with the default fsync per commit);
- through the Rust core, right after (``graveyard-bench embedded --only W``), so that each row
  has a ratio: SDK events/s / core events/s;
- through SQLite from the standard library (``sqlite3``: WAL, ``synchronous=FULL``, the table,
  transactions and keyset pages of bench/src/stores/sqlite.rs), what a Python user reaches for
  when they want a durable log without a server.

The same ~100-byte JSON event (bench/src/workload.rs's payload, byte for byte), stream names,
expected versions (the exact previous revision, ``"no_stream"`` first), writer counts,
durations and sizes as the Rust bench. Writers are threads, each with its own stream (the
SDK's blocking calls and sqlite3's release the GIL); append-64-asyncio is 64 tasks on one
event loop through ``AsyncClient``.

Every write workload checks afterwards that the store holds exactly what it acknowledged
(each stream's revision, the head of the log, every event's bytes) and every read that it got
every event in order: a wrong store fails the run (exit 1). Timings are reported, never
asserted.

    python bench/bench.py [--quick] [--only W,W] [--core PATH|none] [--no-sqlite]
                          [--markdown FILE] [--dir DIR] [--no-overhead]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import graveyard
from graveyard import EventData, ExpectedVersion

# ---- sizes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Sizes and times of a run (bench/src/workload.rs's Scale)."""

    write_s: float
    """How long each write workload runs."""
    stream_events: int
    """Events of the read-stream stream."""
    log_events: int
    log_streams: int
    """Events of the scan-all log, and the streams they are spread over."""
    page: int
    """Page size of the scans."""
    preload_batch: int
    """Events per append while preloading."""
    read_min_s: float
    read_min_rounds: int
    """Reads repeat for at least this long and this many rounds."""
    overhead_s: float
    """How long each call-overhead measurement runs."""


FULL = Scale(5.0, 100_000, 1_000_000, 100, 10_000, 1_000, 2.0, 3, 1.0)
QUICK = Scale(0.3, 2_000, 20_000, 10, 10_000, 1_000, 0.1, 2, 0.1)


@dataclass
class Result:
    events: int = 0
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    """Seconds per operation."""


class BenchError(Exception):
    """The store did not hold or return what it should: the run fails."""


# ---- events ------------------------------------------------------------------------------------

EVENT_TYPE = "Bench"
JSON_TYPE = "application/json"
WRITER_SEQ = 1 << 40
"""Writer w's payload numbers start at w << 40."""


def payload(seq: int) -> bytes:
    """bench/src/workload.rs's payload(seq), byte for byte."""
    amount = 10_000_000 + (seq * 7919) % (1 << 64) % 90_000_000
    return (
        f'{{"order_id":"ord-{seq:012}","customer":"cust-{seq % 1_000_000:06}",'
        f'"amount_cents":{amount},"currency":"EUR","items":{1 + seq % 9}}}'
    ).encode()


def event(seq: int) -> EventData:
    return EventData(EVENT_TYPE, payload(seq), content_type=JSON_TYPE)


def stream_name(i: int) -> str:
    return f"bench-{i}"


@dataclass(frozen=True)
class Where:
    stream: str
    revision: int
    seq: int


def preloaded(s: Scale, streams: int) -> Callable[[int], Where]:
    """Where preloaded event ``seq`` is: appends of s.preload_batch go round-robin over the streams."""

    def where(seq: int) -> Where:
        b = seq // s.preload_batch
        return Where(stream_name(b % streams), (b // streams) * s.preload_batch + seq % s.preload_batch, seq)

    return where


def writer_event(w: int) -> Callable[[int], Where]:
    return lambda revision: Where(stream_name(w), revision, w * WRITER_SEQ + revision)


# ---- the stores --------------------------------------------------------------------------------


class Sdk:
    """The SDK's operations the workloads use."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.client = graveyard.open(str(path), durability="fsync" if durable else "none")
        self.path = path

    def close(self) -> None:
        self.client.close()

    def writer(self, w: int, batch: int) -> Callable[[int], int]:
        """A function appending ``batch`` events from payload number seq on, returning the last revision."""
        stream = stream_name(w)
        expected: list[ExpectedVersion] = ["no_stream"]
        written = [0]
        append = self.client.append

        def write(seq: int) -> int:
            events = [EventData(EVENT_TYPE, payload(seq + i), content_type=JSON_TYPE) for i in range(batch)]
            r = append(stream, events, expected_version=expected[0])
            first = written[0]
            if (
                r.first_revision != first
                or r.last_revision != first + batch - 1
                or r.last_position - r.first_position != batch - 1
            ):
                raise BenchError(f"append to {stream} after {expected[0]!r} returned {r}")
            expected[0] = r.last_revision
            written[0] += batch
            return r.last_revision

        return write

    def preload(self, s: Scale, count: int, streams: int) -> None:
        seq = 0
        while seq < count:
            stream = stream_name((seq // s.preload_batch) % streams)
            n = min(s.preload_batch, count - seq)
            self.client.append(stream, [event(seq + i) for i in range(n)])
            seq += n

    def check_written(self, written: list[int]) -> None:
        for w, n in enumerate(written):
            info = self.client.stream_info(stream_name(w))
            if info.current != n - 1:
                raise BenchError(f"stream {stream_name(w)} is at {info.current!r}, {n} events were acknowledged")
        head = self.client.head_position()
        if head != sum(written):
            raise BenchError(f"the store holds {head} events, {sum(written)} were acknowledged")
        for w, n in enumerate(written):
            self.verify(self.client.read_stream(stream_name(w), page_size=10_000).pages(), n, writer_event(w))

    def verify(self, pages: Iterator[graveyard.Page], count: int, where: Callable[[int], Where]) -> None:
        """Exactly ``count`` events, the i-th at where(i), of type Bench, JSON, with payload(seq)."""
        i = 0
        for page in pages:
            for e in page:
                if i >= count:
                    raise BenchError(f"verify: more than the {count} events written ({e!r})")
                want = where(i)
                if (
                    e.stream != want.stream
                    or e.revision != want.revision
                    or e.type != EVENT_TYPE
                    or e.content_type != JSON_TYPE
                    or e.metadata != b""
                    or e.data != payload(want.seq)
                ):
                    raise BenchError(f"verify: event {i} should be revision {want.revision} of {want.stream}: {e!r}")
                i += 1
        if i != count:
            raise BenchError(f"verify: {i} events read back, {count} were written")


SQLITE_SCHEMA = """CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream   TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    UNIQUE (stream, revision)
)"""
MAX_REVISION = "SELECT max(revision) FROM events WHERE stream = ?"
INSERT = "INSERT INTO events (stream, revision, type, data) VALUES (?, ?, ?, ?)"


def sqlite_connect(path: Path, *, durable: bool = True) -> sqlite3.Connection:
    """A connection as bench/src/stores/sqlite.rs makes them: WAL, synchronous=FULL, a long
    busy timeout (a writer waiting behind 63 others never gives up), transactions by hand."""
    conn = sqlite3.connect(path, timeout=120.0, isolation_level=None, check_same_thread=False)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise BenchError(f"SQLite refused WAL mode (journal_mode = {mode})")
    conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
    conn.execute(SQLITE_SCHEMA)
    return conn


def sqlite_append(conn: sqlite3.Connection, stream: str, expected: int | None, payloads: list[bytes]) -> int:
    """Appends in one transaction if the stream's last revision is ``expected`` (None: no
    events); BEGIN IMMEDIATE takes the write lock before the check, so check and insert are one
    atomic step. Returns the new last revision."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute(MAX_REVISION, (stream,)).fetchone()[0]
        if current != expected:
            raise BenchError(f"SQLite stream {stream} is at {current!r}, its only writer expected {expected!r}")
        revision = 0 if current is None else current + 1
        conn.executemany(INSERT, [(stream, revision + i, EVENT_TYPE, p) for i, p in enumerate(payloads)])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return revision + len(payloads) - 1


class Sqlite:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.file = path / "events.sqlite"
        self.durable = durable
        self.conn = sqlite_connect(self.file, durable=durable)
        self.conns = [self.conn]

    def close(self) -> None:
        for c in self.conns:
            c.close()

    def writer(self, w: int, batch: int) -> Callable[[int], int]:
        conn = sqlite_connect(self.file, durable=self.durable)
        self.conns.append(conn)
        stream = stream_name(w)
        last: list[int | None] = [None]

        def write(seq: int) -> int:
            revision = sqlite_append(conn, stream, last[0], [payload(seq + i) for i in range(batch)])
            last[0] = revision
            return revision

        return write

    def preload(self, s: Scale, count: int, streams: int) -> None:
        last: dict[str, int] = {}
        seq = 0
        while seq < count:
            stream = stream_name((seq // s.preload_batch) % streams)
            n = min(s.preload_batch, count - seq)
            last[stream] = sqlite_append(self.conn, stream, last.get(stream), [payload(seq + i) for i in range(n)])
            seq += n

    def check_written(self, written: list[int]) -> None:
        for w, n in enumerate(written):
            current = self.conn.execute(MAX_REVISION, (stream_name(w),)).fetchone()[0]
            if current != n - 1:
                raise BenchError(f"SQLite stream {stream_name(w)} is at {current!r}, {n} events were acknowledged")
        total = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if total != sum(written):
            raise BenchError(f"SQLite holds {total} events, {sum(written)} were acknowledged")
        for w, n in enumerate(written):
            rows = self.conn.execute(
                "SELECT revision, type, data FROM events WHERE stream = ? ORDER BY revision", (stream_name(w),)
            ).fetchall()
            where = writer_event(w)
            if len(rows) != n or any(r != (i, EVENT_TYPE, payload(where(i).seq)) for i, r in enumerate(rows)):
                raise BenchError(f"SQLite stream {stream_name(w)} does not hold what was acknowledged")


Store = Sdk | Sqlite

# ---- writes ------------------------------------------------------------------------------------


def threads_writing(store: Store, s: Scale, writers: int, batch: int) -> Result:
    """``writers`` threads, each appending ``batch`` events per call to its own stream with the
    exact previous revision, until the time is up."""
    written = [0] * writers
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    stop = threading.Event()
    started = [0.0]
    deadline = [0.0]

    def go() -> None:
        # Run by the last thread to arrive, before any is released: every writer sees the deadline.
        started[0] = time.perf_counter()
        deadline[0] = started[0] + s.write_s

    start_line = threading.Barrier(writers + 1, action=go)

    def run(w: int) -> None:
        try:
            write = store.writer(w, batch)
            start_line.wait()
            seq = w * WRITER_SEQ
            lat = latencies[w]
            clock = time.perf_counter
            while not stop.is_set() and clock() < deadline[0]:
                t = clock()
                write(seq)
                lat.append(clock() - t)
                seq += batch
                written[w] += batch
        except BaseException as e:  # one failing writer stops the others
            errors.append(e)
            stop.set()
            start_line.abort()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a writer failed: its error is raised below
        start_line.wait()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started[0]
    if errors:
        raise errors[0]
    store.check_written(written)
    return Result(sum(written), sum(len(lat) for lat in latencies), seconds, [x for lat in latencies for x in lat])


def asyncio_writing(path: Path, s: Scale, writers: int) -> Result:
    """``writers`` tasks on one event loop, each awaiting its own appends through AsyncClient."""

    async def main() -> Result:
        client = await graveyard.open_async(str(path))
        try:
            written = [0] * writers
            latencies: list[float] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + s.write_s

            async def writer(w: int) -> None:
                stream = stream_name(w)
                expected: ExpectedVersion = "no_stream"
                seq = w * WRITER_SEQ
                while loop.time() < deadline:
                    t = time.perf_counter()
                    r = await client.append(stream, event(seq), expected_version=expected)
                    latencies.append(time.perf_counter() - t)
                    if r.first_revision != written[w]:
                        raise BenchError(f"append to {stream} after {expected!r} returned {r}")
                    expected = r.last_revision
                    seq += 1
                    written[w] += 1

            start = time.perf_counter()
            await asyncio.gather(*(writer(w) for w in range(writers)))
            seconds = time.perf_counter() - start
        finally:
            await client.close()
        sdk = Sdk(path)
        try:
            sdk.check_written(written)
        finally:
            sdk.close()
        return Result(sum(written), len(latencies), seconds, latencies)

    return asyncio.run(main())


# ---- reads -------------------------------------------------------------------------------------


def repeat(s: Scale, latencies: list[float], one_round: Callable[[], tuple[int, int]]) -> Result:
    r = Result(latencies=latencies)
    start = time.perf_counter()
    rounds = 0
    while rounds < s.read_min_rounds or time.perf_counter() - start < s.read_min_s:
        events, ops = one_round()
        r.events += events
        r.ops += ops
        rounds += 1
    r.seconds = time.perf_counter() - start
    return r


def loaded(make: Callable[..., Store], path: Path, s: Scale, count: int, streams: int) -> Store:
    """A store holding ``count`` events over ``streams`` streams, written without fsync (reads
    are the same either way; it loads faster), reopened durable."""
    store = make(path, durable=False)
    try:
        store.preload(s, count, streams)
    finally:
        store.close()
    return make(path)


def sdk_read_stream(path: Path, s: Scale) -> Result:
    store = loaded(Sdk, path, s, s.stream_events, 1)
    assert isinstance(store, Sdk)
    try:
        latencies: list[float] = []
        name = stream_name(0)

        def one_round() -> tuple[int, int]:
            t = time.perf_counter()
            i = 0
            for page in store.client.read_stream(name, page_size=s.stream_events).pages():
                for e in page:
                    # What a user does with each event: its revision and its data.
                    if e.revision != i or not e.data:
                        raise BenchError(f"read-stream: event {i} is {e!r}")
                    i += 1
            latencies.append(time.perf_counter() - t)
            if i != s.stream_events:
                raise BenchError(f"read-stream: {i} events read, {s.stream_events} preloaded")
            return i, 1

        r = repeat(s, latencies, one_round)
        store.verify(store.client.read_stream(name, page_size=s.page).pages(), s.stream_events, preloaded(s, 1))
        return r
    finally:
        store.close()


def sdk_scan_all(fields: bool) -> Callable[[Path, Scale], Result]:
    def run(path: Path, s: Scale) -> Result:
        store = loaded(Sdk, path, s, s.log_events, s.log_streams)
        assert isinstance(store, Sdk)
        try:
            latencies: list[float] = []
            sink = [0]

            def one_round() -> tuple[int, int]:
                read = pages = 0
                t = time.perf_counter()
                for page in store.client.read_all(page_size=s.page).pages():
                    for i, e in enumerate(page, read):
                        if e.position != i:
                            raise BenchError(f"scan-all: position {e.position} where {i} belongs")
                        if fields:
                            sink[0] += (
                                len(e.stream)
                                + e.revision
                                + (e.timestamp_micros & 0xFF)
                                + (e.id.int & 0xFF)
                                + len(e.type)
                                + len(e.content_type)
                                + len(e.data)
                                + len(e.metadata)
                            )
                        elif e.type != EVENT_TYPE:
                            raise BenchError(f"scan-all: event {i} is of type {e.type}")
                    read += len(page)
                    pages += 1
                    now = time.perf_counter()
                    latencies.append(now - t)
                    t = now
                if read != s.log_events:
                    raise BenchError(f"scan-all: {read} events read, {s.log_events} preloaded")
                return read, pages

            r = repeat(s, latencies, one_round)
            if fields and sink[0] == 0:
                raise BenchError("scan-all-fields: nothing was read")
            store.verify(store.client.read_all(page_size=s.page).pages(), s.log_events, preloaded(s, s.log_streams))
            return r
        finally:
            store.close()

    return run


def sqlite_read_stream(path: Path, s: Scale) -> Result:
    store = loaded(Sqlite, path, s, s.stream_events, 1)
    assert isinstance(store, Sqlite)
    try:
        latencies: list[float] = []
        name = stream_name(0)

        def one_round() -> tuple[int, int]:
            t = time.perf_counter()
            i = 0
            rows = store.conn.execute(
                "SELECT position, revision, type, data FROM events WHERE stream = ? ORDER BY revision", (name,)
            ).fetchall()
            for _position, revision, _type, data in rows:
                if revision != i or not data:
                    raise BenchError(f"SQLite read-stream: row {i} is revision {revision}")
                i += 1
            latencies.append(time.perf_counter() - t)
            if i != s.stream_events:
                raise BenchError(f"SQLite read-stream: {i} rows read, {s.stream_events} preloaded")
            return i, 1

        return repeat(s, latencies, one_round)
    finally:
        store.close()


def sqlite_scan_all(fields: bool) -> Callable[[Path, Scale], Result]:
    def run(path: Path, s: Scale) -> Result:
        store = loaded(Sqlite, path, s, s.log_events, s.log_streams)
        assert isinstance(store, Sqlite)
        try:
            latencies: list[float] = []
            sink = [0]
            # Keyset pages on the primary key: each a range seek, never an OFFSET.
            query = (
                "SELECT position, stream, revision, type, data FROM events "
                "WHERE position >= ? ORDER BY position LIMIT ?"
            )

            def one_round() -> tuple[int, int]:
                read = pages = 0
                nxt = 1  # SQLite's rowids start at 1
                t = time.perf_counter()
                while rows := store.conn.execute(query, (nxt, s.page)).fetchall():
                    for i, (position, stream, revision, type_, data) in enumerate(rows, read + 1):
                        if position != i:
                            raise BenchError(f"SQLite scan-all: position {position} where {i} belongs")
                        if fields:
                            sink[0] += len(stream) + revision + len(type_) + len(data)
                        elif type_ != EVENT_TYPE:
                            raise BenchError(f"SQLite scan-all: row {i} is of type {type_}")
                    read += len(rows)
                    nxt = rows[-1][0] + 1
                    pages += 1
                    now = time.perf_counter()
                    latencies.append(now - t)
                    t = now
                if read != s.log_events:
                    raise BenchError(f"SQLite scan-all: {read} rows read, {s.log_events} preloaded")
                return read, pages

            r = repeat(s, latencies, one_round)
            if fields and sink[0] == 0:
                raise BenchError("SQLite scan-all-fields: nothing was read")
            return r
        finally:
            store.close()

    return run


# ---- the workloads -----------------------------------------------------------------------------


def writes(make: Callable[..., Store], writers: int, batch: int) -> Callable[[Path, Scale], Result]:
    def run(path: Path, s: Scale) -> Result:
        store = make(path)
        try:
            return threads_writing(store, s, writers, batch)
        finally:
            store.close()

    return run


@dataclass(frozen=True)
class Workload:
    name: str
    what: Callable[[Scale], str]
    core: str
    """The graveyard-bench workload it divides by (the GraveyardDB row of its table)."""
    sdk: Callable[[Path, Scale], Result]
    sqlite: Callable[[Path, Scale], Result] | None


def grouped(v: float) -> str:
    return f"{round(v):,}"


def threads(name: str, writers: int, batch: int) -> Workload:
    """A write workload of ``writers`` threads appending ``batch`` events per call, SDK and sqlite3."""
    per_append = f"{batch} events per append" if batch > 1 else "1 event per append"
    who = "1 writer thread, own stream" if writers == 1 else f"{writers} writer threads, each on its own stream"
    return Workload(
        name, lambda s: f"{per_append}, {who}", name, writes(Sdk, writers, batch), writes(Sqlite, writers, batch)
    )


WORKLOADS = [
    threads("append-1", 1, 1),
    threads("append-8", 8, 1),
    threads("append-64", 64, 1),
    Workload(
        "append-64-asyncio",
        lambda s: (
            "1 event per append, 64 asyncio tasks on one event loop (AsyncClient); "
            "the core's figure: 64 async tasks on 2 threads (append_async)"
        ),
        "append-64-tasks",
        lambda path, s: asyncio_writing(path, s, 64),
        None,
    ),
    threads("batch-100", 8, 100),
    Workload(
        "read-stream",
        lambda s: (
            f"read_stream().pages() of a {grouped(s.stream_events)}-event stream, whole stream per page; "
            "revision and data of each event"
        ),
        "read-stream",
        sdk_read_stream,
        sqlite_read_stream,
    ),
    Workload(
        "scan-all",
        lambda s: (
            f"read_all().pages() of a {grouped(s.log_events)}-event log ({s.log_streams} streams) in pages "
            f"of {grouped(s.page)}; position and type of each event"
        ),
        "scan-all",
        sdk_scan_all(False),
        sqlite_scan_all(False),
    ),
    Workload(
        "scan-all-fields",
        lambda s: (
            "as scan-all, every field of each event read (stream, revision, position, timestamp, id, type, "
            "content type, data, metadata; SQLite's table has the first five); the core's figure: read_all (owned "
            "events), the plain row of encrypted-read-all"
        ),
        "encrypted-read-all",
        sdk_scan_all(True),
        sqlite_scan_all(True),
    ),
]

# ---- the core and the cost of a call -----------------------------------------------------------

CORE_ROW = re.compile(r"^\| GraveyardDB(?: \(\d+\))? \| ([0-9,]+) \|", re.MULTILINE)


def core_rate(binary: Path, name: str, quick: bool, work: Path) -> float:
    """Runs graveyard-bench on one workload and reads the GraveyardDB row of its table: events/s."""
    md = work / f"core-{name}.md"
    args = [str(binary), "embedded", "--only", name, "--markdown", str(md), "--dir", str(work)]
    if quick:
        args.append("--quick")
    run = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, check=False)
    if run.returncode != 0:
        raise BenchError(f"{' '.join(args)}: exit status {run.returncode}\n{run.stdout}")
    m = CORE_ROW.search(md.read_text())
    if m is None:
        raise BenchError(f"no GraveyardDB row in {md}")
    return float(m.group(1).replace(",", ""))


def per_call(seconds: float, op: Callable[[], object]) -> float:
    """ns per call of ``op``, in rounds of 1,000 for about ``seconds`` (after a round of warm-up)."""
    for _ in range(1000):
        op()
    n = 0
    start = time.perf_counter()
    while True:
        for _ in range(1000):
            op()
        n += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed * 1e9 / n


def per_call_async(seconds: float, op: Callable[[], Awaitable[object]], in_flight: int) -> float:
    async def main() -> float:
        async def one_round() -> None:
            if in_flight == 1:
                for _ in range(1000):
                    await op()
            else:
                await asyncio.gather(*(op() for _ in range(in_flight)))

        await one_round()
        n = 0
        start = time.perf_counter()
        while True:
            await one_round()
            n += 1000 if in_flight == 1 else in_flight
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return elapsed * 1e9 / n

    return asyncio.run(main())


def call_overhead(base: Path, s: Scale) -> str:
    work = Path(tempfile.mkdtemp(prefix="graveyard-py-bench-overhead-", dir=base))
    try:
        with graveyard.open(str(work / "store"), durability="none") as client:
            blocking = per_call(s.overhead_s, client.head_position)
            crossing = per_call(s.overhead_s, graveyard.native_version)

        async def head() -> int:
            return await aclient.head_position()

        async def opened() -> graveyard.AsyncClient:
            return await graveyard.open_async(str(work / "store"), durability="none")

        aclient = asyncio.run(opened())
        try:
            awaited = per_call_async(s.overhead_s, head, 1)
            concurrent = per_call_async(s.overhead_s, head, 1000)
        finally:
            asyncio.run(aclient.close())
        return (
            f"One call through the SDK, embedded: {grouped(blocking)} ns blocking (client.head_position()), "
            f"{grouped(awaited)} ns awaited (AsyncClient), {grouped(concurrent)} ns per call with 1,000 in flight "
            f"(asyncio.gather); a crossing of the uniffi module alone (graveyard.native_version()): "
            f"{grouped(crossing)} ns.\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- the run -----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))] if sorted_values else 0.0


def timed(run: Callable[[Path, Scale], Result], base: Path, label: str, s: Scale) -> tuple[Result, Path]:
    work = Path(tempfile.mkdtemp(prefix=f"graveyard-py-bench-{label}-", dir=base))
    return run(work / "store", s), work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke sizes (0.3 s per write workload, 2k/20k events)")
    parser.add_argument("--only", help="run only these workloads: " + ", ".join(w.name for w in WORKLOADS))
    parser.add_argument(
        "--core",
        help="the graveyard-bench binary (default: $CARGO_TARGET_DIR or ../target, "
        'release/graveyard-bench); "none" skips the core',
    )
    parser.add_argument("--no-sqlite", action="store_true", help="do not run the sqlite3 workloads")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--dir", type=Path, help="where the stores write (default: the system temp dir)")
    parser.add_argument("--no-overhead", action="store_true", help="do not measure the cost of one call")
    args = parser.parse_args()
    s = QUICK if args.quick else FULL
    repo = Path(__file__).resolve().parents[2]
    core: Path | None
    if args.core == "none":
        core = None
    elif args.core:
        core = Path(args.core)
    else:
        target = os.environ.get("CARGO_TARGET_DIR") or str(repo / "target")
        core = (repo / target if not os.path.isabs(target) else Path(target)) / "release" / "graveyard-bench"
    if core is not None and not core.is_file():
        print(
            f"bench: no graveyard-bench at {core} (cargo build --release -p graveyard-bench, or --core PATH, "
            "or --core none)",
            file=sys.stderr,
        )
        return 2
    base = (args.dir or Path(tempfile.gettempdir())).resolve()
    selected = WORKLOADS
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        selected = [w for w in WORKLOADS if w.name in names]
        if len(selected) != len(names):
            print(
                f"bench: unknown workload in {args.only!r} (known: {', '.join(w.name for w in WORKLOADS)})",
                file=sys.stderr,
            )
            return 2

    rows: list[str] = []
    failed = False
    for w in selected:
        works: list[Path] = []
        try:
            r, work = timed(w.sdk, base, w.name, s)
            works.append(work)
            rate = r.events / max(r.seconds, 1e-9)
            core_cell = ratio = "n/a"
            if core is not None:
                c = core_rate(core, w.core, args.quick, work)
                core_cell, ratio = grouped(c), f"{rate / c:.2f}"
            sqlite_cell = sqlite_ratio = "n/a"
            if w.sqlite is not None and not args.no_sqlite:
                q, qwork = timed(w.sqlite, base, w.name + "-sqlite", s)
                works.append(qwork)
                q_rate = q.events / max(q.seconds, 1e-9)
                sqlite_cell, sqlite_ratio = grouped(q_rate), f"{rate / q_rate:.2f}"
            lat = sorted(r.latencies)
            row = (
                f"| {w.name} | {w.what(s)} | {grouped(rate)} | {round(percentile(lat, 0.5) * 1e6)} | "
                f"{round(percentile(lat, 0.99) * 1e6)} | {core_cell} | {ratio} | {sqlite_cell} | {sqlite_ratio} |"
            )
            print(row, flush=True)
        except Exception as e:
            print(f"bench: {w.name} FAILED: {e}", file=sys.stderr)
            row = f"| {w.name} | {w.what(s)} | FAILED | | | | | | |"
            failed = True
        finally:
            for work in works:
                shutil.rmtree(work, ignore_errors=True)
        rows.append(row)

    overhead = ""
    if not args.no_overhead:
        try:
            overhead = "\n" + call_overhead(base, s)
        except Exception as e:
            print(f"bench: call overhead: {e}", file=sys.stderr)
            failed = True

    out = (
        f"Python SDK {graveyard.native_version()}, {platform.python_implementation()} {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores, {'quick' if args.quick else 'full'} sizes\n\n"
        "| workload | what | Python SDK events/s | p50 µs | p99 µs | Rust core events/s | SDK ÷ core "
        "| sqlite3 events/s | SDK ÷ sqlite3 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(r + "\n" for r in rows)
        + overhead
    )
    print("\n" + out, end="")
    if args.markdown is not None:
        args.markdown.write_text(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
