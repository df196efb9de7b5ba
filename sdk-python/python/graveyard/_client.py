"""The clients: ``Client`` (blocking calls) and ``AsyncClient`` (coroutines), each over an
embedded store or a cluster connection (the core's ``Store`` through the uniffi module). They
convert arguments and results; every rule is the core's."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, cast

from . import _native
from ._completions import Blocking, Start, submit
from ._errors import GraveyardError, InternalError, NotFoundError, error_from
from ._model import (
    AppendResult,
    Direction,
    ExpectedVersion,
    Filter,
    GroupInfo,
    GroupSettings,
    GroupTarget,
    RegisteredSchema,
    ReplayInfo,
    SchemaUpsert,
    Snapshot,
    StreamInfo,
    StreamMetadata,
    StreamSummary,
    SubscriptionStart,
    direction_code,
    durability_code,
    expected_version_code,
    filter_json_text,
    group_target_to_json,
    subscription_start_code,
)
from ._packed import (
    EventToEncode,
    Page,
    RecordedEvent,
    decode_append_result,
    decode_indexed_page,
    decode_snapshot,
    encode_events,
)
from ._schema import is_entity, schema_json, serialize_entity
from ._sessions import AsyncGroupMember, AsyncSubscription, GroupMember, Subscription

T = TypeVar("T")

DEFAULT_PAGE = 1024
"""Events fetched per call into the store by the iterators of reads."""


@dataclass(frozen=True)
class EventData:
    """An event to append, sent as given.

    ``data``: ``bytes`` are sent as they are (content type ``application/octet-stream`` unless
    given), a ``str`` as UTF-8 (``text/plain``), anything else as JSON (``application/json``).
    ``metadata``: bytes, a str (UTF-8) or a value sent as JSON. ``id``: a UUID naming the event
    for idempotent retries; None, the store makes one.
    """

    type: str
    data: Any = None
    metadata: Any = None
    content_type: str | None = None
    id: uuid.UUID | str | None = None


@dataclass(frozen=True)
class _Encodable:
    id: uuid.UUID | str | None
    type: str
    content_type: str
    data: bytes
    metadata: bytes


def _payload(value: Any) -> tuple[bytes, str]:
    if value is None:
        return b"", "application/json"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), "application/octet-stream"
    if isinstance(value, str):
        return value.encode(), "text/plain"
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode(), "application/json"


def _encodable(event: object, index: int) -> _Encodable:
    if is_entity(event) and not isinstance(event, type):
        type_name, data = serialize_entity(event)
        return _Encodable(None, type_name, "application/json", data, b"")
    if not isinstance(event, EventData):
        raise TypeError(
            f"event {index}: an EventData or an instance of an entity (@graveyard.entity), not {type(event).__name__}"
        )
    data, content_type = _payload(event.data)
    return _Encodable(
        event.id,
        event.type,
        event.content_type if event.content_type is not None else content_type,
        data,
        b"" if event.metadata is None else _payload(event.metadata)[0],
    )


def _ready(event: object) -> bool:
    # An EventData whose fields are already what encode_events takes (bytes data and metadata,
    # a content type) goes to it as it is: an _Encodable per event costs as much as encoding it.
    return (
        type(event) is EventData
        and event.content_type is not None
        and type(event.data) is bytes
        and (event.metadata is None or type(event.metadata) is bytes)
    )


def _packed_events(events: object | Sequence[object]) -> bytes:
    items = list(events) if isinstance(events, (list, tuple)) else [events]
    return encode_events([cast(EventToEncode, e) if _ready(e) else _encodable(e, i) for i, e in enumerate(items)])


def _schema_text(schema: type | dict[str, Any] | str) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, type):
        return schema_json(schema)
    if isinstance(schema, dict):
        return json.dumps(schema, allow_nan=False)
    raise TypeError(f"a schema is an entity class, a definition (dict) or its JSON text, not {type(schema).__name__}")


def _ms(seconds: float | None, what: str) -> int | None:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError(f"{what} is a number of seconds, 0 or more, not {seconds!r}")
    return round(seconds * 1000)


def _bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


def _u64(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ValueError(f"{what} is an int from 0 to 2**64-1, not {value!r}")
    return value


def _summaries(text: str) -> list[StreamSummary]:
    page = json.loads(text)
    if not isinstance(page, list):
        raise InternalError(f"a stream listing is not a list: {text[:100]!r}")
    return [StreamSummary.from_json(item) for item in page]


def _limit(max_count: int | None) -> int | None:
    return _u64(max_count, "max_count")


def _mapped(call: Callable[[], T]) -> T:
    """Runs a call of the native module, its errors as the SDK's."""
    try:
        return call()
    except (_native.NativeError, _native.InternalError) as e:
        raise _error_of(e) from None


def _started(start: Start) -> asyncio.Future[Any]:
    """Starts a native call from a coroutine (see _completions): a future of its value, or of
    its error. A failure to start raises here."""
    try:
        return submit(start)
    except (_native.NativeError, _native.InternalError) as e:
        raise _error_of(e) from None


async def _mapped_async(start: Start) -> Any:
    """Runs a native call from a coroutine (see _completions): its value, or its error raised."""
    return await _started(start)


def _error_of(e: Exception) -> GraveyardError:
    """The SDK's error of a native one: a failure of the store (``NativeError.Failure``: its
    code, message and details), or uniffi's ``InternalError`` (a panic in native code)."""
    if isinstance(e, _native.NativeError):
        return error_from(getattr(e, "code", "INTERNAL"), getattr(e, "message", str(e)), getattr(e, "details", None))
    return InternalError(f"GraveyardDB's native code panicked: {e}")


def _open_args(
    path: str,
    durability: str,
    map_size: int | None,
    max_event_size: int | None,
    max_readers: int | None,
    max_json_depth: int | None,
    master_key: bytes | None,
) -> tuple[Any, ...]:
    if durability not in ("fsync", "none"):
        raise ValueError(f'durability is "fsync" or "none", not {durability!r}')
    code = durability_code("fsync" if durability == "fsync" else "no_fsync_unsafe")
    return (
        str(path),
        code,
        _u64(map_size, "map_size"),
        _u64(max_event_size, "max_event_size"),
        max_readers,
        max_json_depth,
        None if master_key is None else _bytes(master_key, "master_key"),
    )


def _connect_args(
    endpoints: str | Sequence[str],
    token: str | None,
    ca_pem: str | bytes | None,
    connect_timeout: float | None,
    request_timeout: float | None,
    retries: int | None,
    retry_backoff: float | None,
) -> tuple[Any, ...]:
    listed = [e.strip() for e in endpoints.split(",")] if isinstance(endpoints, str) else [str(e) for e in endpoints]
    pem = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
    return (
        listed,
        token,
        pem,
        _ms(connect_timeout, "connect_timeout"),
        _ms(request_timeout, "request_timeout"),
        retries,
        _ms(retry_backoff, "retry_backoff"),
    )


def open(
    path: str,
    *,
    durability: str = "fsync",
    map_size: int | None = None,
    max_event_size: int | None = None,
    max_readers: int | None = None,
    max_json_depth: int | None = None,
    master_key: bytes | None = None,
) -> Client:
    """Opens (creating it if needed) an embedded store in the directory ``path``.

    ``durability="fsync"`` (the default) acknowledges an append once it is on disk; ``"none"``
    is for tests and throwaway data. ``master_key`` (32 bytes) encrypts events and snapshots.
    """
    args = _open_args(path, durability, map_size, max_event_size, max_readers, max_json_depth, master_key)
    return Client(_mapped(lambda: _native.open_store(*args)))


def connect(
    endpoints: str | Sequence[str],
    *,
    token: str | None = None,
    ca_pem: str | bytes | None = None,
    connect_timeout: float | None = None,
    request_timeout: float | None = None,
    retries: int | None = None,
    retry_backoff: float | None = None,
) -> Client:
    """Connects to a cluster through any of its nodes (``http://host:port``, one or several).
    Timeouts are in seconds; ``token`` is sent as a bearer token and never logged."""
    args = _connect_args(endpoints, token, ca_pem, connect_timeout, request_timeout, retries, retry_backoff)
    return Client(_mapped(lambda: _native.connect(*args)))


async def open_async(
    path: str,
    *,
    durability: str = "fsync",
    map_size: int | None = None,
    max_event_size: int | None = None,
    max_readers: int | None = None,
    max_json_depth: int | None = None,
    master_key: bytes | None = None,
) -> AsyncClient:
    """``open`` for asyncio: an ``AsyncClient``."""
    args = _open_args(path, durability, map_size, max_event_size, max_readers, max_json_depth, master_key)
    return AsyncClient(await _mapped_async(lambda q, t: _native.open_store_submit(q, t, *args)))


async def connect_async(
    endpoints: str | Sequence[str],
    *,
    token: str | None = None,
    ca_pem: str | bytes | None = None,
    connect_timeout: float | None = None,
    request_timeout: float | None = None,
    retries: int | None = None,
    retry_backoff: float | None = None,
) -> AsyncClient:
    """``connect`` for asyncio: an ``AsyncClient``."""
    args = _connect_args(endpoints, token, ca_pem, connect_timeout, request_timeout, retries, retry_backoff)
    return AsyncClient(await _mapped_async(lambda q, t: _native.connect_submit(q, t, *args)))


class _Base:
    """What both clients share: the native handle and the calls that never wait."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def embedded(self) -> bool:
        """Whether this is an embedded store (else a cluster connection)."""
        return bool(self._native.is_embedded())

    def is_encrypted(self) -> bool:
        """Whether the embedded store encrypts at rest (UNSUPPORTED on a cluster)."""
        return bool(_mapped(self._native.is_encrypted))


_Request = tuple[int | None, int]
"""Where a page read starts (None: the first or last event) and how many events it asks for."""


class _Cursor:
    """Where the next page of a read starts, and how many events it asks for: each page from
    where the last ended, until ``max_count`` or a short page."""

    def __init__(self, start: int | None, left: int | None, page_size: int, backwards: bool) -> None:
        self.start, self.left, self.page_size, self.backwards = start, left, page_size, backwards
        self.done = False

    def request(self) -> _Request | None:
        if self.done or (self.left is not None and self.left <= 0):
            return None
        return self.start, min(self.left, self.page_size) if self.left is not None else self.page_size

    def take(self, raw: bytes, asked: int, cursor: Callable[[RecordedEvent], int]) -> tuple[Page, _Request | None]:
        """The page read for ``request()``, and the request of the one after it (None: the read
        is over). Where that one starts comes from this page's last event alone (a page makes
        its events as they are reached), so it can be read while this one is handled."""
        page = decode_indexed_page(raw)
        if len(page) < asked:
            self.done = True
            return page, None
        if self.left is not None:
            self.left -= len(page)
        last = cursor(page[-1])
        if self.backwards:
            self.done = last == 0
            self.start = last - 1
        else:
            self.start = last + 1
        return page, self.request()


class EventPages(Iterator[RecordedEvent]):
    """Events read a page at a time as you iterate; ``pages()`` iterates over the pages
    themselves (each a ``Page``, a sequence of events: the fast way through long reads),
    ``to_list()`` reads them all."""

    def __init__(
        self,
        read: Callable[[int | None, int], bytes],
        submit: Callable[[int | None, int], Start],
        cursor: Callable[[RecordedEvent], int],
        start: int | None,
        max_count: int | None,
        page_size: int,
        backwards: bool,
        not_found_is_empty: bool,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size is an int of 1 or more, not {page_size!r}")
        self._read, self._submit, self._cursor = read, submit, cursor
        self._start, self._left, self._page_size = start, _limit(max_count), page_size
        self._backwards, self._not_found_is_empty = backwards, not_found_is_empty
        self._events: Iterator[RecordedEvent] = (e for page in self.pages() for e in page)

    def pages(self) -> Iterator[Page]:
        cursor = _Cursor(self._start, self._left, self._page_size, self._backwards)
        # The first page is read by a plain call; each next one is started before this one is
        # handed out and read on the core's threads meanwhile (see Blocking), so a loop through
        # many pages decodes one while the next is read. A loop left early drops that read.
        queue: Blocking | None = None
        ahead: int | None = None
        while (request := cursor.request()) is not None:
            start, n = request
            try:
                if queue is not None and ahead is not None:
                    raw = queue.wait(ahead)
                else:
                    raw = _mapped(lambda: self._read(start, n))  # noqa: B023 - called at once
            except NotFoundError:
                # No visible events is an empty stream to an iterator.
                if self._not_found_is_empty:
                    return
                raise
            page, following = cursor.take(raw, n, self._cursor)
            ahead = None
            if following is not None:
                queue = queue or Blocking()
                ahead = _mapped(lambda: queue.start(self._submit(*following)))  # noqa: B023 - called at once
            if page:
                yield page

    def to_list(self) -> list[RecordedEvent]:
        return [e for page in self.pages() for e in page]

    def __iter__(self) -> EventPages:
        return self

    def __next__(self) -> RecordedEvent:
        return next(self._events)


class Client(_Base):
    """A GraveyardDB store: embedded (``graveyard.open``) or a cluster (``graveyard.connect``),
    with the same operations, each blocking the calling thread (not the others: the native
    calls release the GIL). A context manager: leaving it closes the store."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Closes the store: its sessions end, later calls raise ``ClosedError``. Closing twice is harmless."""
        self._native.close()

    def on_node(self, node_id: str) -> Client:
        """The same cluster connection with its node-scoped calls ($all, the head position,
        groups on $all) sent to member ``node_id``. Closing it closes the shared connection."""
        return Client(_mapped(lambda: self._native.on_node(node_id)))

    def append(
        self, stream: str, events: object | Sequence[object], *, expected_version: ExpectedVersion = "any"
    ) -> AppendResult:
        """Appends one or many events (``EventData`` or entity instances) atomically, if
        ``expected_version`` holds: ``"any"``, ``"no_stream"``, ``"stream_exists"`` or a revision."""
        kind, revision = expected_version_code(expected_version)
        packed = _packed_events(events)
        return decode_append_result(_mapped(lambda: self._native.append(stream, kind, revision, packed)))

    def read_stream(
        self,
        stream: str,
        *,
        direction: Direction = "forwards",
        from_revision: int | None = None,
        max_count: int | None = None,
        page_size: int = DEFAULT_PAGE,
    ) -> EventPages:
        """A stream's events, read a page at a time as you iterate. A stream with no visible
        events yields nothing (``read_stream_page`` raises NotFoundError there)."""
        code = direction_code(direction)
        return EventPages(
            lambda start, n: self._native.read_stream(stream, code, start, n),
            lambda start, n: lambda q, t: self._native.read_stream_submit(q, t, stream, code, start, n),
            lambda e: e.revision,
            _u64(from_revision, "from_revision"),
            max_count,
            page_size,
            direction == "backwards",
            True,
        )

    def read_stream_page(
        self,
        stream: str,
        *,
        direction: Direction = "forwards",
        from_revision: int | None = None,
        max_count: int | None = None,
    ) -> Page:
        """One read in one call: at most ``max_count`` events (None: all)."""
        code, start, limit = direction_code(direction), _u64(from_revision, "from_revision"), _limit(max_count)
        return decode_indexed_page(_mapped(lambda: self._native.read_stream(stream, code, start, limit)))

    def read_all(
        self,
        *,
        direction: Direction = "forwards",
        from_position: int | None = None,
        max_count: int | None = None,
        filter: Filter | None = None,
        page_size: int = DEFAULT_PAGE,
    ) -> EventPages:
        """The global log ($all; on a cluster, that of this connection's node), a page at a time."""
        code, text = direction_code(direction), filter_json_text(filter)
        return EventPages(
            lambda start, n: self._native.read_all(code, start, n, text),
            lambda start, n: lambda q, t: self._native.read_all_submit(q, t, code, start, n, text),
            lambda e: e.position,
            _u64(from_position, "from_position"),
            max_count,
            page_size,
            direction == "backwards",
            False,
        )

    def read_all_page(
        self,
        *,
        direction: Direction = "forwards",
        from_position: int | None = None,
        max_count: int | None = None,
        filter: Filter | None = None,
    ) -> Page:
        code, start, limit, text = (
            direction_code(direction),
            _u64(from_position, "from_position"),
            _limit(max_count),
            filter_json_text(filter),
        )
        return decode_indexed_page(_mapped(lambda: self._native.read_all(code, start, limit, text)))

    def head_position(self) -> int:
        """The position the next event of $all gets."""
        return int(_mapped(self._native.head_position))

    def list_streams(
        self, *, prefix: str = "", after: str | None = None, limit: int | None = None
    ) -> list[StreamSummary]:
        """One page of the streams this store holds (on a cluster, those of this client's node:
        ``on_node`` lists the others): names starting with ``prefix``, in byte order, after
        ``after`` (the last name of the previous page), at most ``limit`` (1 to 10,000; None: the
        core's default, 1,000). A page shorter than the limit is the last."""
        # None: the core's default (1,000); 0 and more than 10,000 are its INVALID_ARGUMENT.
        n = _u64(limit, "limit")
        return _summaries(_mapped(lambda: self._native.list_streams(prefix, after, n)))

    def stream_info(self, stream: str) -> StreamInfo:
        return StreamInfo.from_json(json.loads(_mapped(lambda: self._native.stream_info(stream))))

    def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> None:
        """Replaces the stream's metadata (allowed before the stream exists)."""
        text = json.dumps(metadata.to_json())
        _mapped(lambda: self._native.set_stream_metadata(stream, text))

    def get_stream_metadata(self, stream: str) -> StreamMetadata:
        return StreamMetadata.from_json(json.loads(_mapped(lambda: self._native.get_stream_metadata(stream))))

    def delete_stream(self, stream: str, *, expected_version: ExpectedVersion = "any") -> None:
        """Soft delete: the stream reads as empty; appending again continues its revisions."""
        kind, revision = expected_version_code(expected_version)
        _mapped(lambda: self._native.delete_stream(stream, kind, revision))

    def tombstone_stream(self, stream: str, *, expected_version: ExpectedVersion = "any") -> None:
        """Tombstone: the stream is gone for good; every later use raises StreamDeletedError."""
        kind, revision = expected_version_code(expected_version)
        _mapped(lambda: self._native.tombstone_stream(stream, kind, revision))

    def shred_stream(self, stream: str) -> None:
        """Crypto-shredding: destroys the stream's data key; its events read back shredded."""
        _mapped(lambda: self._native.shred_stream(stream))

    def rotate_master_key(self, new_key: bytes) -> None:
        """Rewraps every data key under a new 32-byte master key."""
        key = _bytes(new_key, "new_key")
        _mapped(lambda: self._native.rotate_master_key(key))

    def save_snapshot(self, stream: str, revision: int, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else _bytes(data, "data")
        rev = _u64(revision, "revision")
        _mapped(lambda: self._native.save_snapshot(stream, rev, raw))

    def get_snapshot(self, stream: str) -> Snapshot | None:
        """The stream's latest snapshot, or None."""
        packed = _mapped(lambda: self._native.get_snapshot(stream))
        return None if packed is None else decode_snapshot(packed)

    def upsert_schema(self, schema: type | dict[str, Any] | str) -> SchemaUpsert:
        """Registers a schema: an entity class (``@graveyard.entity``, a Pydantic model), a
        definition in the core's JSON form, or its text."""
        text = _schema_text(schema)
        return SchemaUpsert.from_json(json.loads(_mapped(lambda: self._native.upsert_schema(text))))

    def get_schema(self, name: str, version: int | None = None) -> RegisteredSchema:
        """A schema's version (the latest when ``version`` is None)."""
        return RegisteredSchema.from_json(json.loads(_mapped(lambda: self._native.get_schema(name, version))))

    def list_schemas(self) -> list[RegisteredSchema]:
        """The latest version of every schema."""
        return [RegisteredSchema.from_json(s) for s in json.loads(_mapped(self._native.list_schemas))]

    def create_group(
        self,
        name: str,
        target: GroupTarget,
        *,
        start: SubscriptionStart = "start",
        settings: GroupSettings | None = None,
    ) -> GroupInfo:
        kind, after = subscription_start_code(start)
        target_text = json.dumps(group_target_to_json(target))
        settings_text = json.dumps((settings or GroupSettings()).to_json())
        return GroupInfo.from_json(
            json.loads(_mapped(lambda: self._native.create_group(name, target_text, kind, after, settings_text)))
        )

    def update_group(self, name: str, settings: GroupSettings) -> GroupInfo:
        """Replaces the group's settings (what is None takes the store's default); never its target."""
        text = json.dumps(settings.to_json())
        return GroupInfo.from_json(json.loads(_mapped(lambda: self._native.update_group(name, text))))

    def delete_group(self, name: str) -> None:
        _mapped(lambda: self._native.delete_group(name))

    def group_info(self, name: str) -> GroupInfo:
        return GroupInfo.from_json(json.loads(_mapped(lambda: self._native.group_info(name))))

    def list_groups(self) -> list[str]:
        return list(_mapped(self._native.list_groups))

    def replay_parked(self, name: str, *, limit: int | None = None) -> ReplayInfo:
        """Hands parked events back to the group's members (at most ``limit`` of them)."""
        n = _u64(limit, "limit")
        return ReplayInfo.from_json(json.loads(_mapped(lambda: self._native.replay_parked(name, n))))

    def subscribe_to_stream(
        self, stream: str, *, start: SubscriptionStart = "start", page_size: int | None = None
    ) -> Subscription:
        """A stream's history from ``start``, ``CAUGHT_UP``, then its live events."""
        kind, after = subscription_start_code(start)
        size = _page_size(page_size)
        return Subscription(_mapped(lambda: self._native.subscribe_to_stream(stream, kind, after, size)), _mapped)

    def subscribe_to_all(
        self,
        *,
        start: SubscriptionStart = "start",
        filter: Filter | None = None,
        page_size: int | None = None,
    ) -> Subscription:
        """$all's history from ``start`` (filtered), ``CAUGHT_UP``, then live events."""
        kind, after = subscription_start_code(start)
        text, size = filter_json_text(filter), _page_size(page_size)
        return Subscription(_mapped(lambda: self._native.subscribe_to_all(kind, after, text, size)), _mapped)

    def join_group(self, group: str, member: str) -> GroupMember:
        """Joins consumer group ``group`` as ``member``: deliveries to ack, nack, park or skip."""
        return GroupMember(_mapped(lambda: self._native.join_group(group, member)), _mapped)


def _page_size(page_size: int | None) -> int:
    if page_size is None:
        return 0  # the core's default
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size < 1 << 32:
        raise ValueError(f"page_size is an int from 1 to 2**32-1, not {page_size!r}")
    return page_size


class AsyncEventPages(AsyncIterator[RecordedEvent]):
    """``EventPages`` for asyncio: ``async for``, ``pages()``, ``to_list()``."""

    def __init__(
        self,
        read: Callable[[int | None, int], Any],
        cursor: Callable[[RecordedEvent], int],
        start: int | None,
        max_count: int | None,
        page_size: int,
        backwards: bool,
        not_found_is_empty: bool,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size is an int of 1 or more, not {page_size!r}")
        self._read, self._cursor = read, cursor
        self._start, self._left, self._page_size = start, _limit(max_count), page_size
        self._backwards, self._not_found_is_empty = backwards, not_found_is_empty
        self._page: Sequence[RecordedEvent] = ()
        self._head = 0
        self._pages: AsyncIterator[Page] | None = None

    async def pages(self) -> AsyncIterator[Page]:
        cursor = _Cursor(self._start, self._left, self._page_size, self._backwards)
        # As EventPages: the next page's read is started (on the core's threads) before this
        # page is handed out.
        ahead: asyncio.Future[Any] | None = None
        try:
            while (request := cursor.request()) is not None:
                start, n = request
                try:
                    raw = await (ahead if ahead is not None else _started(self._read(start, n)))
                except NotFoundError:
                    if self._not_found_is_empty:
                        return
                    raise
                page, following = cursor.take(raw, n, self._cursor)
                ahead = None if following is None else _started(self._read(*following))
                if page:
                    yield page
        finally:
            if ahead is not None:
                if ahead.done() and not ahead.cancelled():
                    # Failed or not, nobody will ask: asyncio would report an error never retrieved.
                    ahead.exception()
                ahead.cancel()

    async def to_list(self) -> list[RecordedEvent]:
        return [e async for page in self.pages() for e in page]

    def __aiter__(self) -> AsyncEventPages:
        return self

    async def __anext__(self) -> RecordedEvent:
        while self._head >= len(self._page):
            if self._pages is None:
                self._pages = self.pages()
            try:
                self._page, self._head = await self._pages.__anext__(), 0
            except StopAsyncIteration:
                self._page, self._head = (), 0
                raise
        event = self._page[self._head]
        self._head += 1
        return event


class AsyncClient(_Base):
    """``Client`` for asyncio: the same operations as coroutines, settled from the core's
    threads (the event loop never waits on a commit, an fsync or the network). ``async with``
    closes it."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await _mapped_async(self._native.close_submit)

    def on_node(self, node_id: str) -> AsyncClient:
        return AsyncClient(_mapped(lambda: self._native.on_node(node_id)))

    async def append(
        self, stream: str, events: object | Sequence[object], *, expected_version: ExpectedVersion = "any"
    ) -> AppendResult:
        kind, revision = expected_version_code(expected_version)
        packed = _packed_events(events)
        return decode_append_result(
            await _mapped_async(lambda q, t: self._native.append_submit(q, t, stream, kind, revision, packed))
        )

    def read_stream(
        self,
        stream: str,
        *,
        direction: Direction = "forwards",
        from_revision: int | None = None,
        max_count: int | None = None,
        page_size: int = DEFAULT_PAGE,
    ) -> AsyncEventPages:
        code = direction_code(direction)
        return AsyncEventPages(
            lambda start, n: lambda q, t: self._native.read_stream_submit(q, t, stream, code, start, n),
            lambda e: e.revision,
            _u64(from_revision, "from_revision"),
            max_count,
            page_size,
            direction == "backwards",
            True,
        )

    async def read_stream_page(
        self,
        stream: str,
        *,
        direction: Direction = "forwards",
        from_revision: int | None = None,
        max_count: int | None = None,
    ) -> Page:
        code, start, limit = direction_code(direction), _u64(from_revision, "from_revision"), _limit(max_count)
        return decode_indexed_page(
            await _mapped_async(lambda q, t: self._native.read_stream_submit(q, t, stream, code, start, limit))
        )

    def read_all(
        self,
        *,
        direction: Direction = "forwards",
        from_position: int | None = None,
        max_count: int | None = None,
        filter: Filter | None = None,
        page_size: int = DEFAULT_PAGE,
    ) -> AsyncEventPages:
        code, text = direction_code(direction), filter_json_text(filter)
        return AsyncEventPages(
            lambda start, n: lambda q, t: self._native.read_all_submit(q, t, code, start, n, text),
            lambda e: e.position,
            _u64(from_position, "from_position"),
            max_count,
            page_size,
            direction == "backwards",
            False,
        )

    async def read_all_page(
        self,
        *,
        direction: Direction = "forwards",
        from_position: int | None = None,
        max_count: int | None = None,
        filter: Filter | None = None,
    ) -> Page:
        code, start, limit, text = (
            direction_code(direction),
            _u64(from_position, "from_position"),
            _limit(max_count),
            filter_json_text(filter),
        )
        return decode_indexed_page(
            await _mapped_async(lambda q, t: self._native.read_all_submit(q, t, code, start, limit, text))
        )

    async def head_position(self) -> int:
        return int(await _mapped_async(self._native.head_position_submit))

    async def list_streams(
        self, *, prefix: str = "", after: str | None = None, limit: int | None = None
    ) -> list[StreamSummary]:
        # None: the core's default (1,000); 0 and more than 10,000 are its INVALID_ARGUMENT.
        n = _u64(limit, "limit")
        return _summaries(await _mapped_async(lambda q, t: self._native.list_streams_submit(q, t, prefix, after, n)))

    async def stream_info(self, stream: str) -> StreamInfo:
        return StreamInfo.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.stream_info_submit(q, t, stream)))
        )

    async def set_stream_metadata(self, stream: str, metadata: StreamMetadata) -> None:
        text = json.dumps(metadata.to_json())
        await _mapped_async(lambda q, t: self._native.set_stream_metadata_submit(q, t, stream, text))

    async def get_stream_metadata(self, stream: str) -> StreamMetadata:
        return StreamMetadata.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.get_stream_metadata_submit(q, t, stream)))
        )

    async def delete_stream(self, stream: str, *, expected_version: ExpectedVersion = "any") -> None:
        kind, revision = expected_version_code(expected_version)
        await _mapped_async(lambda q, t: self._native.delete_stream_submit(q, t, stream, kind, revision))

    async def tombstone_stream(self, stream: str, *, expected_version: ExpectedVersion = "any") -> None:
        kind, revision = expected_version_code(expected_version)
        await _mapped_async(lambda q, t: self._native.tombstone_stream_submit(q, t, stream, kind, revision))

    async def shred_stream(self, stream: str) -> None:
        await _mapped_async(lambda q, t: self._native.shred_stream_submit(q, t, stream))

    async def rotate_master_key(self, new_key: bytes) -> None:
        key = _bytes(new_key, "new_key")
        await _mapped_async(lambda q, t: self._native.rotate_master_key_submit(q, t, key))

    async def save_snapshot(self, stream: str, revision: int, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else _bytes(data, "data")
        rev = _u64(revision, "revision")
        await _mapped_async(lambda q, t: self._native.save_snapshot_submit(q, t, stream, rev, raw))

    async def get_snapshot(self, stream: str) -> Snapshot | None:
        packed = await _mapped_async(lambda q, t: self._native.get_snapshot_submit(q, t, stream))
        return None if packed is None else decode_snapshot(packed)

    async def upsert_schema(self, schema: type | dict[str, Any] | str) -> SchemaUpsert:
        text = _schema_text(schema)
        return SchemaUpsert.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.upsert_schema_submit(q, t, text)))
        )

    async def get_schema(self, name: str, version: int | None = None) -> RegisteredSchema:
        return RegisteredSchema.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.get_schema_submit(q, t, name, version)))
        )

    async def list_schemas(self) -> list[RegisteredSchema]:
        return [
            RegisteredSchema.from_json(s) for s in json.loads(await _mapped_async(self._native.list_schemas_submit))
        ]

    async def create_group(
        self,
        name: str,
        target: GroupTarget,
        *,
        start: SubscriptionStart = "start",
        settings: GroupSettings | None = None,
    ) -> GroupInfo:
        kind, after = subscription_start_code(start)
        target_text = json.dumps(group_target_to_json(target))
        settings_text = json.dumps((settings or GroupSettings()).to_json())
        return GroupInfo.from_json(
            json.loads(
                await _mapped_async(
                    lambda q, t: self._native.create_group_submit(q, t, name, target_text, kind, after, settings_text)
                )
            )
        )

    async def update_group(self, name: str, settings: GroupSettings) -> GroupInfo:
        text = json.dumps(settings.to_json())
        return GroupInfo.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.update_group_submit(q, t, name, text)))
        )

    async def delete_group(self, name: str) -> None:
        await _mapped_async(lambda q, t: self._native.delete_group_submit(q, t, name))

    async def group_info(self, name: str) -> GroupInfo:
        return GroupInfo.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.group_info_submit(q, t, name)))
        )

    async def list_groups(self) -> list[str]:
        return list(await _mapped_async(self._native.list_groups_submit))

    async def replay_parked(self, name: str, *, limit: int | None = None) -> ReplayInfo:
        n = _u64(limit, "limit")
        return ReplayInfo.from_json(
            json.loads(await _mapped_async(lambda q, t: self._native.replay_parked_submit(q, t, name, n)))
        )

    async def subscribe_to_stream(
        self, stream: str, *, start: SubscriptionStart = "start", page_size: int | None = None
    ) -> AsyncSubscription:
        kind, after = subscription_start_code(start)
        size = _page_size(page_size)
        native = await _mapped_async(
            lambda q, t: self._native.subscribe_to_stream_submit(q, t, stream, kind, after, size)
        )
        return AsyncSubscription(native, _mapped_async)

    async def subscribe_to_all(
        self,
        *,
        start: SubscriptionStart = "start",
        filter: Filter | None = None,
        page_size: int | None = None,
    ) -> AsyncSubscription:
        kind, after = subscription_start_code(start)
        text, size = filter_json_text(filter), _page_size(page_size)
        native = await _mapped_async(lambda q, t: self._native.subscribe_to_all_submit(q, t, kind, after, text, size))
        return AsyncSubscription(native, _mapped_async)

    async def join_group(self, group: str, member: str) -> AsyncGroupMember:
        native = await _mapped_async(lambda q, t: self._native.join_group_submit(q, t, group, member))
        return AsyncGroupMember(native, _mapped_async)


__all__ = [
    "AsyncClient",
    "AsyncEventPages",
    "Client",
    "EventData",
    "EventPages",
    "GraveyardError",
    "connect",
    "connect_async",
    "open",
    "open_async",
]
