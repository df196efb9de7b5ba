"""The packed layouts of docs/boundary.md against the golden vectors of
conformance/boundary_vectors.json (the bytes every SDK decodes and encodes alike), damaged
buffers of every kind, RecordedEvent, and the encoder's checks of what users pass."""

from __future__ import annotations

import copy
import json
import pickle
import random
import re
import struct
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from graveyard._errors import GraveyardError, InternalError, ShreddedError
from graveyard._model import AppendResult, Snapshot
from graveyard._packed import (
    CAUGHT_UP,
    CaughtUp,
    Delivery,
    NewEvent,
    Page,
    RecordedEvent,
    _uuid_checked,
    _uuid_of,
    decode_append_result,
    decode_delivery,
    decode_delivery_batch,
    decode_events,
    decode_indexed_page,
    decode_message_batch,
    decode_page,
    decode_snapshot,
    decode_subscription_message,
    encode_append_result,
    encode_batch,
    encode_delivery,
    encode_events,
    encode_page,
    encode_snapshot,
    encode_subscription_message,
    new_recorded_event,
)


def _vectors_file() -> Path:
    for directory in Path(__file__).resolve().parents:
        candidate = directory / "conformance" / "boundary_vectors.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no conformance/boundary_vectors.json above {__file__}")


VECTORS: dict[str, Any] = json.loads(_vectors_file().read_text(encoding="utf-8"))


def hexb(s: str) -> bytes:
    return bytes.fromhex(s)


def fields_of(v: dict[str, Any]) -> dict[str, Any]:
    """A vector's event as RecordedEvent.to_dict() gives it."""
    return {
        "stream": v["stream"],
        "revision": v["revision"],
        "position": v["position"],
        "timestamp_micros": v["timestamp"],
        "id": uuid.UUID(v["id"]),
        "type": v["type"],
        "content_type": v["content_type"],
        "data": hexb(v["data_hex"]),
        "metadata": hexb(v["metadata_hex"]),
        "shredded": v["shredded"],
        "schema_version": v["schema_version"],
    }


def assert_event(got: object, want: dict[str, Any]) -> None:
    assert isinstance(got, RecordedEvent)
    assert got.to_dict() == fields_of(want)
    assert got.timestamp == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=want["timestamp"])
    assert got.timestamp.tzinfo is timezone.utc


# ---- the golden vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["page", "empty_page"])
def test_golden_pages_decode_to_their_events_and_encode_back(name: str) -> None:
    v = VECTORS[name]
    packed = hexb(v["packed"])
    events = decode_page(packed)
    assert len(events) == len(v["events"])
    for got, want in zip(events, v["events"], strict=False):
        assert_event(got, want)
    assert encode_page(events) == packed


def _index_of(page: bytes) -> bytes:
    """The index the core appends (packed::index_page), from the offsets decode_page keeps."""
    return b"".join(struct.pack("<5I", e._start, e._at, e._ct, e._data, e._meta) for e in decode_page(page))


@pytest.mark.parametrize("name", ["page", "empty_page"])
def test_indexed_pages_decode_as_their_pages(name: str) -> None:
    page = hexb(VECTORS[name]["packed"])
    events = decode_indexed_page(page + _index_of(page))
    assert [e.to_dict() for e in events] == [e.to_dict() for e in decode_page(page)]
    for got, want in zip(events, VECTORS[name]["events"], strict=True):
        assert_event(got, want)
    # An event keeps only its own bytes when pickled, not the page and its index.
    assert [pickle.loads(pickle.dumps(e)) for e in events] == events


def test_a_page_is_a_sequence_of_its_events() -> None:
    raw = hexb(VECTORS["page"]["packed"])
    page = decode_indexed_page(raw + _index_of(raw))
    events = decode_page(raw)
    assert isinstance(page, Page)
    assert len(page) == 2
    assert page == events
    assert page == tuple(events)
    assert page != events[:1]
    assert page != "not a page"
    assert page[0] == events[0]
    assert page[-1] == events[1]
    assert page[-2] == events[0]
    assert page[1:] == events[1:]
    assert page[::-1] == events[::-1]
    assert page[0] is not page[0]  # made on each access, equal
    for bad in (2, -3):
        with pytest.raises(IndexError):
            page[bad]
    assert list(page) == events
    assert list(reversed(page)) == events[::-1]
    assert page.index(events[1]) == 1
    assert events[1] in page
    assert repr(page) == "<Page of 2 events>"
    with pytest.raises(TypeError):
        hash(page)
    with pytest.raises(TypeError):
        Page()
    empty = decode_indexed_page(hexb(VECTORS["empty_page"]["packed"]))
    assert len(empty) == 0
    assert list(empty) == []
    assert empty == []


def test_indexed_pages_that_do_not_fit_their_index_are_refused() -> None:
    page = hexb(VECTORS["page"]["packed"])
    index = _index_of(page)
    assert_damaged(decode_indexed_page, b"")
    assert_damaged(decode_indexed_page, page)  # no index
    assert_damaged(decode_indexed_page, page + index[:-1])
    assert_damaged(decode_indexed_page, page + index + b"\0")
    assert_damaged(decode_indexed_page, page + b"\0" + index)
    assert_damaged(decode_indexed_page, with_u32(page, 0, 0xFFFFFFFF) + index)
    assert_damaged(decode_indexed_page, hexb(VECTORS["empty_page"]["packed"]) + b"\0")
    # The first event not at 4, the last one's metadata elsewhere.
    assert_damaged(decode_indexed_page, page + with_u32(index, 0, 5))
    assert_damaged(decode_indexed_page, page + with_u32(index, len(index) - 4, struct.unpack_from("<I", index, 16)[0]))


def test_golden_page_keeps_its_shredded_event() -> None:
    events = decode_page(hexb(VECTORS["page"]["packed"]))
    assert len(events) == 2
    live, shredded = events
    assert not live.shredded
    assert live.schema_version == 3
    assert live.data == b'{"qty":2}'
    assert live.metadata == b"m"
    assert shredded.shredded
    assert shredded.data == b""
    assert shredded.metadata == b""
    assert shredded.schema_version is None
    assert shredded.id == uuid.UUID("0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7e")
    assert live.timestamp == datetime(2024, 12, 4, 8, 13, 20, tzinfo=timezone.utc)


def test_golden_subscription_messages() -> None:
    packed = hexb(VECTORS["subscription_event"]["packed"])
    m = decode_subscription_message(packed)
    assert isinstance(m, RecordedEvent)
    assert_event(m, VECTORS["subscription_event"]["event"])
    assert encode_subscription_message(m) == packed

    caught_up = decode_subscription_message(hexb(VECTORS["caught_up"]["packed"]))
    assert caught_up is CAUGHT_UP
    assert isinstance(caught_up, CaughtUp)
    assert repr(caught_up) == "CAUGHT_UP"
    assert encode_subscription_message(caught_up) == hexb(VECTORS["caught_up"]["packed"])
    assert pickle.loads(pickle.dumps(CAUGHT_UP)) is CAUGHT_UP


def test_golden_delivery() -> None:
    v = VECTORS["delivery"]
    packed = hexb(v["packed"])
    d = decode_delivery(packed)
    assert isinstance(d, Delivery)
    assert d.id == int(v["id"])
    assert d.id == (1 << 63) + 2, "a replayed copy: the top bit set"
    assert d.attempt == v["attempt"] == 3
    assert d.parked_revision == v["parked_revision"] == 2
    assert_event(d.event, v["event"])
    assert encode_delivery(d) == packed

    # Not parked: -1.
    not_parked = packed[:12] + struct.pack("<q", -1) + packed[20:]
    assert decode_delivery(not_parked).parked_revision is None
    assert encode_delivery(decode_delivery(not_parked)) == not_parked

    # A factory makes the caller's own objects.
    made = decode_delivery(packed, lambda i, attempt, parked, event: (i, attempt, parked, event.stream))
    assert made == (d.id, 3, 2, "order-1")


def test_golden_snapshot() -> None:
    v = VECTORS["snapshot"]
    packed = hexb(v["packed"])
    s = decode_snapshot(packed)
    assert s == Snapshot(stream=v["stream"], revision=v["revision"], timestamp_micros=v["timestamp"], data=b"state")
    assert s.data == hexb(v["data_hex"])
    assert s.timestamp_micros == -1
    # One microsecond before 1970, exactly.
    assert s.timestamp == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert encode_snapshot(s) == packed


def test_golden_append_result() -> None:
    v = VECTORS["append_result"]
    packed = hexb(v["packed"])
    r = decode_append_result(packed)
    assert r == AppendResult.from_json(v["result"])
    assert r == AppendResult(first_revision=4, last_revision=5, first_position=100, last_position=101)
    assert encode_append_result(r) == packed
    assert r.to_json() == v["result"]


def _vector_events() -> list[NewEvent]:
    return [
        NewEvent(
            id=e["id"],
            type=e["type"],
            content_type=e["content_type"],
            data=hexb(e["data_hex"]),
            metadata=hexb(e["metadata_hex"]),
        )
        for e in VECTORS["append_events"]["events"]
    ]


def test_golden_events_to_append_encode_to_their_bytes_and_decode_back() -> None:
    events = _vector_events()
    assert events[1].id is None, "the vector keeps its event without an id"
    packed = hexb(VECTORS["append_events"]["packed"])
    assert encode_events(events) == packed
    decoded = decode_events(packed)
    assert decoded == [e._replace(id=None if e.id is None else uuid.UUID(str(e.id))) for e in events]

    # The same bytes from: uppercase ids, uuid.UUID ids, no metadata as None, other bytes-likes,
    # a tuple, a generator.
    variants: list[NewEvent] = []
    for e in events:
        variants.append(
            e._replace(
                id=None if e.id is None else str(e.id).upper(),
                metadata=e.metadata or None,
            )
        )
    assert encode_events(variants) == packed
    assert encode_events([e._replace(id=None if e.id is None else uuid.UUID(str(e.id))) for e in events]) == packed
    assert encode_events(tuple(events)) == packed
    assert encode_events(e for e in events) == packed  # type: ignore[arg-type]
    as_bytearrays = [
        e._replace(data=bytearray(e.data), metadata=memoryview(e.metadata or b""))  # type: ignore[arg-type]
        for e in events
    ]
    assert encode_events(as_bytearrays) == packed

    # No events: a count of 0 (the store refuses the append, not the encoder).
    assert encode_events([]) == b"\x00\x00\x00\x00"
    assert decode_events(b"\x00\x00\x00\x00") == []


def test_events_to_append_in_any_script() -> None:
    events = [
        NewEvent(uuid.UUID(int=i), "Commandé→€𝄞" * i, "text/plain; charset=utf-8", "héllo".encode() * i, b"\xff" * i)
        for i in range(4)
    ]
    packed = encode_events(events)
    assert decode_events(packed) == events
    # The lengths are of the UTF-8 bytes, not of the characters.
    assert struct.unpack_from("<I", packed, 4 + 1 + 16)[0] == len("")
    second = 4 + len(encode_events(events[:1])) - 4
    assert struct.unpack_from("<I", packed, second + 1 + 16)[0] == len("Commandé→€𝄞".encode())


def test_events_to_append_any_object_with_the_attributes() -> None:
    class Mine:
        def __init__(self) -> None:
            self.id = None
            self.type = "T"
            self.content_type = "application/octet-stream"
            self.data = b"\x01"
            self.metadata = None

    packed = encode_events([Mine()])
    assert decode_events(packed) == [NewEvent(None, "T", "application/octet-stream", b"\x01", b"")]
    # A type repeated across events is the same bytes each time.
    two = decode_events(encode_events([Mine(), Mine()]))
    assert [e.type for e in two] == ["T", "T"]


def test_batches_of_a_session() -> None:
    event = hexb(VECTORS["subscription_event"]["packed"])
    caught_up = hexb(VECTORS["caught_up"]["packed"])
    batch = encode_batch([event, caught_up, event])
    messages = decode_message_batch(batch)
    assert [m is CAUGHT_UP for m in messages] == [False, True, False]
    assert [encode_subscription_message(m) for m in messages] == [event, caught_up, event]
    first = messages[0]
    assert isinstance(first, RecordedEvent)
    assert_event(first, VECTORS["subscription_event"]["event"])
    assert first == messages[2]

    delivery = hexb(VECTORS["delivery"]["packed"])
    deliveries = decode_delivery_batch(encode_batch([delivery, delivery]))
    assert len(deliveries) == 2
    assert [encode_delivery(d) for d in deliveries] == [delivery, delivery]
    assert decode_delivery_batch(encode_batch([delivery]), lambda i, _a, _p, _e: i) == [int(VECTORS["delivery"]["id"])]
    assert decode_message_batch(b"\x00\x00\x00\x00") == []
    assert decode_delivery_batch(b"\x00\x00\x00\x00") == []


# ---- damaged buffers -------------------------------------------------------------------------------

DAMAGED = re.compile(r"^the native layer returned a malformed .*at offset \d+ of \d+ bytes")


def assert_damaged(decode: Callable[[bytes], object], buf: bytes) -> InternalError:
    with pytest.raises(InternalError) as info:
        decode(buf)
    e = info.value
    assert e.code == "INTERNAL"
    assert DAMAGED.search(str(e)), str(e)
    return e


def _page_fields(b: bytes) -> list[dict[str, Any]]:
    return [e.to_dict() for e in decode_page(b)]


DECODERS: dict[str, tuple[Callable[[bytes], object], bytes]] = {
    "page": (_page_fields, hexb(VECTORS["page"]["packed"])),
    "empty page": (decode_page, hexb(VECTORS["empty_page"]["packed"])),
    "message": (decode_subscription_message, hexb(VECTORS["subscription_event"]["packed"])),
    "caught up": (decode_subscription_message, hexb(VECTORS["caught_up"]["packed"])),
    "delivery": (decode_delivery, hexb(VECTORS["delivery"]["packed"])),
    "snapshot": (decode_snapshot, hexb(VECTORS["snapshot"]["packed"])),
    "append result": (decode_append_result, hexb(VECTORS["append_result"]["packed"])),
    "events to append": (decode_events, hexb(VECTORS["append_events"]["packed"])),
    "message batch": (
        decode_message_batch,
        encode_batch([hexb(VECTORS["subscription_event"]["packed"]), hexb(VECTORS["caught_up"]["packed"])]),
    ),
    "delivery batch": (
        decode_delivery_batch,
        encode_batch([hexb(VECTORS["delivery"]["packed"]), hexb(VECTORS["delivery"]["packed"])]),
    ),
}


@pytest.mark.parametrize("name", list(DECODERS))
def test_damaged_truncated_anywhere_or_with_trailing_bytes(name: str) -> None:
    decode, good = DECODERS[name]
    decode(good)
    assert len(good) > 0
    for n in range(len(good)):
        assert_damaged(decode, good[:n])
    assert_damaged(decode, good + b"\x00")
    assert_damaged(decode, good + b"\xff" * 70)


def with_u32(b: bytes, at: int, v: int) -> bytes:
    return b[:at] + struct.pack("<I", v) + b[at + 4 :]


def test_damaged_counts_refused_before_allocating() -> None:
    page = hexb(VECTORS["page"]["packed"])
    for count in (3, 4, 100, 1 << 20, 0xFFFFFFFF):
        e = assert_damaged(decode_page, with_u32(page, 0, count))
        if count > 3:
            assert f"a count of {count} events, more than {len(page)} bytes can hold" in str(e)
    e = assert_damaged(decode_page, b"\xff\xff\xff\xff")
    assert "a count of 4294967295 events" in str(e)
    assert_damaged(decode_message_batch, b"\xff\xff\xff\xff")
    assert_damaged(decode_delivery_batch, b"\xff\xff\xff\xff")
    assert_damaged(decode_events, with_u32(hexb(VECTORS["append_events"]["packed"]), 0, 0xFFFFFFFF))
    # A count smaller than the events: trailing bytes.
    e = assert_damaged(decode_page, with_u32(page, 0, 1))
    assert "trailing bytes" in str(e)
    assert_damaged(decode_events, with_u32(hexb(VECTORS["append_events"]["packed"]), 0, 1))
    assert_damaged(decode_message_batch, with_u32(encode_batch([b"\x00", b"\x00"]), 0, 1))


def test_damaged_lengths_of_every_field() -> None:
    page = hexb(VECTORS["page"]["packed"])
    for length in (2**31, 0xFFFFFFFF, len(page), len(page) - 8):
        assert_damaged(decode_page, with_u32(page, 4, length))
    first = decode_page(page)[0]
    type_at = 4 + 4 + len(first.stream.encode()) + 40
    content_type_at = type_at + 4 + len(first.type.encode())
    data_at = content_type_at + 4 + len(first.content_type.encode())
    metadata_at = data_at + 4 + len(first.data)
    for what, at in (
        ("event type", type_at),
        ("content type", content_type_at),
        ("data", data_at),
        ("metadata", metadata_at),
    ):
        e = assert_damaged(decode_page, with_u32(page, at, 0xFFFFFFFF))
        assert f"event 0: {what}" in str(e), str(e)
        assert_damaged(decode_page, with_u32(page, at, len(page) - at))
        # One byte longer: the next fields shift, and the page no longer adds up.
        assert_damaged(decode_page, with_u32(page, at, struct.unpack_from("<I", page, at)[0] + 1))
    # The same in the one event of a message and of a delivery.
    message = hexb(VECTORS["subscription_event"]["packed"])
    assert_damaged(decode_subscription_message, with_u32(message, 1, 0xFFFFFFFF))
    assert_damaged(decode_subscription_message, with_u32(message, 1 + type_at - 4, 200))
    delivery = hexb(VECTORS["delivery"]["packed"])
    assert_damaged(decode_delivery, with_u32(delivery, 20, 0xFFFFFFFF))
    assert_damaged(decode_delivery, with_u32(delivery, 20 + data_at - 4, 3))
    snapshot = hexb(VECTORS["snapshot"]["packed"])
    assert_damaged(decode_snapshot, with_u32(snapshot, 0, 0xFFFFFFFF))
    assert_damaged(decode_snapshot, with_u32(snapshot, len(snapshot) - 9, 6))


def test_damaged_flags_and_tags() -> None:
    page = hexb(VECTORS["page"]["packed"])
    # The shredded flag is the 5th byte from the end of the page.
    assert page[-5] == 1
    for flags in (2, 3, 0x80, 0xFF):
        e = assert_damaged(decode_page, page[:-5] + bytes((flags,)) + page[-4:])
        assert "unknown event flags" in str(e)
    message = hexb(VECTORS["subscription_event"]["packed"])
    assert_damaged(decode_subscription_message, message[:-5] + b"\x02" + message[-4:])
    delivery = hexb(VECTORS["delivery"]["packed"])
    assert_damaged(decode_delivery, delivery[:-5] + b"\x04" + delivery[-4:])

    events = hexb(VECTORS["append_events"]["packed"])
    assert events[4] == 1
    for flags in (2, 3):
        e = assert_damaged(decode_events, events[:4] + bytes((flags,)) + events[5:])
        assert "unknown flags" in str(e)

    for tag in (2, 0xFF):
        e = assert_damaged(decode_subscription_message, bytes((tag,)) + message[1:])
        assert f"unknown message tag {tag}" in str(e)
    assert_damaged(decode_subscription_message, b"")
    assert_damaged(decode_subscription_message, b"\x00\x00")
    assert_damaged(decode_message_batch, encode_batch([b"\x02"]))
    assert_damaged(decode_message_batch, encode_batch([b""]))


def test_damaged_parked_revision_and_batch_items() -> None:
    delivery = hexb(VECTORS["delivery"]["packed"])
    for parked in (-2, -(2**63)):
        e = assert_damaged(decode_delivery, delivery[:12] + struct.pack("<q", parked) + delivery[20:])
        assert "parked revision" in str(e)
    # An item longer than the batch; an item whose length cuts its delivery short.
    assert_damaged(decode_message_batch, with_u32(encode_batch([b"\x00"]), 4, 2))
    assert_damaged(decode_delivery_batch, with_u32(encode_batch([delivery]), 4, len(delivery) - 1))
    # A damaged item names its place in the batch.
    e = assert_damaged(decode_delivery_batch, encode_batch([delivery, delivery[:-1] + b"\x00\x00"]))
    assert "(item 1)" in str(e)
    assert "of the item at offset" in str(e)


def test_damaged_strings_that_are_not_utf8_are_refused_where_read() -> None:
    fields = fields_of(VECTORS["page"]["events"][0])
    page = encode_page([new_recorded_event(**fields)])
    # The stream name 'order-1' becomes 'order\xff1': one byte, the same length.
    at = 4 + 4 + len("order")
    bad = page[:at] + b"\xff" + page[at + 1 :]
    (e,) = decode_page(bad)
    assert e.type == "OrderPlaced", "the other fields read"
    with pytest.raises(InternalError, match=r"a stream name that is not UTF-8 at offset \d+"):
        _ = e.stream
    assert repr(e).startswith("<RecordedEvent, damaged: ")
    type_at = 4 + 4 + len("order-1") + 40 + 4
    for raw in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"):
        b = encode_page([new_recorded_event(**{**fields, "type": "x" * len(raw)})])
        b = b[:type_at] + raw + b[type_at + len(raw) :]
        with pytest.raises(InternalError, match="an event type that is not UTF-8"):
            _ = decode_page(b)[0].type
    content_type_at = type_at + len("OrderPlaced") + 4
    b = page[:content_type_at] + b"\x80" + page[content_type_at + 1 :]
    with pytest.raises(InternalError, match="a content type that is not UTF-8"):
        _ = decode_page(b)[0].content_type
    # U+FFFD itself is text.
    assert new_recorded_event(**{**fields, "stream": "a\ufffdb"}).stream == "a\ufffdb"
    # The eager decoders refuse at once.
    snapshot = encode_snapshot(Snapshot(stream="ab", revision=1, timestamp_micros=0, data=b""))
    assert_damaged(decode_snapshot, snapshot[:4] + b"\x80" + snapshot[5:])
    events = encode_events([NewEvent(None, "ab", "c", b"")])
    assert_damaged(decode_events, events[: 4 + 1 + 4] + b"\xfe" + events[4 + 1 + 5 :])


@pytest.mark.parametrize("name", list(DECODERS))
def test_damaged_at_random_decoded_or_refused_never_a_crash(name: str) -> None:
    decode, good = DECODERS[name]
    rng = random.Random(f"graveyard {name}")
    decoded = refused = 0
    for _ in range(1500):
        b = bytearray(good)
        for _ in range(1 + rng.randrange(4)):
            kind = rng.randrange(3)
            if kind == 0 and b:
                b[rng.randrange(len(b))] = rng.randrange(256)
            elif kind == 1 and len(b) >= 4:
                # A length field blown up.
                at = rng.randrange(len(b) - 3)
                b[at : at + 4] = struct.pack("<I", rng.randrange(2**32))
            else:
                b = b[: rng.randrange(len(b) + 1)]
        try:
            result = decode(bytes(b))
        except InternalError:
            refused += 1
            continue
        decoded += 1
        if name == "page":
            # What decodes reads whole (or its strings are refused), and is exactly its bytes again.
            again = encode_page(new_recorded_event(**f) for f in result)  # type: ignore[attr-defined]
            assert again == bytes(b)
    assert refused > 0
    assert decoded > 0, "some damage leaves a readable buffer"


def test_damaged_not_bytes() -> None:
    page = hexb(VECTORS["page"]["packed"])
    # Other bytes-likes are read as their bytes; anything else is a TypeError.
    assert decode_page(bytearray(page)) == decode_page(page)  # type: ignore[arg-type]
    assert decode_page(memoryview(page))[0].data == b'{"qty":2}'  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be bytes"):
        decode_page("00000000")  # type: ignore[arg-type]


# ---- RecordedEvent ---------------------------------------------------------------------------------


def _event(**changes: Any) -> RecordedEvent:
    return new_recorded_event(**{**fields_of(VECTORS["page"]["events"][0]), **changes})


def test_recorded_event_json_text_metadata_json() -> None:
    e = _event(metadata=b'{"by":"me","big":18446744073709551617}')
    assert e.json() == {"qty": 2}
    assert e.text() == '{"qty":2}'
    assert e.metadata_json() == {"by": "me", "big": 18446744073709551617}
    assert _event(metadata=b"").metadata_json() is None

    binary = _event(content_type="application/octet-stream")
    with pytest.raises(ValueError, match="has content type 'application/octet-stream', not 'application/json'"):
        binary.json()
    with pytest.raises(ValueError, match="its data is not JSON") as info:
        _event(data=b"{nope").json()
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    with pytest.raises(ValueError, match="its metadata is not JSON"):
        _event(metadata=b"x").metadata_json()
    with pytest.raises(UnicodeDecodeError):
        _event(data=b"\xff").text()


def test_recorded_event_shredded_raises_on_its_data() -> None:
    shredded = decode_page(hexb(VECTORS["page"]["packed"]))[1]
    for read in (shredded.json, shredded.text, shredded.metadata_json):
        with pytest.raises(ShreddedError, match="was shredded") as info:
            read()
        assert info.value.stream == "order-1"
        assert info.value.revision == 1
        assert not isinstance(info.value, GraveyardError)
    assert pickle.loads(pickle.dumps(info.value)).revision == 1


def test_recorded_event_values_equality_hash_pickle_repr() -> None:
    a = decode_page(hexb(VECTORS["page"]["packed"]))[0]
    b = decode_subscription_message(hexb(VECTORS["subscription_event"]["packed"]))
    assert a == b, "the same fields in different buffers"
    assert hash(a) == hash(b)
    assert a != _event(revision=1)
    assert a != _event(schema_version=None)
    assert a != _event(shredded=True)
    assert a != "an event"
    assert len({a, b, _event(position=8)}) == 2
    assert new_recorded_event(**a.to_dict()) == a

    restored = pickle.loads(pickle.dumps(a))
    assert restored == a
    assert restored.to_dict() == a.to_dict()
    # A pickled event carries its own bytes, not its page.
    assert restored._buf == struct.pack("<I", 1) + a._span()
    assert copy.copy(a) == a
    assert copy.deepcopy(a) == a

    shown = repr(a)
    assert shown.startswith("RecordedEvent(stream='order-1', revision=0, position=7, timestamp=2024-12-04T08:13:20")
    assert "id=0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d" in shown
    assert "data=b'{\"qty\":2}'" in shown
    long = repr(_event(data=b"x" * 1000))
    assert "(1000 bytes)" in long
    assert len(long) < 500


def test_recorded_event_is_read_only_and_made_by_reads() -> None:
    e = _event()
    with pytest.raises(AttributeError):
        e.revision = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        e.other = 3  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="new_recorded_event"):
        RecordedEvent()


def test_recorded_event_fields_at_their_limits_and_in_any_script() -> None:
    fields: dict[str, Any] = {
        "stream": "ordér-☃-𝄞",
        "revision": 2**64 - 1,
        "position": 2**53 + 1,
        "timestamp_micros": -(2**63),
        "id": uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        "type": "Type→€",
        "content_type": "text/plain; charset=utf-8",
        "data": "héllo".encode(),
        "metadata": b"",
        "shredded": False,
        "schema_version": 0xFFFFFFFF,
    }
    e = new_recorded_event(**fields)
    assert e.to_dict() == fields
    # Outside datetime's years: the timestamp says so, timestamp_micros stays exact.
    with pytest.raises(OverflowError, match="timestamp_micros"):
        _ = e.timestamp
    assert "µs" in repr(e)
    other = {**fields, "revision": 0, "timestamp_micros": 2**63 - 1, "stream": "s"}
    page = encode_page([e, new_recorded_event(**other), e])
    events = decode_page(page)
    assert [x.to_dict() for x in events] == [fields, other, fields]
    assert encode_page(events) == page


def test_new_recorded_event_checks_its_values() -> None:
    assert isinstance(new_recorded_event(stream="s", type="t").id, uuid.UUID)
    with pytest.raises(ValueError, match="revision"):
        new_recorded_event(stream="s", type="t", revision=-1)
    with pytest.raises(ValueError, match="timestamp_micros"):
        new_recorded_event(stream="s", type="t", timestamp_micros=2**63)
    with pytest.raises(ValueError, match="schema_version"):
        new_recorded_event(stream="s", type="t", schema_version=0)
    with pytest.raises(TypeError, match="stream must be a str"):
        new_recorded_event(stream=b"s", type="t")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shredded must be a bool"):
        new_recorded_event(stream="s", type="t", shredded=1)  # type: ignore[arg-type]


def test_fast_uuids_are_uuids() -> None:
    rng = random.Random(5)
    for _ in range(200):
        raw = rng.randbytes(16)
        fast, real = _uuid_of(raw), _uuid_checked(raw)
        assert fast == real
        assert hash(fast) == hash(real)
        assert str(fast) == str(real)
        assert fast.bytes == raw
        assert fast.version == real.version
        assert pickle.loads(pickle.dumps(fast)) == real
        with pytest.raises(TypeError):
            fast.int = 5  # type: ignore[misc]


# ---- the encoder's checks --------------------------------------------------------------------------


def _new(**changes: Any) -> NewEvent:
    return NewEvent(id=None, type="t", content_type="c", data=b"x")._replace(**changes)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d0",
        "0190b0c47d8e7a3b9c1d2e3f4a5b6c7d",
        "{0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d}",
        "urn:uuid:0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d",
        "0190b0c4_7d8e-7a3b-9c1d-2e3f4a5b6c7d",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7g",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7\u0660",
        " 0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7",
        "0190b0c4-7d8e-7a3b-9c1d+2e3f4a5b6c7d",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c-d",
        "0190b0c4-7d8e-7a3b-9c1d-2e3f4a5b6c7d\n",
    ],
)
def test_encoder_refuses_ids_that_are_not_uuid_text(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^event 1: id .* is not a UUID \(8-4-4-4-12 hex digits\)$"):
        encode_events([_new(), _new(id=bad)])


def test_encoder_ids() -> None:
    text = "0190B0C4-7D8E-7A3B-9C1D-2E3F4A5B6C7D"
    packed = encode_events([_new(id=text)])
    assert decode_events(packed)[0].id == uuid.UUID(text)
    assert packed[4] == 1
    assert packed[5:21] == uuid.UUID(text).bytes
    assert encode_events([_new(id=None)])[4] == 0
    with pytest.raises(TypeError, match=r"^event 0: id must be a uuid.UUID, a UUID's text or None, not int$"):
        encode_events([_new(id=42)])
    with pytest.raises(TypeError, match="not bytes"):
        encode_events([_new(id=uuid.UUID(text).bytes)])


class _HugeBytes(bytes):
    def __len__(self) -> int:
        return 2**32


class _HugeStr(str):
    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return _HugeBytes()


class _HugeList(list[NewEvent]):
    def __len__(self) -> int:
        return 2**32


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        (None, TypeError, r"^event 1 must have the attributes id, type, content_type, data and metadata"),
        ({"type": "t"}, TypeError, r"^event 1 must have the attributes .* not dict$"),
        (_new(type=5), TypeError, r"^event 1: type must be a str, not int$"),
        (_new(type=b"t"), TypeError, r"^event 1: type must be a str, not bytes$"),
        (_new(type=["t"]), TypeError, r"^event 1: type must be a str, not list$"),
        (_new(content_type=None), TypeError, r"^event 1: content_type must be a str, not NoneType$"),
        (_new(data="x"), TypeError, r"^event 1: data must be bytes, not str$"),
        (_new(data=None), TypeError, r"^event 1: data must be bytes, not NoneType$"),
        (_new(metadata=5), TypeError, r"^event 1: metadata must be bytes, not int$"),
        (_new(type="a\ud800b"), ValueError, r"^event 1: type has a lone surrogate"),
        (_new(content_type="\udc00"), ValueError, r"^event 1: content_type has a lone surrogate"),
        (_new(type=_HugeStr("t")), ValueError, r"^event 1: type is 4294967296 bytes, more than 2\*\*32-1$"),
        (_new(data=_HugeBytes(b"x")), ValueError, r"^event 1: data is 4294967296 bytes, more than 2\*\*32-1$"),
        (_new(metadata=_HugeBytes(b"x")), ValueError, r"^event 1: metadata is 4294967296 bytes, more than 2\*\*32-1$"),
    ],
)
def test_encoder_refuses_values_of_the_wrong_type_naming_the_event(
    event: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        encode_events([_new(), event])  # type: ignore[list-item]


def test_encoder_refuses_what_is_not_a_list_of_events() -> None:
    for events in ("abc", b"abc", {"a": 1}, 5, None):
        with pytest.raises(TypeError, match="must be a list of events"):
            encode_events(events)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="4294967296 events in one append"):
        encode_events(_HugeList())
