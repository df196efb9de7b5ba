"""The packed layouts of docs/boundary.md ("Packed layouts"): the events of an append (encoded
here, read by the core), read pages, subscription messages, deliveries, append results and
snapshots (made by the core, decoded here), and the batches in which the native layer's
sessions hand out messages and deliveries. Little-endian throughout.

The decoders read buffers the SDK's own native layer made, so a buffer they cannot read is a
bug: an InternalError saying "the native layer returned a malformed ...", what was wrong and
the offset, never a read out of bounds, a wrong value or a crash. They check every length
against the buffer, refuse unknown flag bits and tags, and refuse trailing bytes.

The encoders of the core's layouts (encode_page, encode_delivery...) are the reference for the
tests and for fakes of the native layer; the SDK itself only encodes events to append.
"""

from __future__ import annotations

import builtins
import enum
import json
import re
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple, NoReturn, Protocol, TypeVar, Union, cast, overload

from . import _model
from ._errors import InternalError, ShreddedError
from ._model import AppendResult, Snapshot

__all__ = [
    "CAUGHT_UP",
    "CaughtUp",
    "Delivery",
    "EventToEncode",
    "NewEvent",
    "Page",
    "RecordedEvent",
    "SubscriptionMessage",
    "decode_append_result",
    "decode_delivery",
    "decode_delivery_batch",
    "decode_events",
    "decode_indexed_page",
    "decode_message_batch",
    "decode_page",
    "decode_snapshot",
    "decode_subscription_message",
    "encode_append_result",
    "encode_batch",
    "encode_delivery",
    "encode_events",
    "encode_page",
    "encode_snapshot",
    "encode_subscription_message",
    "new_recorded_event",
]

_HAS_ID: Final = 1
"""Flag bit of an event to append: an id follows."""
_SHREDDED: Final = 1
"""Flag bit of a read event: its stream's key was destroyed."""
_TAG_CAUGHT_UP: Final = 0
_TAG_EVENT: Final = 1
_MIN_EVENT: Final = 4 + 8 + 8 + 8 + 16 + 4 + 4 + 4 + 4 + 1 + 4
"""The fewest bytes a read event takes: every length 0, every fixed field."""
_MIN_DELIVERY: Final = 8 + 4 + 8 + _MIN_EVENT
_MIN_EVENT_TO_APPEND: Final = 1 + 4 + 4 + 4 + 4
_U32_MAX: Final = 0xFFFFFFFF

# Bound methods of compiled structs: the cheapest reads Python has (one C call, no format parsing).
# Typed as what they return, so that the hot properties return their values without an int().
_u32_at: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<I").unpack_from
_u64_at: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<Q").unpack_from
_i64_at: Final[Callable[[bytes, int], tuple[int]]] = struct.Struct("<q").unpack_from
_delivery_head_at = struct.Struct("<QIq").unpack_from
_append_result = struct.Struct("<QQQQ")
_pack_u32 = struct.Struct("<I").pack
_pack_event_fixed = struct.Struct("<QQq").pack
_pack_flags_version = struct.Struct("<BI").pack
_pack_delivery_head = struct.Struct("<QIq").pack
_pack_snapshot_fixed = struct.Struct("<Qq").pack

_new_object = object.__new__


def _uuid_checked(b: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=b)


# The setters of UUID's two slots (member descriptors), which skip its __setattr__ (it refuses
# every assignment) and the name lookup of object.__setattr__: 320 ns per UUID instead of 410.
def _uuid_slot_setter(name: str) -> Callable[[uuid.UUID, Any], None]:
    setter = getattr(uuid.UUID.__dict__.get(name), "__set__", None)
    if setter is None:  # another UUID: _pick_uuid_maker then falls back to the constructor

        def refuse(u: uuid.UUID, value: object) -> None:
            raise TypeError(f"uuid.UUID has no slot {name}")

        return refuse
    return cast(Callable[[uuid.UUID, Any], None], setter)


_set_uuid_int: Final = _uuid_slot_setter("int")
_set_uuid_safe: Final = _uuid_slot_setter("is_safe")
_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown
_int_from_bytes: Final = int.from_bytes


def _uuid_fast(b: bytes) -> uuid.UUID:
    # UUID.__init__ parses its arguments in Python (about 3x the cost of this): the 16 bytes
    # are known good, so the two slots it would set are set directly.
    u = _new_object(uuid.UUID)
    _set_uuid_int(u, _int_from_bytes(b, "big"))
    _set_uuid_safe(u, _UNKNOWN_SAFETY)
    return u


def _pick_uuid_maker() -> Callable[[bytes], uuid.UUID]:
    # Checked once against the real constructor, so that a Python whose UUID keeps other slots
    # falls back to it instead of making broken UUIDs.
    probe = bytes(range(0xF0, 0x100))
    try:
        fast, real = _uuid_fast(probe), uuid.UUID(bytes=probe)
        if fast == real and str(fast) == str(real) and hash(fast) == hash(real) and fast.bytes == probe:
            return _uuid_fast
    except Exception:  # any surprise means: use the constructor
        return _uuid_checked
    return _uuid_checked


_uuid_of: Final = _pick_uuid_maker()


class _BadBufferError(Exception):
    """Something the fast paths found wrong; the slow paths (_explain...) say what."""


def _damaged(what: str, why: str, at: int, buf: bytes, *, start: int = 0, end: int | None = None) -> NoReturn:
    size = len(buf)
    if end is None:
        end = size
    where = f"at offset {at - start} of {end - start} bytes"
    if start != 0 or end != size:
        where += f" (of the item at offset {start} of a buffer of {size} bytes)"
    raise InternalError(f"the native layer returned a malformed {what}: {why} {where}")


def _as_bytes(buf: object, what: str) -> bytes:
    # The native layer hands out bytes; anything else bytes-like is copied once so that every
    # field of a RecordedEvent is bytes (a slice of a bytearray would be a bytearray).
    if isinstance(buf, (bytearray, memoryview)):
        return bytes(buf)
    raise TypeError(f"a packed {what} must be bytes, not {type(buf).__name__}")


class _Reader:
    """A bounds-checked cursor, for the layouts off the hot path and for saying what is wrong
    with a buffer a fast path refused."""

    __slots__ = ("buf", "end", "pos", "start", "what")

    def __init__(self, buf: bytes, start: int, end: int, what: str) -> None:
        self.buf = buf
        self.start = start
        self.end = end
        self.pos = start
        self.what = what

    def damaged(self, why: str, at: int) -> NoReturn:
        _damaged(self.what, why, at, self.buf, start=self.start, end=self.end)

    def skip(self, n: int, field: str) -> int:
        """Checks that n bytes are left and moves past them; returns where they start."""
        at = self.pos
        if n > self.end - at:
            self.damaged(f"{field} ({n} bytes) past the end", at)
        self.pos = at + n
        return at

    def u8(self, field: str) -> int:
        return self.buf[self.skip(1, field)]

    def u32(self, field: str) -> int:
        return int(_u32_at(self.buf, self.skip(4, field))[0])

    def u64(self, field: str) -> int:
        return int(_u64_at(self.buf, self.skip(8, field))[0])

    def i64(self, field: str) -> int:
        return int(_i64_at(self.buf, self.skip(8, field))[0])

    def blob(self, field: str) -> bytes:
        length_at = self.pos
        n = self.u32(f"{field} length")
        if n > self.end - self.pos:
            self.damaged(f"{field} of {n} bytes past the end", length_at)
        at = self.pos
        self.pos = at + n
        return self.buf[at : at + n]

    def text(self, field: str) -> str:
        at = self.pos
        raw = self.blob(field)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.damaged(f"{field} that is not UTF-8", at)

    def done(self) -> None:
        if self.pos != self.end:
            self.damaged(f"{self.end - self.pos} trailing bytes", self.pos)


def _check_event(r: _Reader, label: str) -> None:
    """Reads a read event with every check, naming the first thing wrong (raises)."""
    r.blob(f"{label}stream name")
    r.skip(40, f"{label}revision, position, timestamp and id")
    r.blob(f"{label}event type")
    r.blob(f"{label}content type")
    r.blob(f"{label}data")
    r.blob(f"{label}metadata")
    at = r.pos
    flags = r.u8(f"{label}flags")
    if flags & ~_SHREDDED:
        r.damaged(f"{label}unknown event flags {flags:#04x}", at)
    r.u32(f"{label}schema version")


# ---- recorded events ---------------------------------------------------------------------------


class RecordedEvent:
    """An event as stored.

    A view of the packed buffer it came in: the decoder checked every length and flag of the
    buffer and kept where the event's fields are (it reads those lengths anyway); each field
    is read from the buffer when it is accessed. So reading a page costs what the caller reads
    of it, and an event is a small object. A field read twice is decoded twice: read it once
    in hot loops. ``data`` and ``metadata`` are copies (bytes) of their part of the buffer;
    the event keeps its whole buffer alive while it is reachable (pickle one to keep only its
    own bytes).

    Events compare equal, and hash alike, when every field is equal. Build one for tests with
    ``new_recorded_event``.
    """

    # The buffer, and where in it the event (its stream's length), the revision, the content
    # type's length, the data's length and the metadata's length are; the other fields are at
    # fixed offsets from these.
    __slots__ = ("_at", "_buf", "_ct", "_data", "_meta", "_start")

    _buf: bytes
    _start: int
    _at: int
    _ct: int
    _data: int
    _meta: int

    def __init__(self) -> None:
        raise TypeError("RecordedEvents come from reads; build one for tests with new_recorded_event(...)")

    def _text(self, a: int, b: int, what: str) -> str:
        try:
            return self._buf[a:b].decode()
        except UnicodeDecodeError:
            _damaged("read event", f"{what} that is not UTF-8", a, self._buf, start=self._start, end=self._end())

    def _flags_at(self) -> int:
        m = self._meta
        return m + 4 + _u32_at(self._buf, m)[0]

    def _end(self) -> int:
        return self._flags_at() + 5

    @property
    def stream(self) -> str:
        """The stream's name."""
        try:
            return self._buf[self._start + 4 : self._at].decode()
        except UnicodeDecodeError:
            return self._text(self._start + 4, self._at, "a stream name")

    @property
    def revision(self) -> int:
        """Its place in its stream, from 0."""
        return _u64_at(self._buf, self._at)[0]

    @property
    def position(self) -> int:
        """Its place in the global log ($all; on a cluster, its owner node's log), from 0."""
        return _u64_at(self._buf, self._at + 8)[0]

    @property
    def timestamp_micros(self) -> int:
        """Commit time, unix microseconds."""
        return _i64_at(self._buf, self._at + 16)[0]

    @property
    def timestamp(self) -> datetime:
        """Commit time, an aware UTC datetime (to the microsecond)."""
        return _model._utc_from_micros(_i64_at(self._buf, self._at + 16)[0])

    @property
    def id(self) -> uuid.UUID:
        """Its UUID."""
        at = self._at + 24
        return _uuid_of(self._buf[at : at + 16])

    @property
    def type(self) -> str:
        """The event type."""
        try:
            return self._buf[self._at + 44 : self._ct].decode()
        except UnicodeDecodeError:
            return self._text(self._at + 44, self._ct, "an event type")

    @property
    def content_type(self) -> str:
        try:
            return self._buf[self._ct + 4 : self._data].decode()
        except UnicodeDecodeError:
            return self._text(self._ct + 4, self._data, "a content type")

    @property
    def data(self) -> bytes:
        """Its data; empty when shredded."""
        return self._buf[self._data + 4 : self._meta]

    @property
    def metadata(self) -> bytes:
        """Its metadata; empty when it has none, or when shredded."""
        m = self._meta
        return self._buf[m + 4 : m + 4 + _u32_at(self._buf, m)[0]]

    @property
    def shredded(self) -> bool:
        """The stream's key was destroyed: data and metadata are empty; json(), text() and
        metadata_json() raise ShreddedError."""
        return self._buf[self._flags_at()] == _SHREDDED

    @property
    def schema_version(self) -> int | None:
        """The version of the schema the data was validated against; None when its type named none."""
        v = _u32_at(self._buf, self._flags_at() + 1)[0]
        return v or None

    def _require_data(self, what: str) -> None:
        if self.shredded:
            stream, revision = self.stream, self.revision
            raise ShreddedError(
                f"{what}: event {self.id} (revision {revision} of stream {stream!r}) was shredded: its data is gone",
                stream=stream,
                revision=revision,
            )

    def json(self) -> Any:
        """Its data parsed as JSON (json.loads: integers stay exact).

        Raises ShreddedError when shredded, ValueError when its content type is not
        application/json or its data is not JSON (json.JSONDecodeError is a ValueError too).
        """
        self._require_data("json()")
        content_type = self.content_type
        if content_type != _model.CONTENT_TYPE_JSON:
            raise ValueError(
                f"json(): event {self.id} (revision {self.revision} of stream {self.stream!r}) has content type "
                f"{content_type!r}, not {_model.CONTENT_TYPE_JSON!r}"
            )
        return self._parse(self.data, "data")

    def decode(self, cls: builtins.type[_T]) -> _T:
        """Its data as an instance of ``cls``: a dataclass entity (``@graveyard.entity``) or a
        Pydantic model. Raises ShreddedError when shredded."""
        self._require_data("decode()")
        from ._schema import hydrate  # noqa: PLC0415 - the schema layer builds on this module, not the reverse

        return hydrate(cls, self.data)

    def text(self) -> str:
        """Its data as UTF-8 text. Raises ShreddedError when shredded, UnicodeDecodeError when
        the data is not UTF-8."""
        self._require_data("text()")
        return self.data.decode()

    def metadata_json(self) -> Any:
        """Its metadata parsed as JSON, None when it has none. Raises ShreddedError when
        shredded, ValueError when the metadata is not JSON."""
        self._require_data("metadata_json()")
        metadata = self.metadata
        return self._parse(metadata, "metadata") if metadata else None

    def _parse(self, raw: bytes, what: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ValueError(
                f"event {self.id} (revision {self.revision} of stream {self.stream!r}): its {what} is not JSON: {e}"
            ) from e

    def to_dict(self) -> dict[str, Any]:
        """Every field as a value, keyed as new_recorded_event's arguments:
        ``new_recorded_event(**e.to_dict()) == e``."""
        return {
            "stream": self.stream,
            "revision": self.revision,
            "position": self.position,
            "timestamp_micros": self.timestamp_micros,
            "id": self.id,
            "type": self.type,
            "content_type": self.content_type,
            "data": self.data,
            "metadata": self.metadata,
            "shredded": self.shredded,
            "schema_version": self.schema_version,
        }

    def _span(self) -> bytes:
        # The event's own bytes: its encoding is canonical (every length follows from the
        # values, no padding, flags and versions have one form), so equal bytes are equal fields.
        return self._buf[self._start : self._end()]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedEvent):
            return NotImplemented
        return self._span() == other._span()

    def __hash__(self) -> int:
        return hash(self._span())

    def __reduce__(self) -> tuple[Callable[[bytes], RecordedEvent], tuple[bytes]]:
        return (_event_from_span, (self._span(),))

    def __repr__(self) -> str:
        try:
            try:
                when = self.timestamp.isoformat()
            except OverflowError:
                when = f"{self.timestamp_micros} µs"
            return (
                f"RecordedEvent(stream={self.stream!r}, revision={self.revision}, position={self.position}, "
                f"timestamp={when}, id={self.id}, type={self.type!r}, content_type={self.content_type!r}, "
                f"data={_short(self.data)}, metadata={_short(self.metadata)}, shredded={self.shredded}, "
                f"schema_version={self.schema_version})"
            )
        except InternalError as e:
            return f"<RecordedEvent, damaged: {e}>"


def _short(b: bytes) -> str:
    # An event's repr goes to logs: a megabyte of data would drown them.
    return repr(b) if len(b) <= 64 else f"{b[:48]!r}... ({len(b)} bytes)"


def _event_from_span(span: bytes) -> RecordedEvent:
    return decode_page(_pack_u32(1) + span)[0]


# ---- decoding ----------------------------------------------------------------------------------


def decode_page(page: bytes) -> list[RecordedEvent]:
    """A read page (``u32 count``, then the events) as RecordedEvents."""
    if type(page) is not bytes:
        page = _as_bytes(page, "page")
    end = len(page)
    if end < 4:
        _damaged("page", "no event count", 0, page)
    count = _u32_at(page, 0)[0]
    # Refused before anything is allocated for it.
    if count > (end - 4) // _MIN_EVENT:
        _damaged("page", f"a count of {count} events, more than {end} bytes can hold", 0, page)
    events: list[RecordedEvent] = []
    append = events.append
    new = _new_object
    cls = RecordedEvent
    u32 = _u32_at
    p = 4
    # The hot loop reads only the lengths, with no bounds check of its own: offsets only grow
    # (lengths are unsigned), a read past the end raises, and the last event must end exactly
    # at the end of the page, so every field of every event lies inside the page. Anything
    # else goes to _explain_page, which says what is wrong.
    try:
        for _ in range(count):
            at = p + 4 + u32(page, p)[0]
            ct = at + 44 + u32(page, at + 40)[0]
            d = ct + 4 + u32(page, ct)[0]
            m = d + 4 + u32(page, d)[0]
            f = m + 4 + u32(page, m)[0]
            if page[f] > _SHREDDED:
                raise _BadBufferError
            # _make_event inlined: a call per event would cost a fifth of the loop.
            e = new(cls)
            e._buf = page
            e._start = p
            e._at = at
            e._ct = ct
            e._data = d
            e._meta = m
            append(e)
            p = f + 5
    except (struct.error, IndexError, _BadBufferError):
        p = -1
    if p != end:
        _explain_page(page, count)
    return events


def _make_event(buf: bytes, start: int, at: int, ct: int, d: int, m: int) -> RecordedEvent:
    """The event whose fields are at these offsets of buf (RecordedEvent's slots). The two hot
    loops (decode_page, iterating a Page) do this inline."""
    # object.__new__ and slot stores cost less than a call of __init__.
    e = _new_object(RecordedEvent)
    e._buf = buf
    e._start = start
    e._at = at
    e._ct = ct
    e._data = d
    e._meta = m
    return e


class Page(Sequence[RecordedEvent]):
    """The events of one read, made as they are reached.

    A page keeps the buffer the native read returned and the offsets of its events; indexing
    or iterating makes each RecordedEvent (a small view of the buffer) when it is asked for.
    So events a loop has finished with are freed at once: a list of them all would keep every
    one alive until the page is done, and Python's collector would spend about as long walking
    them as decoding them (measured: 490 ns per event with it, 280 without). Each access makes
    a new, equal event. ``list(page)`` keeps them; a page compares equal to a list or a tuple
    of the same events.
    """

    __slots__ = ("_buf", "_offsets")

    _buf: bytes
    _offsets: tuple[int, ...]

    def __init__(self) -> None:
        raise TypeError("Pages come from reads")

    def __len__(self) -> int:
        return len(self._offsets) // 5

    def _event(self, k: int) -> RecordedEvent:
        return _make_event(self._buf, *self._offsets[k : k + 5])

    @overload
    def __getitem__(self, i: int) -> RecordedEvent: ...
    @overload
    def __getitem__(self, i: slice) -> list[RecordedEvent]: ...
    def __getitem__(self, i: int | slice) -> RecordedEvent | list[RecordedEvent]:
        n = len(self._offsets) // 5
        if isinstance(i, slice):
            return [self._event(5 * k) for k in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"event {i} of a page of {n}")
        return self._event(5 * i)

    def __iter__(self) -> Iterator[RecordedEvent]:
        buf = self._buf
        new = _new_object
        cls = RecordedEvent
        it = iter(self._offsets)
        for start, at, ct, d, m in zip(it, it, it, it, it, strict=True):  # 5 x count offsets
            # _make_event inlined: a call per event would cost a fifth of the loop.
            e = new(cls)
            e._buf = buf
            e._start = start
            e._at = at
            e._ct = ct
            e._data = d
            e._meta = m
            yield e

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Page, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which do not hash

    def __repr__(self) -> str:
        return f"<Page of {len(self)} events>"


_EMPTY_OFFSETS: Final[tuple[int, ...]] = ()


def decode_indexed_page(buf: bytes) -> Page:
    """An indexed page (docs/boundary.md, "Indexed page": a page, then per event five ``u32``
    offsets of its fields), what the native reads return, as a Page.

    The index comes from the core, which made it by walking the page with every check of
    ``decode_page`` (``packed::index_page``); this reads it with one call, instead of reading
    five lengths per event. It checks that the count and the index fit the buffer and that the
    events lie between the count and the index; a field read through a wrong offset could not
    reach outside the buffer (slices and unpack_from are bounded), and the core's tests check
    the offsets it writes.
    """
    if type(buf) is not bytes:
        buf = _as_bytes(buf, "indexed page")
    size = len(buf)
    if size < 4:
        _damaged("indexed page", "no event count", 0, buf)
    count = _u32_at(buf, 0)[0]
    if count > (size - 4) // (_MIN_EVENT + 20):
        _damaged("indexed page", f"a count of {count} events, more than {size} bytes can hold", 0, buf)
    index = size - 20 * count
    page = _new_object(Page)
    page._buf = buf
    if count == 0:
        if index != 4:
            _damaged("indexed page", "bytes after an empty page", 4, buf)
        page._offsets = _EMPTY_OFFSETS
        return page
    offsets = struct.unpack_from(f"<{5 * count}I", buf, index)
    last_meta = offsets[-1]
    if offsets[0] != 4 or not offsets[-5] < last_meta < index or last_meta + 9 + _u32_at(buf, last_meta)[0] != index:
        _damaged("indexed page", "an index that does not match its events", index, buf)
    page._offsets = offsets
    return page


def _explain_page(page: bytes, count: int) -> NoReturn:
    r = _Reader(page, 0, len(page), "page")
    r.pos = 4
    for i in range(count):
        _check_event(r, f"event {i}: ")
    r.done()
    raise InternalError("the native layer returned a malformed page (the checks disagree)")  # pragma: no cover


def _event_at(buf: bytes, p: int, start: int, end: int, what: str) -> RecordedEvent:
    """The read event at p, which must end exactly at end (as in decode_page's loop)."""
    try:
        at = p + 4 + _u32_at(buf, p)[0]
        ct = at + 44 + _u32_at(buf, at + 40)[0]
        d = ct + 4 + _u32_at(buf, ct)[0]
        m = d + 4 + _u32_at(buf, d)[0]
        f = m + 4 + _u32_at(buf, m)[0]
        if f + 5 != end or buf[f] > _SHREDDED:
            raise _BadBufferError
    except (struct.error, IndexError, _BadBufferError):
        r = _Reader(buf, start, end, what)
        r.pos = p
        _check_event(r, "")
        r.done()
        raise InternalError(f"the native layer returned a malformed {what} (the checks disagree)") from None
    return _make_event(buf, p, at, ct, d, m)


class CaughtUp(enum.Enum):
    """The marker a subscription hands out when it has caught up with the live end."""

    CAUGHT_UP = "caught_up"

    def __repr__(self) -> str:
        return "CAUGHT_UP"


CAUGHT_UP: Final = CaughtUp.CAUGHT_UP
"""The one CaughtUp: ``if message is CAUGHT_UP``."""

SubscriptionMessage = Union[RecordedEvent, CaughtUp]
"""What a subscription hands out: an event, or CAUGHT_UP."""


def _message(buf: bytes, start: int, end: int, what: str) -> SubscriptionMessage:
    if end - start < 1:
        _damaged(what, "no tag", start, buf, start=start, end=end)
    tag = buf[start]
    if tag == _TAG_CAUGHT_UP:
        if end != start + 1:
            _damaged(
                what, f"{end - start - 1} trailing bytes after a caught-up tag", start + 1, buf, start=start, end=end
            )
        return CAUGHT_UP
    if tag != _TAG_EVENT:
        _damaged(what, f"unknown message tag {tag}", start, buf, start=start, end=end)
    return _event_at(buf, start + 1, start, end, what)


def decode_subscription_message(buf: bytes) -> SubscriptionMessage:
    """One subscription message (``u8 tag``: 0 caught up, 1 a read event follows)."""
    if type(buf) is not bytes:
        buf = _as_bytes(buf, "subscription message")
    return _message(buf, 0, len(buf), "subscription message")


@dataclass(frozen=True)
class Delivery:
    """An event handed to a member of a consumer group (a plain value: the session that
    settles it builds on it)."""

    id: int
    """Names the delivery in acks and nacks (through any member of the group joined through
    the same store); a redelivery has the same id, a replayed parked copy its own."""
    attempt: int
    """1 for the first delivery."""
    parked_revision: int | None
    """The revision of the parked copy, when a replay handed the event back."""
    event: RecordedEvent


_T = TypeVar("_T")
D = TypeVar("D")
DeliveryFactory = Callable[[int, int, int | None, RecordedEvent], D]
"""Makes the caller's object of a delivery from its parts: id, attempt, parked_revision, event."""


def _delivery(buf: bytes, start: int, end: int, what: str, make: DeliveryFactory[D]) -> D:
    if end - start < _MIN_DELIVERY:
        _damaged(what, f"{end - start} bytes, fewer than the shortest delivery", start, buf, start=start, end=end)
    delivery_id, attempt, parked = _delivery_head_at(buf, start)
    if parked < -1:
        _damaged(what, f"a parked revision of {parked}, below -1 (none)", start + 12, buf, start=start, end=end)
    event = _event_at(buf, start + 20, start, end, what)
    return make(delivery_id, attempt, None if parked == -1 else parked, event)


@overload
def decode_delivery(buf: bytes) -> Delivery: ...
@overload
def decode_delivery(buf: bytes, make: DeliveryFactory[D]) -> D: ...
def decode_delivery(buf: bytes, make: DeliveryFactory[Any] | None = None) -> Any:
    """One delivery (``u64 id, u32 attempt, i64 parked_revision (-1: none)``, a read event),
    as a Delivery or as what ``make(id, attempt, parked_revision, event)`` returns."""
    if type(buf) is not bytes:
        buf = _as_bytes(buf, "delivery")
    return _delivery(buf, 0, len(buf), "delivery", Delivery if make is None else make)


T = TypeVar("T")


def _batch(buf: bytes, what: str, min_item: int, item: Callable[[bytes, int, int, str], T]) -> list[T]:
    # A session's next: `u32 count`, then `count` times `u32 length` and a packed item.
    if type(buf) is not bytes:
        buf = _as_bytes(buf, what)
    end = len(buf)
    if end < 4:
        _damaged(what, "no item count", 0, buf)
    count = _u32_at(buf, 0)[0]
    if count > (end - 4) // (4 + min_item):
        _damaged(what, f"a count of {count} items, more than {end} bytes can hold", 0, buf)
    out: list[T] = []
    p = 4
    for i in range(count):
        if end - p < 4:
            _damaged(what, f"item {i} without its length", p, buf)
        n = _u32_at(buf, p)[0]
        p += 4
        if n > end - p:
            _damaged(what, f"item {i} of {n} bytes past the end", p - 4, buf)
        out.append(item(buf, p, p + n, f"{what} (item {i})"))
        p += n
    if p != end:
        _damaged(what, f"{end - p} trailing bytes", p, buf)
    return out


def decode_message_batch(buf: bytes) -> list[SubscriptionMessage]:
    """The messages of a subscription's next (``u32 count``, then each with its ``u32`` length)."""
    return _batch(buf, "subscription message batch", 1, _message)


@overload
def decode_delivery_batch(buf: bytes) -> list[Delivery]: ...
@overload
def decode_delivery_batch(buf: bytes, make: DeliveryFactory[D]) -> list[D]: ...
def decode_delivery_batch(buf: bytes, make: DeliveryFactory[Any] | None = None) -> list[Any]:
    """The deliveries of a member's next (``u32 count``, then each with its ``u32`` length)."""
    factory: DeliveryFactory[Any] = Delivery if make is None else make

    def item(b: bytes, start: int, end: int, what: str) -> Any:
        return _delivery(b, start, end, what, factory)

    return _batch(buf, "delivery batch", _MIN_DELIVERY, item)


def decode_append_result(buf: bytes) -> AppendResult:
    """``u64 first_revision, u64 last_revision, u64 first_position, u64 last_position``."""
    if len(buf) != _append_result.size:
        _damaged("append result", f"{len(buf)} bytes, not {_append_result.size}", 0, buf)
    first_revision, last_revision, first_position, last_position = _append_result.unpack(buf)
    return AppendResult(first_revision, last_revision, first_position, last_position)


def decode_snapshot(buf: bytes) -> Snapshot:
    """``str stream, u64 revision, i64 timestamp, bytes data``."""
    if type(buf) is not bytes:
        buf = _as_bytes(buf, "snapshot")
    r = _Reader(buf, 0, len(buf), "snapshot")
    stream = r.text("a stream name")
    revision = r.u64("the revision")
    timestamp_micros = r.i64("the timestamp")
    data = r.blob("data")
    r.done()
    return Snapshot(stream=stream, revision=revision, timestamp_micros=timestamp_micros, data=data)


# ---- events to append ---------------------------------------------------------------------------


class EventToEncode(Protocol):
    """What encode_events reads of each event: any object with these attributes (NewEvent,
    a dataclass, the SDK's own event types)."""

    @property
    def id(self) -> uuid.UUID | str | None:
        """A UUID (or its text: 8-4-4-4-12 hex digits, either case) naming the event for
        idempotent retries; None: the store makes a UUIDv7."""

    @property
    def type(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def data(self) -> bytes | bytearray | memoryview: ...
    @property
    def metadata(self) -> bytes | bytearray | memoryview | None:
        """Opaque bytes; None or empty: none."""


class NewEvent(NamedTuple):
    """An event to append, as it crosses the boundary (what decode_events gives back)."""

    id: uuid.UUID | str | None
    type: str
    content_type: str
    data: bytes
    metadata: bytes | None = None


# Exactly 8-4-4-4-12 ASCII hex digits: uuid.UUID(str) would also take braces, "urn:uuid:" and
# no hyphens, which other SDKs refuse.
_UUID_TEXT: Final = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _id_field(value: object, i: int) -> bytes:
    if isinstance(value, uuid.UUID):
        return b"\x01" + value.bytes
    if isinstance(value, str):
        if _UUID_TEXT.fullmatch(value) is None:
            raise ValueError(f"event {i}: id {value!r:.60} is not a UUID (8-4-4-4-12 hex digits)")
        return b"\x01" + bytes.fromhex(value.replace("-", ""))
    raise TypeError(f"event {i}: id must be a uuid.UUID, a UUID's text or None, not {type(value).__name__}")


def _str_field(value: object, i: int, what: str) -> bytes:
    """The length-prefixed UTF-8 of a type or content type."""
    if not isinstance(value, str):
        raise TypeError(f"event {i}: {what} must be a str, not {type(value).__name__}")
    try:
        raw = value.encode()
    except UnicodeEncodeError:
        raise ValueError(f"event {i}: {what} has a lone surrogate, which UTF-8 cannot hold") from None
    if len(raw) > _U32_MAX:
        raise ValueError(f"event {i}: {what} is {len(raw)} bytes, more than 2**32-1")
    return _pack_u32(len(raw)) + raw


def _bytes_field(value: object, i: int, what: str) -> bytes:
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    elif not isinstance(value, bytes):
        raise TypeError(f"event {i}: {what} must be bytes, not {type(value).__name__}")
    if len(value) > _U32_MAX:
        raise ValueError(f"event {i}: {what} is {len(value)} bytes, more than 2**32-1")
    return value


def encode_events(events: Sequence[EventToEncode]) -> bytes:
    """The packed events of an append: ``u32 count``, then per event ``u8 flags`` (bit 0: an id
    follows), ``[16] id``, ``str type``, ``str content_type``, ``bytes data``, ``bytes metadata``.

    A TypeError (a value of the wrong type) or ValueError (an id that is not a UUID's text, a
    string with a lone surrogate, a field of 2**32 bytes or more) names the event's index.
    """
    if not isinstance(events, (list, tuple)):
        if isinstance(events, (str, bytes, bytearray, memoryview, dict)) or not isinstance(events, Iterable):
            raise TypeError(f"the events to append must be a list of events, not {type(events).__name__}")
        events = list(events)
    n = len(events)
    if n > _U32_MAX:
        raise ValueError(f"{n} events in one append, more than 2**32-1")
    # Types and content types repeat across a batch: each distinct one is encoded once.
    seen: dict[str, bytes] = {}
    parts = [_pack_u32(n)]
    put = parts.append
    for i, e in enumerate(events):
        try:
            event_id, event_type, content_type, data, metadata = e.id, e.type, e.content_type, e.data, e.metadata
        except AttributeError:
            raise TypeError(
                f"event {i} must have the attributes id, type, content_type, data and metadata "
                f"(NewEvent, for one), not {type(e).__name__}"
            ) from None
        put(b"\x00" if event_id is None else _id_field(event_id, i))
        # type() is str, not isinstance: only a real str is a safe key (a subclass may hash
        # or compare otherwise).
        raw = seen.get(event_type) if type(event_type) is str else None
        if raw is None:
            raw = _str_field(event_type, i, "type")
            if type(event_type) is str:
                seen[event_type] = raw
        put(raw)
        raw = seen.get(content_type) if type(content_type) is str else None
        if raw is None:
            raw = _str_field(content_type, i, "content_type")
            if type(content_type) is str:
                seen[content_type] = raw
        put(raw)
        if type(data) is not bytes:
            data = _bytes_field(data, i, "data")
        elif len(data) > _U32_MAX:
            _bytes_field(data, i, "data")
        put(_pack_u32(len(data)))
        put(data)
        if metadata is None:
            put(b"\x00\x00\x00\x00")
        else:
            metadata = _bytes_field(metadata, i, "metadata")
            put(_pack_u32(len(metadata)))
            put(metadata)
    return b"".join(parts)


def decode_events(buf: bytes) -> list[NewEvent]:
    """Reads what encode_events writes (the core's side; for tests and fakes). Ids are
    uuid.UUIDs or None; metadata is bytes, empty when none."""
    if type(buf) is not bytes:
        buf = _as_bytes(buf, "events to append")
    r = _Reader(buf, 0, len(buf), "events to append")
    count = r.u32("the event count")
    if count > (len(buf) - 4) // _MIN_EVENT_TO_APPEND:
        r.damaged(f"a count of {count} events, more than {len(buf)} bytes can hold", 0)
    events = []
    for i in range(count):
        at = r.pos
        flags = r.u8(f"event {i}: flags")
        if flags & ~_HAS_ID:
            r.damaged(f"event {i}: unknown flags {flags:#04x}", at)
        event_id = None
        if flags & _HAS_ID:
            at = r.skip(16, f"event {i}: id")
            event_id = uuid.UUID(bytes=buf[at : at + 16])
        event_type = r.text(f"event {i}: type")
        content_type = r.text(f"event {i}: content type")
        data = r.blob(f"event {i}: data")
        metadata = r.blob(f"event {i}: metadata")
        events.append(NewEvent(event_id, event_type, content_type, data, metadata))
    r.done()
    return events


# ---- the core's side (tests, fakes) -------------------------------------------------------------


def _field_bytes(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    raw = bytes(value)
    if len(raw) > _U32_MAX:
        raise ValueError(f"{what} is {len(raw)} bytes, more than 2**32-1")
    return _pack_u32(len(raw)) + raw


def _field_str(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return _field_bytes(value.encode(), what)


def _pack_event(
    *,
    stream: str,
    revision: int,
    position: int,
    timestamp_micros: int,
    event_id: uuid.UUID | str,
    event_type: str,
    content_type: str,
    data: bytes,
    metadata: bytes,
    shredded: bool,
    schema_version: int | None,
) -> bytes:
    if not isinstance(shredded, bool):
        raise TypeError(f"shredded must be a bool, not {type(shredded).__name__}")
    revision = _model._check_u64(revision, "revision")
    position = _model._check_u64(position, "position")
    micros = _model._int(timestamp_micros, "timestamp_micros")
    if not -(2**63) <= micros < 2**63:
        raise ValueError(f"timestamp_micros must be an i64, not {micros}")
    version = 0 if schema_version is None else _model._check_u32(schema_version, "schema_version")
    if version == 0 and schema_version is not None:
        raise ValueError("schema_version must be None or from 1 to 2**32-1 (0 is none)")
    id_bytes = _id_field(event_id, 0)[1:] if isinstance(event_id, str) else event_id.bytes
    return b"".join(
        (
            _field_str(stream, "stream"),
            _pack_event_fixed(revision, position, micros),
            id_bytes,
            _field_str(event_type, "type"),
            _field_str(content_type, "content_type"),
            _field_bytes(data, "data"),
            _field_bytes(metadata, "metadata"),
            _pack_flags_version(_SHREDDED if shredded else 0, version),
        )
    )


def new_recorded_event(
    *,
    stream: str,
    type: str,
    revision: int = 0,
    position: int = 0,
    timestamp_micros: int = 0,
    id: uuid.UUID | str | None = None,
    content_type: str = _model.CONTENT_TYPE_JSON,
    data: bytes = b"",
    metadata: bytes = b"",
    shredded: bool = False,
    schema_version: int | None = None,
) -> RecordedEvent:
    """A RecordedEvent from values, as a read would give it (for tests of code that handles
    events, and for fakes of the store); id None makes a random one."""
    span = _pack_event(
        stream=stream,
        revision=revision,
        position=position,
        timestamp_micros=timestamp_micros,
        event_id=uuid.uuid4() if id is None else id,
        event_type=type,
        content_type=content_type,
        data=data,
        metadata=metadata,
        shredded=shredded,
        schema_version=schema_version,
    )
    return _event_from_span(span)


def _event_bytes(e: RecordedEvent) -> bytes:
    # From the values, not the event's own bytes: the tests hold the decoder to the encoder.
    return _pack_event(
        stream=e.stream,
        revision=e.revision,
        position=e.position,
        timestamp_micros=e.timestamp_micros,
        event_id=e.id,
        event_type=e.type,
        content_type=e.content_type,
        data=e.data,
        metadata=e.metadata,
        shredded=e.shredded,
        schema_version=e.schema_version,
    )


def encode_page(events: Iterable[RecordedEvent]) -> bytes:
    """A read page, as the core writes it."""
    parts = [_event_bytes(e) for e in events]
    return _pack_u32(len(parts)) + b"".join(parts)


def encode_subscription_message(message: SubscriptionMessage) -> bytes:
    """A subscription message, as the core writes it."""
    if message is CAUGHT_UP:
        return bytes((_TAG_CAUGHT_UP,))
    if not isinstance(message, RecordedEvent):
        raise TypeError(f"a subscription message is a RecordedEvent or CAUGHT_UP, not {type(message).__name__}")
    return bytes((_TAG_EVENT,)) + _event_bytes(message)


def encode_delivery(delivery: Delivery) -> bytes:
    """A delivery, as the core writes it."""
    parked = -1 if delivery.parked_revision is None else delivery.parked_revision
    head = _pack_delivery_head(
        _model._check_u64(delivery.id, "id"), _model._check_u32(delivery.attempt, "attempt"), parked
    )
    return head + _event_bytes(delivery.event)


def encode_batch(items: Iterable[bytes]) -> bytes:
    """A batch of a session's next: ``u32 count``, then each item with its ``u32`` length."""
    parts = [_field_bytes(item, "a batch item") for item in items]
    return _pack_u32(len(parts)) + b"".join(parts)


def encode_append_result(result: AppendResult) -> bytes:
    j = result.to_json()
    return _append_result.pack(j["first_revision"], j["last_revision"], j["first_position"], j["last_position"])


def encode_snapshot(snapshot: Snapshot) -> bytes:
    revision = _model._check_u64(snapshot.revision, "revision")
    micros = _model._int(snapshot.timestamp_micros, "timestamp_micros")
    if not -(2**63) <= micros < 2**63:
        raise ValueError(f"timestamp_micros must be an i64, not {micros}")
    return b"".join(
        (
            _field_str(snapshot.stream, "stream"),
            _pack_snapshot_fixed(revision, micros),
            _field_bytes(snapshot.data, "data"),
        )
    )
