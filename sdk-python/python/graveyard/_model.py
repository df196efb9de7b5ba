"""The model of the SDK: the values users pass and read back, the numbers of the enums that
cross the native boundary, and the JSON forms of the structured values (docs/boundary.md).

Conventions, everywhere:

- every u64 and u32 of the core (revisions, positions, checkpoints, counts, versions) is an
  ``int``; durations are ``datetime.timedelta`` (see StreamMetadata), crossing as whole
  milliseconds rounded up;
- the string values of enums are the core's JSON names (``"no_stream"``,
  ``"pinned_by_stream"``), so they read the same in the docs, in JSON and in every SDK;
- ``to_json`` gives the JSON *value* (dicts, lists, str, int, None: ``json.dumps`` it) of the
  core's input, and raises TypeError (a value of the wrong type) or ValueError (of the wrong
  range) for user values; ``from_json`` reads the core's output as ``json.loads`` gives it and
  ignores fields it does not know, and a value of the wrong shape is an InternalError (the
  native layer ships with the SDK, so it is a bug). Python's json keeps integers exact, so u64s
  beyond 2^53 need nothing special.

_errors and this module use each other only inside function bodies, through the module objects,
so that either can be imported first.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn, Union

from . import _errors

__all__ = [
    "CONTENT_TYPE_BINARY",
    "CONTENT_TYPE_JSON",
    "DIRECTION_CODES",
    "DURABILITY_CODES",
    "EXPECTED_VERSION_CODES",
    "GROUP_STRATEGY_CODES",
    "NACK_ACTION_CODES",
    "SUBSCRIPTION_START_CODES",
    "After",
    "AllTarget",
    "AppendResult",
    "CurrentRevision",
    "Direction",
    "Durability",
    "ExpectedVersion",
    "Filter",
    "GroupInfo",
    "GroupSettings",
    "GroupStrategy",
    "GroupTarget",
    "NackAction",
    "RegisteredSchema",
    "ReplayInfo",
    "SchemaUpsert",
    "Snapshot",
    "StreamInfo",
    "StreamMetadata",
    "StreamSummary",
    "StreamTarget",
    "SubscriptionStart",
    "current_revision_from_json",
    "current_revision_to_json",
    "direction_code",
    "durability_code",
    "expected_version_code",
    "expected_version_from_json",
    "expected_version_to_json",
    "filter_json_text",
    "group_strategy_code",
    "group_target_from_json",
    "group_target_to_json",
    "nack_action_code",
    "subscription_start_code",
    "subscription_start_from_json",
    "subscription_start_to_json",
]

U32_MAX: Final = 0xFFFFFFFF
U64_MAX: Final = 0xFFFFFFFFFFFFFFFF

CONTENT_TYPE_JSON: Final = "application/json"
"""The content type of JSON events, the only one ``RecordedEvent.json()`` reads."""
CONTENT_TYPE_BINARY: Final = "application/octet-stream"
"""The content type of opaque bytes."""

# ---- codes ------------------------------------------------------------------------------------

# The numbers of the enums that cross the native boundary (docs/boundary.md, "Codes"),
# read-only: the tests hold them to conformance/boundary_vectors.json.
EXPECTED_VERSION_CODES: Final[Mapping[str, int]] = MappingProxyType(
    {"any": 0, "no_stream": 1, "stream_exists": 2, "exact": 3}
)
DIRECTION_CODES: Final[Mapping[str, int]] = MappingProxyType({"forwards": 0, "backwards": 1})
SUBSCRIPTION_START_CODES: Final[Mapping[str, int]] = MappingProxyType({"start": 0, "end": 1, "after": 2})
NACK_ACTION_CODES: Final[Mapping[str, int]] = MappingProxyType({"retry": 1, "park": 2, "skip": 3})
GROUP_STRATEGY_CODES: Final[Mapping[str, int]] = MappingProxyType({"round_robin": 0, "pinned_by_stream": 1})
DURABILITY_CODES: Final[Mapping[str, int]] = MappingProxyType({"fsync": 0, "no_fsync_unsafe": 1})


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r:.100}"


def _int(value: object, what: str, hint: str = "an int") -> int:
    # operator.index takes ints and int-likes (IntEnum, numpy integers) and refuses floats;
    # bool is an int in Python but never a revision or a count.
    if isinstance(value, bool):
        raise TypeError(f"{what} must be {hint}, not {_describe(value)}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be {hint}, not {_describe(value)}") from None


def _check_u64(value: object, what: str, hint: str = "an int") -> int:
    v = _int(value, what, hint)
    if v < 0 or v > U64_MAX:
        raise ValueError(f"{what} must be from 0 to 2**64-1, not {v}")
    return v


def _check_u32(value: object, what: str) -> int:
    v = _int(value, what)
    if v < 0 or v > U32_MAX:
        raise ValueError(f"{what} must be from 0 to 2**32-1, not {v}")
    return v


def _choice(value: object, table: Mapping[str, int], what: str) -> int:
    if isinstance(value, str) and value in table:
        return table[value]
    names = [repr(k) for k in table]
    expected = f"{', '.join(names[:-1])} or {names[-1]}"
    if isinstance(value, str):
        raise ValueError(f"{what} must be {expected}, not {value!r}")
    raise TypeError(f"{what} must be {expected}, not {_describe(value)}")


def _millis(value: object, what: str) -> int:
    """A duration in whole milliseconds, rounded up so that a positive one never becomes 0."""
    if not isinstance(value, timedelta):
        raise TypeError(f"{what} must be a datetime.timedelta, not {_describe(value)}")
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micros < 0:
        raise ValueError(f"{what} must not be negative, not {value}")
    return -(-micros // 1000)


def _duration(ms: int) -> timedelta:
    # timedelta stops at 999,999,999 days (2.7 million years); a longer duration set through
    # another SDK reads back as that longest one, which means the same to any store.
    try:
        return timedelta(milliseconds=ms)
    except OverflowError:
        return timedelta.max


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utc_from_micros(micros: int) -> datetime:
    """Unix microseconds as an aware UTC datetime (exact: datetime has microseconds)."""
    try:
        # Positional: the keyword form costs half again as much.
        return _EPOCH + timedelta(0, 0, micros)
    except OverflowError:
        raise OverflowError(
            f"the timestamp {micros} (unix microseconds) is outside datetime's years 1 to 9999: "
            "read timestamp_micros instead"
        ) from None


# ---- readers of the core's JSON ----------------------------------------------------------------


def _malformed(what: str, value: object) -> NoReturn:
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    raise _errors.InternalError(f"the native layer returned malformed JSON: {what}: {shown[:200]}")


def _object(v: object, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        _malformed(what, v)
    return v


def _u64(v: object, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > U64_MAX:
        _malformed(what, v)
    return v


def _u32(v: object, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > U32_MAX:
        _malformed(what, v)
    return v


def _str(v: object, what: str) -> str:
    if not isinstance(v, str):
        _malformed(what, v)
    return v


def _bool(v: object, what: str) -> bool:
    if not isinstance(v, bool):
        _malformed(what, v)
    return v


def _str_tuple(v: object, what: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        _malformed(what, v)
    return tuple(v)


def _optional_u64(o: dict[str, Any], key: str) -> int | None:
    v = o.get(key)
    return None if v is None else _u64(v, key)


def _optional_millis(o: dict[str, Any], key: str) -> timedelta | None:
    v = o.get(key)
    return None if v is None else _duration(_u64(v, key))


def _strings(value: object, what: str) -> tuple[str, ...]:
    # A str is iterable too: Filter(event_types="Order") would otherwise filter on "O", "r"...
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings, not a single {type(value).__name__} {value!r:.100}")
    if not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of strings, not {_describe(value)}")
    items = tuple(value)
    for s in items:
        if not isinstance(s, str):
            raise TypeError(f"{what} must be a list of strings, not one holding {_describe(s)}")
    return items


# ---- expected version, current revision ---------------------------------------------------------

ExpectedVersion = Union[Literal["any", "no_stream", "stream_exists"], int]
"""The optimistic-concurrency condition of a write: ``"any"`` always passes, ``"no_stream"``
when the stream has no events, ``"stream_exists"`` when it has, an int when its last revision is
exactly that one (as in the TypeScript SDK: the revision itself, not a wrapper)."""

CurrentRevision = Union[Literal["no_stream"], int]
"""A stream's last revision, or ``"no_stream"`` when it has no visible events."""

_EXPECTED_HINT: Final = "'any', 'no_stream', 'stream_exists' or a revision (an int)"
# From a str of the core's JSON to the Literal it is, without a cast.
_EXPECTED_NAMES: Final[Mapping[str, Literal["any", "no_stream", "stream_exists"]]] = MappingProxyType(
    {"any": "any", "no_stream": "no_stream", "stream_exists": "stream_exists"}
)


def expected_version_code(expected: ExpectedVersion) -> tuple[int, int]:
    """The boundary's (kind, revision) of an expected version; the revision is 0 but for exact."""
    if isinstance(expected, str):
        if expected in ("any", "no_stream", "stream_exists"):
            return (EXPECTED_VERSION_CODES[expected], 0)
        raise ValueError(f"an expected version must be {_EXPECTED_HINT}, not {expected!r}")
    return (EXPECTED_VERSION_CODES["exact"], _check_u64(expected, "an expected version", _EXPECTED_HINT))


def expected_version_to_json(expected: ExpectedVersion) -> str | dict[str, int]:
    """``"any"``, ``"no_stream"``, ``"stream_exists"`` or ``{"exact": n}``."""
    kind, revision = expected_version_code(expected)
    return {"exact": revision} if kind == EXPECTED_VERSION_CODES["exact"] else str(expected)


def expected_version_from_json(value: object) -> ExpectedVersion:
    if isinstance(value, str) and value in _EXPECTED_NAMES:
        return _EXPECTED_NAMES[value]
    if isinstance(value, dict) and len(value) == 1 and "exact" in value:
        return _u64(value["exact"], "an exact expected version")
    _malformed("an expected version", value)


def current_revision_to_json(current: CurrentRevision) -> str | int:
    """``"no_stream"`` or the revision."""
    if current == "no_stream":
        return current
    if isinstance(current, str):
        raise ValueError(f"a current revision must be 'no_stream' or a revision (an int), not {current!r}")
    return _check_u64(current, "a current revision", "'no_stream' or a revision (an int)")


def current_revision_from_json(value: object) -> CurrentRevision:
    return "no_stream" if value == "no_stream" else _u64(value, "a current revision")


# ---- other enums ------------------------------------------------------------------------------

Direction = Literal["forwards", "backwards"]
NackAction = Literal["retry", "park", "skip"]
"""What a nack does: deliver again (parked once out of retries), park now, or settle unprocessed."""
GroupStrategy = Literal["round_robin", "pinned_by_stream"]
"""How a group shares events: to the next member asking, or each stream to one member, in order."""
Durability = Literal["fsync", "no_fsync_unsafe"]
"""Of an embedded store: fsync every commit, or never (tests and throwaway data only)."""


_STRATEGY_NAMES: Final[Mapping[str, GroupStrategy]] = MappingProxyType(
    {"round_robin": "round_robin", "pinned_by_stream": "pinned_by_stream"}
)


def direction_code(direction: Direction) -> int:
    return _choice(direction, DIRECTION_CODES, "a direction")


def nack_action_code(action: NackAction) -> int:
    return _choice(action, NACK_ACTION_CODES, "a nack action")


def group_strategy_code(strategy: GroupStrategy) -> int:
    return _choice(strategy, GROUP_STRATEGY_CODES, "a group strategy")


def durability_code(durability: Durability) -> int:
    return _choice(durability, DURABILITY_CODES, "a durability")


# ---- subscription start -------------------------------------------------------------------------


@dataclass(frozen=True)
class After:
    """A subscription start after a checkpoint: the revision (or $all position) of the last
    event processed; the subscription hands out the events after it.

    A class rather than a bare int, so that ``After(0)`` (everything but event 0) is never
    mistaken for ``"start"`` (everything), nor for a revision to read from.
    """

    checkpoint: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", _check_u64(self.checkpoint, "After's checkpoint"))


SubscriptionStart = Union[Literal["start", "end"], After]
"""Where a subscription starts: its first event, only events committed after it is made, or
``After(checkpoint)``."""

_START_NAMES: Final[Mapping[str, Literal["start", "end"]]] = MappingProxyType({"start": "start", "end": "end"})


def subscription_start_code(start: SubscriptionStart) -> tuple[int, int]:
    """The boundary's (kind, checkpoint) of a start; the checkpoint is 0 but for After."""
    if isinstance(start, After):
        return (SUBSCRIPTION_START_CODES["after"], start.checkpoint)
    if isinstance(start, str) and start in _START_NAMES:
        return (SUBSCRIPTION_START_CODES[start], 0)
    hint = "'start', 'end' or After(checkpoint)"
    if isinstance(start, str):
        raise ValueError(f"a subscription start must be {hint}, not {start!r}")
    raise TypeError(f"a subscription start must be {hint}, not {_describe(start)}")


def subscription_start_to_json(start: SubscriptionStart) -> str | dict[str, int]:
    """``"start"``, ``"end"`` or ``{"after": n}``."""
    kind, after = subscription_start_code(start)
    return {"after": after} if kind == SUBSCRIPTION_START_CODES["after"] else str(start)


def subscription_start_from_json(value: object) -> SubscriptionStart:
    if isinstance(value, str) and value in _START_NAMES:
        return _START_NAMES[value]
    if isinstance(value, dict) and len(value) == 1 and "after" in value:
        return After(_u64(value["after"], "a subscription start after"))
    _malformed("a subscription start", value)


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppendResult:
    """Where an append's events landed."""

    first_revision: int
    last_revision: int
    first_position: int
    last_position: int

    def to_json(self) -> dict[str, int]:
        return {
            "first_revision": _check_u64(self.first_revision, "first_revision"),
            "last_revision": _check_u64(self.last_revision, "last_revision"),
            "first_position": _check_u64(self.first_position, "first_position"),
            "last_position": _check_u64(self.last_position, "last_position"),
        }

    @classmethod
    def from_json(cls, value: object) -> AppendResult:
        o = _object(value, "an append result")
        return cls(
            first_revision=_u64(o.get("first_revision"), "first_revision"),
            last_revision=_u64(o.get("last_revision"), "last_revision"),
            first_position=_u64(o.get("first_position"), "first_position"),
            last_position=_u64(o.get("last_position"), "last_position"),
        )


@dataclass(frozen=True)
class Snapshot:
    """The saved state of a stream at a revision."""

    stream: str
    revision: int
    timestamp_micros: int
    """Save time, unix microseconds."""
    data: bytes

    @property
    def timestamp(self) -> datetime:
        """Save time, UTC."""
        return _utc_from_micros(self.timestamp_micros)


# ---- stream metadata and info -------------------------------------------------------------------


@dataclass(frozen=True)
class StreamMetadata:
    """Retention rules of a stream; None is unset.

    ``max_age`` is a ``datetime.timedelta``, not a number of milliseconds: it is the standard
    library's duration (what a Python user has at hand, ``timedelta(days=30)``), it says its
    unit, and the Go SDK takes a ``time.Duration`` alike. It crosses as whole milliseconds,
    rounded up, so a positive one never becomes 0.
    """

    max_count: int | None = None
    """Only the last max_count events are visible."""
    max_age: timedelta | None = None
    """Events older than this are not visible."""
    truncate_before: int | None = None
    """Events below this revision are not visible."""

    def __post_init__(self) -> None:
        if self.max_count is not None:
            object.__setattr__(self, "max_count", _check_u64(self.max_count, "max_count"))
        if self.max_age is not None:
            _millis(self.max_age, "max_age")
        if self.truncate_before is not None:
            object.__setattr__(self, "truncate_before", _check_u64(self.truncate_before, "truncate_before"))

    def to_json(self) -> dict[str, int | None]:
        """``{"max_count", "max_age_ms", "truncate_before"}``, None (null) for unset."""
        return {
            "max_count": self.max_count,
            "max_age_ms": None if self.max_age is None else _millis(self.max_age, "max_age"),
            "truncate_before": self.truncate_before,
        }

    @classmethod
    def from_json(cls, value: object) -> StreamMetadata:
        o = _object(value, "stream metadata")
        return cls(
            max_count=_optional_u64(o, "max_count"),
            max_age=_optional_millis(o, "max_age_ms"),
            truncate_before=_optional_u64(o, "truncate_before"),
        )


@dataclass(frozen=True)
class StreamSummary:
    """One stream of a listing (``Client.list_streams``): tombstoned, deleted and shredded
    streams included, with their state."""

    name: str
    next_revision: int
    """The revision the next appended event will get."""
    last_position: int | None
    """The position of its last event in ``$all``; ``None`` when it never had one."""
    deleted: bool
    """Soft-deleted and not written since."""
    deleted_before: int
    """Revisions below this were hidden by its last soft delete (0 when never deleted)."""
    tombstoned: bool
    shredded: bool

    @classmethod
    def from_json(cls, value: object) -> StreamSummary:
        o = _object(value, "stream summary")
        return cls(
            name=_str(o.get("name"), "name"),
            next_revision=_u64(o.get("next_revision"), "next_revision"),
            last_position=_optional_u64(o, "last_position"),
            deleted=_bool(o.get("deleted"), "deleted"),
            deleted_before=_u64(o.get("deleted_before"), "deleted_before"),
            tombstoned=_bool(o.get("tombstoned"), "tombstoned"),
            shredded=_bool(o.get("shredded"), "shredded"),
        )


@dataclass(frozen=True)
class StreamInfo:
    """The state of a stream."""

    current: CurrentRevision
    next_revision: int
    """The revision the next appended event will get."""
    deleted: bool
    """Soft-deleted and not written since."""
    shredded: bool
    """Its key was destroyed: its events read back without data, appends fail."""
    metadata: StreamMetadata

    def to_json(self) -> dict[str, Any]:
        return {
            "current": current_revision_to_json(self.current),
            "next_revision": _check_u64(self.next_revision, "next_revision"),
            "deleted": bool(self.deleted),
            "shredded": bool(self.shredded),
            "metadata": self.metadata.to_json(),
        }

    @classmethod
    def from_json(cls, value: object) -> StreamInfo:
        o = _object(value, "stream info")
        return cls(
            current=current_revision_from_json(o.get("current")),
            next_revision=_u64(o.get("next_revision"), "next_revision"),
            deleted=_bool(o.get("deleted"), "deleted"),
            shredded=_bool(o.get("shredded"), "shredded"),
            metadata=StreamMetadata.from_json(o.get("metadata")),
        )


# ---- filters and group targets --------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class Filter:
    """Which events of $all to read: a stream name prefix (any of them) and an event type (any
    of them). An empty tuple matches every event. Any iterable of strings is taken (a single
    string is refused: it would be a list of its characters), and kept as a tuple."""

    stream_prefixes: tuple[str, ...]
    event_types: tuple[str, ...]

    def __init__(self, stream_prefixes: Iterable[str] = (), event_types: Iterable[str] = ()) -> None:
        object.__setattr__(self, "stream_prefixes", _strings(stream_prefixes, "stream_prefixes"))
        object.__setattr__(self, "event_types", _strings(event_types, "event_types"))

    @property
    def matches_all(self) -> bool:
        """Both tuples empty: every event."""
        return not self.stream_prefixes and not self.event_types

    def to_json(self) -> dict[str, list[str]]:
        """``{"stream_prefixes": [...], "event_types": [...]}``, always both lists."""
        return {"stream_prefixes": list(self.stream_prefixes), "event_types": list(self.event_types)}

    @classmethod
    def from_json(cls, value: object) -> Filter:
        o = _object(value, "a filter")
        prefixes = o.get("stream_prefixes")
        types = o.get("event_types")
        return cls(
            stream_prefixes=() if prefixes is None else _str_tuple(prefixes, "stream_prefixes"),
            event_types=() if types is None else _str_tuple(types, "event_types"),
        )


def filter_json_text(f: Filter | None) -> str | None:
    """The filter's JSON text for the native layer, or None for no filter (None, or one that
    matches every event)."""
    if f is None:
        return None
    if not isinstance(f, Filter):
        raise TypeError(f"a filter must be a Filter, not {_describe(f)}")
    return None if f.matches_all else json.dumps(f.to_json(), separators=(",", ":"))


@dataclass(frozen=True)
class StreamTarget:
    """A consumer group over one stream (its cursors are revisions)."""

    stream: str

    def __post_init__(self) -> None:
        if not isinstance(self.stream, str):
            raise TypeError(f"a group's stream must be a str, not {_describe(self.stream)}")

    def to_json(self) -> dict[str, str]:
        return {"stream": self.stream}


@dataclass(frozen=True)
class AllTarget:
    """A consumer group over $all, filtered (its cursors are positions)."""

    filter: Filter = Filter()

    def __post_init__(self) -> None:
        if not isinstance(self.filter, Filter):
            raise TypeError(f"a group's filter must be a Filter, not {_describe(self.filter)}")

    def to_json(self) -> dict[str, dict[str, list[str]]]:
        return {"all": self.filter.to_json()}


GroupTarget = Union[StreamTarget, AllTarget]
"""What a consumer group consumes: one stream, or $all filtered."""


def group_target_to_json(target: GroupTarget) -> dict[str, Any]:
    """``{"stream": "name"}`` or ``{"all": filter}``."""
    if isinstance(target, (StreamTarget, AllTarget)):
        return target.to_json()
    raise TypeError(f"a group target must be StreamTarget(stream) or AllTarget(filter), not {_describe(target)}")


def group_target_from_json(value: object) -> GroupTarget:
    o = _object(value, "a group target")
    if len(o) == 1 and isinstance(o.get("stream"), str):
        return StreamTarget(o["stream"])
    if len(o) == 1 and "all" in o:
        return AllTarget(Filter.from_json(o["all"]))
    _malformed("a group target", value)


# ---- groups ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSettings:
    """A group's rules; None takes the store's default (10, 30 s, 256, ``"round_robin"``).

    ``ack_timeout`` is a ``datetime.timedelta``, as StreamMetadata's max_age, crossing as whole
    milliseconds rounded up.
    """

    max_retries: int | None = None
    """Deliveries after the first before an event is parked."""
    ack_timeout: timedelta | None = None
    """An event not settled this long after delivery is delivered again."""
    max_in_flight: int | None = None
    """Most events read ahead and in flight at once."""
    strategy: GroupStrategy | None = None

    def __post_init__(self) -> None:
        if self.max_retries is not None:
            object.__setattr__(self, "max_retries", _check_u32(self.max_retries, "max_retries"))
        if self.ack_timeout is not None:
            _millis(self.ack_timeout, "ack_timeout")
        if self.max_in_flight is not None:
            object.__setattr__(self, "max_in_flight", _check_u32(self.max_in_flight, "max_in_flight"))
        if self.strategy is not None:
            group_strategy_code(self.strategy)

    def to_json(self) -> dict[str, Any]:
        """The JSON the core reads: unset fields left out, so that the core fills its defaults."""
        j: dict[str, Any] = {}
        if self.max_retries is not None:
            j["max_retries"] = self.max_retries
        if self.ack_timeout is not None:
            j["ack_timeout_ms"] = _millis(self.ack_timeout, "ack_timeout")
        if self.max_in_flight is not None:
            j["max_in_flight"] = self.max_in_flight
        if self.strategy is not None:
            j["strategy"] = self.strategy
        return j

    @classmethod
    def from_json(cls, value: object) -> GroupSettings:
        """The core's settings of a group: every field set."""
        o = _object(value, "group settings")
        raw = o.get("strategy")
        strategy = _STRATEGY_NAMES.get(raw) if isinstance(raw, str) else None
        if strategy is None:
            _malformed("a group strategy", raw)
        return cls(
            max_retries=_u32(o.get("max_retries"), "max_retries"),
            ack_timeout=_duration(_u64(o.get("ack_timeout_ms"), "ack_timeout_ms")),
            max_in_flight=_u32(o.get("max_in_flight"), "max_in_flight"),
            strategy=strategy,
        )


@dataclass(frozen=True)
class GroupInfo:
    """The state of a consumer group."""

    name: str
    target: GroupTarget
    settings: GroupSettings
    """Every field set: the store's defaults filled in."""
    checkpoint: int
    """Every cursor below it is settled (durably)."""
    lag: int
    """Events committed to the target beyond the checkpoint."""
    members: tuple[str, ...]
    """Members connected (in this process, or on the node that holds the group)."""
    in_flight: int
    """Delivered and not yet settled."""
    buffered: int
    """Read ahead, waiting for a member."""
    parked_stream: str
    """``$parked-<group>``."""
    parked: int
    """Parked events waiting for a replay."""
    replaying: int
    """Parked events handed back by a replay and not yet settled again."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": group_target_to_json(self.target),
            "settings": self.settings.to_json(),
            "checkpoint": _check_u64(self.checkpoint, "checkpoint"),
            "lag": _check_u64(self.lag, "lag"),
            "members": list(self.members),
            "in_flight": _check_u64(self.in_flight, "in_flight"),
            "buffered": _check_u64(self.buffered, "buffered"),
            "parked_stream": self.parked_stream,
            "parked": _check_u64(self.parked, "parked"),
            "replaying": _check_u64(self.replaying, "replaying"),
        }

    @classmethod
    def from_json(cls, value: object) -> GroupInfo:
        o = _object(value, "group info")
        return cls(
            name=_str(o.get("name"), "name"),
            target=group_target_from_json(o.get("target")),
            settings=GroupSettings.from_json(o.get("settings")),
            checkpoint=_u64(o.get("checkpoint"), "checkpoint"),
            lag=_u64(o.get("lag"), "lag"),
            members=_str_tuple(o.get("members"), "members"),
            in_flight=_u64(o.get("in_flight"), "in_flight"),
            buffered=_u64(o.get("buffered"), "buffered"),
            parked_stream=_str(o.get("parked_stream"), "parked_stream"),
            parked=_u64(o.get("parked"), "parked"),
            replaying=_u64(o.get("replaying"), "replaying"),
        )


@dataclass(frozen=True)
class ReplayInfo:
    """What a replay handed back: revisions ``from_`` to ``to`` (exclusive) of the parked stream
    (JSON ``from`` and ``to``; ``from`` is a keyword of Python), and the counts after it."""

    from_: int
    to: int
    parked: int
    replaying: int

    def to_json(self) -> dict[str, int]:
        return {
            "from": _check_u64(self.from_, "from_"),
            "to": _check_u64(self.to, "to"),
            "parked": _check_u64(self.parked, "parked"),
            "replaying": _check_u64(self.replaying, "replaying"),
        }

    @classmethod
    def from_json(cls, value: object) -> ReplayInfo:
        o = _object(value, "replay info")
        return cls(
            from_=_u64(o.get("from"), "from"),
            to=_u64(o.get("to"), "to"),
            parked=_u64(o.get("parked"), "parked"),
            replaying=_u64(o.get("replaying"), "replaying"),
        )


# ---- schemas --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaUpsert:
    """The outcome of registering a schema."""

    name: str
    version: int
    """The version now latest: the new one, or the existing one when nothing changed."""
    changed: bool
    """False when the definition equalled the latest version: nothing was written."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": _check_u32(self.version, "version"), "changed": bool(self.changed)}

    @classmethod
    def from_json(cls, value: object) -> SchemaUpsert:
        o = _object(value, "a schema upsert")
        return cls(
            name=_str(o.get("name"), "name"),
            version=_u32(o.get("version"), "version"),
            changed=_bool(o.get("changed"), "changed"),
        )


@dataclass(frozen=True)
class RegisteredSchema:
    """A stored version of a schema; ``schema`` is its definition's JSON form (a dict, as
    ``json.loads`` gives it; docs/semantics.md, "Schemas")."""

    name: str
    version: int
    schema: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": _check_u32(self.version, "version"), "schema": self.schema}

    @classmethod
    def from_json(cls, value: object) -> RegisteredSchema:
        o = _object(value, "a registered schema")
        return cls(
            name=_str(o.get("name"), "name"),
            version=_u32(o.get("version"), "version"),
            schema=_object(o.get("schema"), "a schema definition"),
        )
