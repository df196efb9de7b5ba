"""The blocking Client on embedded stores: every operation of the core, errors with their typed
fields, bad input refused before anything is written, paging, encryption, close, other Python
threads running while one waits in native code, many threads appending at once, panics, and
entities (a dataclass and a Pydantic model) end to end."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pydantic
import pytest
from helpers import Counter

import graveyard
from graveyard import (
    Client,
    EventData,
    Filter,
    GroupSettings,
    StreamMetadata,
    StreamTarget,
    _client,
    _native,
)


def counted(n: int) -> EventData:
    return EventData("Counted", {"n": n})


def test_append_then_read_back_with_int_revisions_and_positions(store: Client) -> None:
    assert store.embedded is True
    r = store.append("order-1", [counted(1), counted(2)], expected_version="no_stream")
    assert r == graveyard.AppendResult(first_revision=0, last_revision=1, first_position=0, last_position=1)
    again = store.append("order-1", counted(3), expected_version=1)
    assert again.last_revision == 2
    events = store.read_stream("order-1").to_list()
    assert [(e.stream, e.revision, e.position, e.type, e.content_type, e.json()) for e in events] == [
        ("order-1", 0, 0, "Counted", "application/json", {"n": 1}),
        ("order-1", 1, 1, "Counted", "application/json", {"n": 2}),
        ("order-1", 2, 2, "Counted", "application/json", {"n": 3}),
    ]
    for e in events:
        assert type(e.revision) is int
        assert type(e.position) is int
        assert e.schema_version is None
        assert e.shredded is False
    assert isinstance(events[0].id, uuid.UUID)
    assert events[0].id.version == 7, "the store names events with UUIDv7"
    assert len({e.id for e in events}) == 3
    assert events[0].timestamp.tzinfo is not None
    assert abs((events[0].timestamp - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60
    assert store.head_position() == 3
    assert isinstance(graveyard.native_version(), str)


def test_data_forms_bytes_str_json_content_types_ids_and_metadata(store: Client) -> None:
    given = uuid.UUID("0190a4e0-0000-7000-8000-000000000001")
    as_text = "0190a4e0-0000-7000-8000-000000000002"
    store.append(
        "s",
        [
            EventData("Bin", b"\x00\x01\xff"),
            EventData("Buf", bytearray(b"ab")),
            EventData("View", memoryview(b"cd")),
            EventData("Text", "héllo", metadata={"by": "me"}),
            EventData("Csv", "a,b", content_type="text/csv", id=given),
            EventData("Json", [1, {"x": None, "big": 2**64 + 1}], metadata=b"\x01raw", id=as_text),
            EventData("Number", 42, metadata="plain"),
            EventData("Empty"),
        ],
    )
    bin_, buf, view, text, csv, js, number, empty = store.read_stream("s").to_list()
    assert (bin_.data, bin_.content_type) == (b"\x00\x01\xff", "application/octet-stream")
    assert (buf.data, view.data) == (b"ab", b"cd")
    assert (text.text(), text.content_type) == ("héllo", "text/plain")
    assert text.metadata_json() == {"by": "me"}
    assert (csv.id, csv.content_type, csv.data) == (given, "text/csv", b"a,b")
    assert js.id == uuid.UUID(as_text)
    assert js.json() == [1, {"x": None, "big": 2**64 + 1}], "JSON integers stay exact"
    assert js.metadata == b"\x01raw"
    assert (number.json(), number.metadata) == (42, b"plain")
    with pytest.raises(ValueError, match="not JSON"):
        number.metadata_json()
    assert (empty.data, empty.metadata, empty.metadata_json()) == (b"", b"", None)
    with pytest.raises(ValueError, match="content type"):
        bin_.json()
    # The same id again is an idempotent retry: nothing new is written.
    store.append("s", EventData("Csv", "a,b", content_type="text/csv", id=given))
    assert len(store.read_stream("s").to_list()) == 8


def test_a_wrong_expected_version_is_typed(store: Client) -> None:
    store.append("s", counted(1))
    with pytest.raises(graveyard.WrongExpectedVersionError) as caught:
        store.append("s", counted(2), expected_version="no_stream")
    e = caught.value
    assert (e.code, e.stream, e.expected, e.actual) == ("WRONG_EXPECTED_VERSION", "s", "no_stream", 0)
    assert isinstance(e, graveyard.GraveyardError)
    assert e.details() == {"stream": "s", "expected": "no_stream", "actual": 0}
    with pytest.raises(graveyard.WrongExpectedVersionError) as caught:
        store.append("t", counted(1), expected_version=5)
    assert (caught.value.expected, caught.value.actual) == (5, "no_stream")
    with pytest.raises(graveyard.WrongExpectedVersionError):
        store.append("t", counted(1), expected_version="stream_exists")
    with pytest.raises(graveyard.WrongExpectedVersionError) as caught:
        store.delete_stream("s", expected_version=3)
    assert caught.value.actual == 0
    # Nothing was written by the refused calls.
    assert store.head_position() == 1
    assert store.stream_info("s").current == 0


BadCall = Callable[[Client], object]

BAD_INPUT: list[tuple[str, BadCall, tuple[type[Exception], ...]]] = [
    # Refused by the store: a name or an event it does not take.
    ("empty stream name", lambda s: s.append("", counted(1)), (graveyard.InvalidArgumentError,)),
    ("empty event type", lambda s: s.append("s", EventData("")), (graveyard.InvalidArgumentError,)),
    (
        "data labelled JSON that is not",
        lambda s: s.append("s", EventData("T", "{", content_type="application/json")),
        (graveyard.InvalidArgumentError,),
    ),
    (
        "JSON nested too deep",
        lambda s: s.append("s", EventData("T", "[" * 1000 + "]" * 1000, content_type="application/json")),
        (graveyard.InvalidArgumentError,),
    ),
    ("an empty group name", lambda s: s.create_group("", StreamTarget("s")), (graveyard.InvalidArgumentError,)),
    ("shredding an unencrypted store", lambda s: s.shred_stream("s"), (graveyard.InvalidArgumentError,)),
    # Refused before anything is sent: the wrong Python type or range.
    ("an id that is not a UUID", lambda s: s.append("s", EventData("T", id="not-a-uuid")), (ValueError,)),
    ("an id of the wrong type", lambda s: s.append("s", EventData("T", id=5)), (TypeError,)),  # type: ignore[arg-type]
    ("a number among events", lambda s: s.append("s", [counted(1), 42]), (TypeError,)),
    ("a dict as an event", lambda s: s.append("s", {"type": "T", "data": 1}), (TypeError,)),
    ("a type that is not a str", lambda s: s.append("s", EventData(123)), (TypeError,)),  # type: ignore[arg-type]
    ("a content type not a str", lambda s: s.append("s", EventData("T", b"", content_type=5)), (TypeError,)),  # type: ignore[arg-type]
    ("data JSON cannot hold", lambda s: s.append("s", EventData("T", {1, 2})), (TypeError,)),
    ("NaN in JSON data", lambda s: s.append("s", EventData("T", float("nan"))), (ValueError,)),
    ("metadata JSON cannot hold", lambda s: s.append("s", EventData("T", metadata=object())), (TypeError,)),
    ("a stream name that is None", lambda s: s.append(None, counted(1)), (TypeError,)),  # type: ignore[arg-type]
    ("a negative expected version", lambda s: s.append("s", counted(1), expected_version=-1), (ValueError,)),
    ("an expected version past u64", lambda s: s.append("s", counted(1), expected_version=2**64), (ValueError,)),
    ("an unknown expected version", lambda s: s.append("s", counted(1), expected_version="sometimes"), (ValueError,)),  # type: ignore[arg-type]
    ("a bool expected version", lambda s: s.append("s", counted(1), expected_version=True), (TypeError,)),
    ("a float expected version", lambda s: s.append("s", counted(1), expected_version=1.0), (TypeError,)),  # type: ignore[arg-type]
    ("a from revision past u64", lambda s: s.read_stream("s", from_revision=2**64).to_list(), (ValueError,)),
    ("a negative from revision", lambda s: s.read_stream_page("s", from_revision=-1), (ValueError,)),
    ("a negative max_count", lambda s: s.read_all_page(max_count=-1), (ValueError,)),
    ("a page size of 0", lambda s: s.read_stream("s", page_size=0), (ValueError,)),
    ("an unknown direction", lambda s: s.read_stream("s", direction="sideways"), (ValueError,)),  # type: ignore[arg-type]
    ("a direction that is not a str", lambda s: s.read_all_page(direction=1), (TypeError,)),  # type: ignore[arg-type]
    ("a filter that is a dict", lambda s: s.read_all_page(filter={"event_types": ["x"]}), (TypeError,)),  # type: ignore[arg-type]
    ("a filter of one str", lambda s: s.read_all_page(filter=Filter(event_types="Order")), (TypeError,)),
    ("a subscription start int", lambda s: s.subscribe_to_all(start=5), (TypeError,)),  # type: ignore[arg-type]
    ("an unknown subscription start", lambda s: s.subscribe_to_all(start="middle"), (ValueError,)),  # type: ignore[arg-type]
    ("a subscription page size of 0", lambda s: s.subscribe_to_stream("s", page_size=0), (ValueError,)),
    ("a negative snapshot revision", lambda s: s.save_snapshot("s", -1, b"x"), (ValueError,)),
    ("a group target that is a str", lambda s: s.create_group("g", "s"), (TypeError,)),  # type: ignore[arg-type]
    (
        "a negative max_retries",
        lambda s: s.create_group("g", StreamTarget("s"), settings=GroupSettings(max_retries=-1)),
        (ValueError,),
    ),
    (
        "a negative metadata max_count",
        lambda s: s.set_stream_metadata("s", StreamMetadata(max_count=-1)),
        (ValueError,),
    ),
    ("a schema that is a number", lambda s: s.upsert_schema(42), (TypeError,)),  # type: ignore[arg-type]
    ("a replay limit below 0", lambda s: s.replay_parked("g", limit=-1), (ValueError,)),
]


@pytest.mark.parametrize(("call", "errors"), [(c, e) for _, c, e in BAD_INPUT], ids=[n for n, _, _ in BAD_INPUT])
def test_bad_input_is_a_clear_error_and_writes_nothing(
    store: Client, call: BadCall, errors: tuple[type[Exception], ...]
) -> None:
    with pytest.raises(errors):
        call(store)
    assert store.head_position() == 0, "nothing was written"
    assert store.list_groups() == []
    # The store goes on.
    assert store.append("after", counted(1)).last_position == 0


def test_bad_options_when_opening(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        graveyard.open(str(tmp_path / "x"), durability="sometimes")
    with pytest.raises(graveyard.InvalidArgumentError):
        graveyard.open(str(tmp_path / "k"), master_key=b"12345")
    with pytest.raises(ValueError, match="map_size"):
        graveyard.open(str(tmp_path / "m"), map_size=-1)


def test_an_int_is_never_taken_for_bytes(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        graveyard.open(str(tmp_path / "k"), durability="none", master_key=32)  # type: ignore[arg-type]
    with graveyard.open(str(tmp_path / "s"), durability="none", master_key=os.urandom(32)) as db:
        db.append("s", counted(1))
        with pytest.raises(TypeError):
            db.save_snapshot("s", 0, 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            db.rotate_master_key(32)  # type: ignore[arg-type]


def test_reads_page_underneath(store: Client) -> None:
    for i in range(10):
        store.append("odd-1" if i % 2 else "even-1", EventData("A" if i % 3 else "B", {"i": i}))
    even = store.read_stream("even-1", page_size=2).to_list()
    assert [e.json()["i"] for e in even] == [0, 2, 4, 6, 8]
    back = store.read_stream("even-1", direction="backwards", page_size=2, max_count=3).to_list()
    assert [e.revision for e in back] == [4, 3, 2]
    assert [e.revision for e in store.read_stream("even-1", direction="backwards", page_size=2)] == [4, 3, 2, 1, 0]
    assert [e.revision for e in store.read_stream("even-1", from_revision=3)] == [3, 4]
    assert [e.revision for e in store.read_stream("even-1", from_revision=1, direction="backwards")] == [1, 0]
    assert [len(p) for p in store.read_all(page_size=4).pages()] == [4, 4, 2]
    assert [len(p) for p in store.read_all(page_size=5).pages()] == [5, 5], "no empty last page"
    assert [len(p) for p in store.read_all(page_size=4, max_count=6).pages()] == [4, 2]
    odd_a = Filter(stream_prefixes=["odd-"], event_types=["A"])
    assert [e.position for e in store.read_all(page_size=3, filter=odd_a)] == [1, 5, 7]
    assert [e.position for e in store.read_all_page(filter=odd_a, max_count=2)] == [1, 5]
    assert [e.position for e in store.read_all(direction="backwards", filter=odd_a)] == [7, 5, 1]
    assert [e.position for e in store.read_all(filter=Filter())] == list(range(10)), "an empty filter is no filter"
    assert [e.position for e in store.read_all(direction="backwards", max_count=1)] == [9]
    assert [e.position for e in store.read_all(from_position=8)] == [8, 9]
    assert [e.revision for e in store.read_stream_page("odd-1", max_count=2)] == [0, 1]
    assert [e.revision for e in store.read_stream_page("odd-1", direction="backwards", from_revision=2)] == [2, 1, 0]
    assert store.read_all_page(from_position=10) == []
    # An iterator: next() and partial reads. The first page is read by a call, each next one
    # started as the page before it is handed out; leaving a loop early starts no further read.
    reads = store.read_all(page_size=2)
    assert next(reads).position == 0
    calls = 0
    ahead = 0
    native = store._native

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(native, name)

        def read_all(self, *args: Any) -> Any:
            nonlocal calls
            calls += 1
            return native.read_all(*args)

        def read_all_submit(self, *args: Any) -> Any:
            nonlocal ahead
            ahead += 1
            return native.read_all_submit(*args)

    store._native = Spy()
    for n, _ in enumerate(store.read_all(page_size=2), 1):
        if n == 3:
            break
    assert (calls, ahead) == (1, 2), "page 1 read, page 2 read ahead, page 3 started while page 2 was handed out"
    # The reads ahead return the pages a plain read would, across every page of a scan.
    assert [e.position for e in store.read_all(page_size=3)] == list(range(10))
    assert ahead == 2 + 3, "pages 2, 3 and 4 (3, 3 and 1 events) read ahead, none after the short one"
    store._native = native
    # A stream with no visible events: nothing from the iterator, NotFoundError from a page read.
    assert store.read_stream("nothing").to_list() == []
    with pytest.raises(graveyard.NotFoundError):
        store.read_stream_page("nothing")
    # Events are values: equal when every field is, picklable, with a readable repr.
    first = store.read_stream_page("even-1", max_count=1)[0]
    assert first == store.read_all_page(max_count=1)[0]
    assert hash(first) == hash(store.read_all_page(max_count=1)[0])
    assert "even-1" in repr(first)
    assert first.to_dict()["revision"] == 0


def test_metadata_stream_info_soft_delete_and_tombstone(store: Client) -> None:
    # Metadata may be set before the stream exists.
    store.set_stream_metadata("s", StreamMetadata(max_count=2))
    store.append("s", [counted(1), counted(2), counted(3)])
    assert store.get_stream_metadata("s") == StreamMetadata(max_count=2)
    assert [e.revision for e in store.read_stream("s")] == [1, 2]
    info = store.stream_info("s")
    assert (info.current, info.next_revision, info.deleted, info.shredded) == (2, 3, False, False)
    assert info.metadata == StreamMetadata(max_count=2)
    week = StreamMetadata(max_age=dt.timedelta(days=7), truncate_before=1)
    store.set_stream_metadata("s", week)
    assert store.get_stream_metadata("s") == week
    assert [e.revision for e in store.read_stream("s")] == [1, 2]
    store.delete_stream("s", expected_version=2)
    assert store.read_stream("s").to_list() == []
    with pytest.raises(graveyard.NotFoundError):
        store.read_stream_page("s")
    assert store.stream_info("s").deleted is True
    store.append("s", counted(4))
    assert [e.revision for e in store.read_stream("s")] == [3], "appending after a soft delete continues"
    assert store.stream_info("s").deleted is False
    store.tombstone_stream("s", expected_version=3)
    with pytest.raises(graveyard.StreamDeletedError) as caught:
        store.append("s", counted(5))
    assert caught.value.stream == "s"
    with pytest.raises(graveyard.StreamDeletedError):
        store.read_stream("s").to_list()
    with pytest.raises(graveyard.StreamDeletedError):
        store.read_stream_page("s")
    with pytest.raises(graveyard.NotFoundError):
        store.stream_info("never")


def test_list_streams_pages_by_name_with_each_stream_s_state(store: Client) -> None:
    assert store.list_streams() == []
    for name in ["order-2", "order-1", "user-1", "order-3"]:
        store.append(name, [counted(1), counted(2)])
    store.delete_stream("order-2")
    store.tombstone_stream("order-3")
    first = store.list_streams(prefix="order-", limit=2)
    assert [s.name for s in first] == ["order-1", "order-2"], "byte order, prefix only"
    rest = store.list_streams(prefix="order-", after=first[-1].name, limit=2)
    assert [s.name for s in rest] == ["order-3"]
    one, two, three = first + rest
    assert (one.next_revision, one.last_position, one.deleted, one.deleted_before, one.tombstoned) == (
        2,
        3,
        False,
        0,
        False,
    )
    assert (two.deleted, two.deleted_before, two.tombstoned, two.shredded) == (True, 2, False, False)
    assert (three.tombstoned, three.next_revision) == (True, 2)
    assert [s.name for s in store.list_streams()] == ["order-1", "order-2", "order-3", "user-1"]
    for limit in (0, 10_001):
        with pytest.raises(graveyard.InvalidArgumentError):
            store.list_streams(limit=limit)
    with pytest.raises(ValueError, match="limit"):
        store.list_streams(limit=-1)


def test_snapshots(store: Client) -> None:
    assert store.get_snapshot("s") is None
    store.append("s", [counted(1), counted(2)])
    store.save_snapshot("s", 1, json.dumps({"total": 3}))
    snap = store.get_snapshot("s")
    assert snap is not None
    assert (snap.stream, snap.revision, json.loads(snap.data)) == ("s", 1, {"total": 3})
    assert abs((snap.timestamp - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 60
    store.save_snapshot("s", 0, b"\x00\xff")
    latest = store.get_snapshot("s")
    assert latest is not None
    assert (latest.revision, latest.data) == (0, b"\x00\xff"), "the latest saved, whatever its revision"


def test_encryption_at_rest_shredding_and_key_rotation(tmp_path: Path) -> None:
    path = str(tmp_path / "enc")
    key = os.urandom(32)
    with graveyard.open(path, durability="none", master_key=key) as store:
        assert store.is_encrypted() is True
        store.append("user-1", EventData("Registered", {"email": "a@example.com"}, metadata={"ip": "1.2.3.4"}))
        store.append("user-2", EventData("Registered", {"email": "b@example.com"}))
        store.save_snapshot("user-1", 0, b"state")
        store.shred_stream("user-1")
        [shredded] = store.read_stream("user-1").to_list()
        assert (shredded.shredded, shredded.data, shredded.metadata) == (True, b"", b"")
        for read in (shredded.json, shredded.text, shredded.metadata_json):
            with pytest.raises(graveyard.ShreddedError) as caught:
                read()
            assert (caught.value.stream, caught.value.revision) == ("user-1", 0)
        with pytest.raises(graveyard.ShreddedError):
            shredded.decode(User)
        assert not isinstance(caught.value, graveyard.GraveyardError), "reading the event succeeded"
        assert store.stream_info("user-1").shredded is True
        with pytest.raises(graveyard.StreamDeletedError):
            store.append("user-1", counted(1))
        key2 = os.urandom(32)
        store.rotate_master_key(key2)
        assert store.read_stream_page("user-2")[0].json() == {"email": "b@example.com"}
    with graveyard.open(path, durability="none", master_key=key2) as reopened:
        assert reopened.read_stream_page("user-2")[0].json() == {"email": "b@example.com"}
    with pytest.raises(graveyard.EncryptionError):
        graveyard.open(path, durability="none", master_key=key)
    with pytest.raises(graveyard.GraveyardError):
        graveyard.open(path, durability="none")
    with graveyard.open(str(tmp_path / "plain"), durability="none") as plain:
        assert plain.is_encrypted() is False
        with pytest.raises(graveyard.InvalidArgumentError):
            plain.rotate_master_key(key2)


def test_close_then_closed_error_twice_harmless_and_with(store: Client, tmp_path: Path) -> None:
    store.append("s", counted(1))
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.append("s", counted(2)),
        lambda: store.read_stream("s").to_list(),
        store.read_all_page,
        store.head_position,
        lambda: store.stream_info("s"),
        store.subscribe_to_all,
        store.list_groups,
    ]
    for call in calls:
        with pytest.raises(graveyard.ClosedError):
            call()
    path = str(tmp_path / "scoped")
    with graveyard.open(path, durability="none") as scoped:
        scoped.append("s", counted(1))
    # Closed at the end of the block: opening with other options works (an open store refuses them).
    with graveyard.open(path, durability="fsync") as again:
        assert len(again.read_stream("s").to_list()) == 1
    opened: list[Client] = []

    def fail_inside() -> None:
        with graveyard.open(path, durability="none") as failing:
            opened.append(failing)
            failing.append("s", counted(2))
            raise RuntimeError("leaving the block by an exception closes it too")

    with pytest.raises(RuntimeError):
        fail_inside()
    with pytest.raises(graveyard.ClosedError):
        opened[0].head_position()


def test_an_open_store_refuses_other_options_and_gc_frees_a_dropped_one(tmp_path: Path) -> None:
    path = str(tmp_path / "gc")

    def dropped() -> None:
        client = graveyard.open(path, durability="none")
        client.append("s", counted(1))
        with pytest.raises(graveyard.InvalidArgumentError):
            graveyard.open(path, durability="fsync")

    dropped()
    gc.collect()
    with graveyard.open(path, durability="fsync") as reopened:
        assert len(reopened.read_stream("s").to_list()) == 1


def test_other_threads_run_during_a_long_native_read(store: Client) -> None:
    batch = [EventData("E", {"i": i, "pad": "x" * 200}) for i in range(1000)]
    for i in range(100):
        store.append(f"s-{i % 7}", batch)
    native = store._native
    shares: list[float] = []
    with Counter() as counter:

        class Spy:
            """The native store, measuring the counter thread while read_all runs in native code."""

            def __getattr__(self, name: str) -> Any:
                return getattr(native, name)

            def read_all(self, *args: Any) -> Any:
                box: list[Any] = []
                shares.append(counter.share_during(lambda: box.append(native.read_all(*args))))
                return box[0]

        store._native = Spy()
        try:
            page = store.read_all_page(max_count=100_000)
        finally:
            store._native = native
    assert len(page) == 100_000
    assert [page[0].position, page[-1].position] == [0, 99_999]
    # Holding the GIL, the call would let the counter make no progress (a share of about 0.01);
    # the threshold leaves room for a loaded machine.
    assert len(shares) == 1
    assert shares[0] > 0.1, f"the counter thread ran at {shares[0]:.3f} of its rate during the native read"


def test_other_threads_run_while_a_subscription_waits(store: Client) -> None:
    with store.subscribe_to_stream("quiet", start="end") as sub, Counter() as counter:
        assert sub.poll(5) is graveyard.CAUGHT_UP
        results: list[object] = []
        share = counter.share_during(lambda: results.append(sub.poll(1.0)))
    assert results == [graveyard.TIMEOUT]
    assert share > 0.1, f"the counter thread ran at {share:.3f} of its rate during poll(1.0)"


def test_many_threads_append_to_one_store_at_once(store: Client) -> None:
    threads, appends = 8, 40
    results: dict[int, list[graveyard.AppendResult]] = {t: [] for t in range(threads)}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(appends):
                results[t].append(
                    store.append(f"own-{t}", [counted(i), counted(i)], expected_version=2 * i - 1 if i else "no_stream")
                )
                results[t].append(store.append("shared", counted(t * appends + i)))
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not any(w.is_alive() for w in workers)
    assert errors == []
    # Every append acknowledged, each with its own place in $all.
    assert all(len(r) == 2 * appends for r in results.values())
    positions = sorted(p for rs in results.values() for r in rs for p in range(r.first_position, r.last_position + 1))
    total = threads * appends * 3
    assert positions == list(range(total))
    assert store.head_position() == total
    shared = store.read_stream("shared").to_list()
    assert [e.revision for e in shared] == list(range(threads * appends))
    assert sorted(e.json()["n"] for e in shared) == list(range(threads * appends))
    for t in range(threads):
        own = store.read_stream(f"own-{t}").to_list()
        assert [e.json()["n"] for e in own] == [i for i in range(appends) for _ in (0, 1)]


def test_a_panic_in_native_code_is_internal_error(store: Client) -> None:
    # The raw call raises uniffi's own InternalError (not a GraveyardError) ...
    with pytest.raises(_native.InternalError) as raw:
        _native.self_test_panic()
    assert not isinstance(raw.value, graveyard.GraveyardError)
    # ... which the SDK's mapping, around every call, turns into graveyard.InternalError.
    with pytest.raises(graveyard.InternalError) as mapped:
        _client._mapped(_native.self_test_panic)
    assert mapped.value.code == "INTERNAL"
    assert "self-test panic" in str(mapped.value)
    # The process goes on, and so does the store.
    assert store.append("s", counted(1)).last_revision == 0


# ---- entities ------------------------------------------------------------------------------------


@graveyard.entity("user")
@dataclass
class User:
    name: Annotated[str, graveyard.Field(min_length=1)]
    age: Annotated[int, graveyard.Field(min=18)]
    tags: list[str] = field(default_factory=list)


@graveyard.entity("order")
class Order(pydantic.BaseModel):
    sku: str = pydantic.Field(min_length=3)
    qty: int = pydantic.Field(ge=1, le=100)
    note: str | None = None


def test_a_dataclass_entity_end_to_end(store: Client) -> None:
    upsert = store.upsert_schema(User)
    assert (upsert.name, upsert.version, upsert.changed) == ("user", 1, True)
    assert store.upsert_schema(User).changed is False
    store.append("user-1", User(name="Ada", age=36, tags=["admin"]), expected_version="no_stream")
    with pytest.raises(graveyard.SchemaViolationError) as caught:
        store.append("user-1", [User(name="Bob", age=40), User(name="", age=12)])
    e = caught.value
    assert (e.schema, e.version, e.event) == ("user", 1, 1)
    assert [(v.path, v.rule, v.value) for v in e.violations] == [("name", "min_length", ""), ("age", "min", 12)]
    assert all(v.message for v in e.violations)
    [read] = store.read_stream("user-1").to_list()
    assert (read.type, read.schema_version, read.content_type) == ("user", 1, "application/json")
    back = read.decode(User)
    assert isinstance(back, User)
    assert back == User(name="Ada", age=36, tags=["admin"])
    assert [s.name for s in store.list_schemas()] == ["user"]
    registered = store.get_schema("user", 1)
    assert (registered.name, registered.version) == ("user", 1)
    assert [f["name"] for f in registered.schema["fields"]] == ["name", "age", "tags"]
    with pytest.raises(graveyard.NotFoundError):
        store.get_schema("user", 2)
    with pytest.raises(graveyard.InvalidSchemaError) as refused:
        store.upsert_schema({"name": "bad", "fields": "not a list"})
    assert refused.value.schema == "bad"
    assert refused.value.problems


def test_a_pydantic_entity_end_to_end(store: Client) -> None:
    assert store.upsert_schema(Order).version == 1
    store.append("order-1", Order(sku="abc", qty=2))
    with pytest.raises(graveyard.SchemaViolationError) as caught:
        # model_construct skips Pydantic's own validation: the store's schema refuses it.
        store.append("order-1", Order.model_construct(sku="ab", qty=0, note=None))
    assert [(v.path, v.rule) for v in caught.value.violations] == [("sku", "min_length"), ("qty", "min")]
    [read] = store.read_stream("order-1").to_list()
    assert read.decode(Order) == Order(sku="abc", qty=2)
    assert read.json() == {"sku": "abc", "qty": 2, "note": None}
    # An EventData of the entity's type is checked as well.
    with pytest.raises(graveyard.SchemaViolationError):
        store.append("order-2", EventData("order", {"sku": "abcd", "qty": 101}))
    assert store.read_stream("order-2").to_list() == []
