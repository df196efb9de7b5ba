"""The model: the numbers of the enums (held to the golden vectors), the JSON forms of
docs/boundary.md read and written back, and the checks of user values."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from graveyard._errors import InternalError
from graveyard._model import (
    DIRECTION_CODES,
    DURABILITY_CODES,
    EXPECTED_VERSION_CODES,
    GROUP_STRATEGY_CODES,
    NACK_ACTION_CODES,
    SUBSCRIPTION_START_CODES,
    After,
    AllTarget,
    AppendResult,
    Filter,
    GroupInfo,
    GroupSettings,
    RegisteredSchema,
    ReplayInfo,
    SchemaUpsert,
    Snapshot,
    StreamInfo,
    StreamMetadata,
    StreamTarget,
    current_revision_from_json,
    current_revision_to_json,
    direction_code,
    durability_code,
    expected_version_code,
    expected_version_from_json,
    expected_version_to_json,
    filter_json_text,
    group_strategy_code,
    group_target_from_json,
    group_target_to_json,
    nack_action_code,
    subscription_start_code,
    subscription_start_from_json,
    subscription_start_to_json,
)


def _vectors_file() -> Path:
    for directory in Path(__file__).resolve().parents:
        candidate = directory / "conformance" / "boundary_vectors.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no conformance/boundary_vectors.json above {__file__}")


VECTORS: dict[str, Any] = json.loads(_vectors_file().read_text(encoding="utf-8"))
J: dict[str, Any] = VECTORS["json"]
U64_MAX = 2**64 - 1


# ---- codes --------------------------------------------------------------------------------------


def test_code_tables_are_the_vectors() -> None:
    codes = VECTORS["codes"]
    assert dict(EXPECTED_VERSION_CODES) == codes["expected_version"]
    assert dict(DIRECTION_CODES) == codes["direction"]
    assert dict(SUBSCRIPTION_START_CODES) == codes["subscription_start"]
    assert dict(NACK_ACTION_CODES) == codes["nack_action"]
    assert dict(GROUP_STRATEGY_CODES) == codes["group_strategy"]
    assert dict(DURABILITY_CODES) == codes["durability"]
    # Every table of the vectors is held by a test.
    assert sorted(codes) == sorted(
        [
            "direction",
            "durability",
            "error",
            "expected_version",
            "group_strategy",
            "nack_action",
            "subscription_start",
        ]
    )
    with pytest.raises(TypeError):
        DIRECTION_CODES["sideways"] = 2  # type: ignore[index]


def test_converters_to_codes() -> None:
    assert expected_version_code("any") == (0, 0)
    assert expected_version_code("no_stream") == (1, 0)
    assert expected_version_code("stream_exists") == (2, 0)
    assert expected_version_code(7) == (3, 7)
    assert expected_version_code(0) == (3, 0)
    assert expected_version_code(U64_MAX) == (3, U64_MAX)
    assert subscription_start_code("start") == (0, 0)
    assert subscription_start_code("end") == (1, 0)
    assert subscription_start_code(After(41)) == (2, 41)
    assert [direction_code("forwards"), direction_code("backwards")] == [0, 1]
    assert [nack_action_code("retry"), nack_action_code("park"), nack_action_code("skip")] == [1, 2, 3]
    assert [group_strategy_code("round_robin"), group_strategy_code("pinned_by_stream")] == [0, 1]
    assert [durability_code("fsync"), durability_code("no_fsync_unsafe")] == [0, 1]

    class Revision(enum.IntEnum):
        FIVE = 5

    # int-likes are ints; the result is a plain int.
    kind, revision = expected_version_code(Revision.FIVE)
    assert (kind, revision, type(revision)) == (3, 5, int)


@pytest.mark.parametrize(
    ("convert", "value", "error", "message"),
    [
        (expected_version_code, 5.0, TypeError, r"'any', 'no_stream', 'stream_exists' or a revision .* float 5.0"),
        (expected_version_code, True, TypeError, r"not bool True"),
        (expected_version_code, "5", ValueError, r"or a revision \(an int\), not '5'$"),
        (expected_version_code, "exact", ValueError, r"not 'exact'"),
        (expected_version_code, -1, ValueError, r"from 0 to 2\*\*64-1, not -1"),
        (expected_version_code, 2**64, ValueError, r"2\*\*64-1"),
        (expected_version_code, None, TypeError, r"not NoneType None"),
        (subscription_start_code, "after", ValueError, r"'start', 'end' or After\(checkpoint\), not 'after'"),
        (subscription_start_code, 41, TypeError, r"'start', 'end' or After\(checkpoint\), not int 41"),
        (subscription_start_code, {"after": 41}, TypeError, r"After\(checkpoint\)"),
        (direction_code, "up", ValueError, r"^a direction must be 'forwards' or 'backwards', not 'up'$"),
        (direction_code, 0, TypeError, r"'forwards' or 'backwards', not int 0"),
        (nack_action_code, "ack", ValueError, r"'retry', 'park' or 'skip', not 'ack'"),
        (nack_action_code, None, TypeError, r"not NoneType None"),
        (group_strategy_code, "round-robin", ValueError, r"'round_robin' or 'pinned_by_stream'"),
        (durability_code, "none", ValueError, r"'fsync' or 'no_fsync_unsafe'"),
        (After, -1, ValueError, r"After's checkpoint must be from 0 to 2\*\*64-1"),
        (After, 1.0, TypeError, r"After's checkpoint must be an int, not float"),
        (After, False, TypeError, r"not bool False"),
        (current_revision_to_json, "any", ValueError, r"'no_stream' or a revision"),
        (current_revision_to_json, -3, ValueError, r"from 0 to 2\*\*64-1"),
    ],
)
def test_wrong_user_values_are_refused(
    convert: Callable[[Any], object], value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        convert(value)


# ---- golden JSON forms --------------------------------------------------------------------------


def test_golden_expected_versions() -> None:
    read = [expected_version_from_json(raw) for raw in J["expected_version"]]
    assert read == ["any", "no_stream", "stream_exists", 3]
    assert [expected_version_to_json(v) for v in read] == J["expected_version"]


def test_golden_current_revisions() -> None:
    read = [current_revision_from_json(raw) for raw in J["current_revision"]]
    assert read == ["no_stream", 0]
    assert [current_revision_to_json(v) for v in read] == J["current_revision"]


def test_golden_subscription_starts() -> None:
    read = [subscription_start_from_json(raw) for raw in J["subscription_start"]]
    assert read == ["start", "end", After(41)]
    assert [subscription_start_to_json(v) for v in read] == J["subscription_start"]


def test_golden_filter() -> None:
    f = Filter.from_json(J["filter"])
    assert f == Filter(stream_prefixes=("order-",), event_types=("OrderPlaced",))
    assert f.to_json() == J["filter"]
    assert Filter().to_json() == {"stream_prefixes": [], "event_types": []}
    assert Filter.from_json({}) == Filter()


def test_golden_group_settings() -> None:
    s = GroupSettings.from_json(J["group_settings"])
    assert s == GroupSettings(
        max_retries=5, ack_timeout=timedelta(milliseconds=1500), max_in_flight=64, strategy="pinned_by_stream"
    )
    assert s.to_json() == J["group_settings"]


def test_golden_group_targets() -> None:
    targets = [group_target_from_json(raw) for raw in J["group_target"]]
    assert targets == [StreamTarget("order-1"), AllTarget(Filter(event_types=["OrderPlaced"]))]
    assert [group_target_to_json(t) for t in targets] == J["group_target"]
    assert [t.to_json() for t in targets] == J["group_target"]


def test_golden_stream_info() -> None:
    info = StreamInfo.from_json(J["stream_info"])
    assert info == StreamInfo(
        current=5,
        next_revision=6,
        deleted=False,
        shredded=False,
        metadata=StreamMetadata(max_count=10, max_age=timedelta(minutes=1), truncate_before=None),
    )
    assert info.to_json() == J["stream_info"]
    no_stream = StreamInfo.from_json({**J["stream_info"], "current": "no_stream"})
    assert no_stream.current == "no_stream"
    assert no_stream.to_json()["current"] == "no_stream"


def test_every_json_form_of_the_vectors_is_tested() -> None:
    tested = {
        "current_revision",
        "error_details",  # test_errors.py
        "expected_version",
        "filter",
        "group_settings",
        "group_target",
        "stream_info",
        "subscription_start",
    }
    assert set(J) == tested


# ---- JSON of user values ------------------------------------------------------------------------


def test_group_settings_of_users() -> None:
    # Unset fields left out: the core fills its defaults.
    assert GroupSettings().to_json() == {}
    assert GroupSettings(max_retries=0, ack_timeout=timedelta(microseconds=200)).to_json() == {
        "max_retries": 0,
        "ack_timeout_ms": 1,
    }
    assert GroupSettings(ack_timeout=timedelta(seconds=1, microseconds=1)).to_json() == {"ack_timeout_ms": 1001}
    assert GroupSettings(ack_timeout=timedelta(0)).to_json() == {"ack_timeout_ms": 0}
    assert GroupSettings(strategy="round_robin").to_json() == {"strategy": "round_robin"}
    with pytest.raises(ValueError, match=r"max_retries must be from 0 to 2\*\*32-1, not -1"):
        GroupSettings(max_retries=-1)
    with pytest.raises(ValueError, match="max_in_flight"):
        GroupSettings(max_in_flight=2**32)
    with pytest.raises(TypeError, match=r"max_in_flight must be an int, not float 1\.5"):
        GroupSettings(max_in_flight=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ack_timeout must be a datetime\.timedelta, not int 30000"):
        GroupSettings(ack_timeout=30000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ack_timeout must not be negative"):
        GroupSettings(ack_timeout=timedelta(microseconds=-1))
    with pytest.raises(ValueError, match="'round_robin' or 'pinned_by_stream', not 'fair'"):
        GroupSettings(strategy="fair")  # type: ignore[arg-type]


def test_stream_metadata_of_users() -> None:
    assert StreamMetadata().to_json() == {"max_count": None, "max_age_ms": None, "truncate_before": None}
    m = StreamMetadata(max_count=3, max_age=timedelta(seconds=1, microseconds=1), truncate_before=U64_MAX)
    assert m.to_json() == {"max_count": 3, "max_age_ms": 1001, "truncate_before": U64_MAX}
    assert StreamMetadata(max_age=timedelta(days=30)).to_json()["max_age_ms"] == 30 * 86_400_000
    # Rounded up to whole milliseconds: a positive duration never becomes 0.
    assert StreamMetadata(max_age=timedelta(microseconds=1)).to_json()["max_age_ms"] == 1
    assert StreamMetadata(max_age=timedelta.max).to_json()["max_age_ms"] == 86_399_999_999_999_999 + 1
    with pytest.raises(TypeError, match="max_count must be an int, not str '3'"):
        StreamMetadata(max_count="3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"truncate_before must be from 0 to 2\*\*64-1"):
        StreamMetadata(truncate_before=2**64)
    with pytest.raises(TypeError, match=r"max_age must be a datetime\.timedelta, not float 1\.5"):
        StreamMetadata(max_age=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_age must not be negative"):
        StreamMetadata(max_age=timedelta(days=-1))


def test_filters_and_targets_of_users() -> None:
    f = Filter(event_types=["A", "B"], stream_prefixes=(p for p in ["x-"]))
    assert f.event_types == ("A", "B")
    assert f.stream_prefixes == ("x-",)
    assert hash(f) == hash(Filter(["x-"], ["A", "B"]))
    assert dataclasses.replace(f, event_types=["C"]).event_types == ("C",)  # type: ignore[arg-type]
    assert filter_json_text(None) is None
    assert filter_json_text(Filter(stream_prefixes=[])) is None
    assert filter_json_text(Filter(event_types=["A"])) == '{"stream_prefixes":[],"event_types":["A"]}'
    with pytest.raises(TypeError, match="event_types must be a list of strings, not a single str 'A'"):
        Filter(event_types="A")
    with pytest.raises(TypeError, match="stream_prefixes must be a list of strings, not one holding int 1"):
        Filter(stream_prefixes=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="event_types must be a list of strings, not int 5"):
        Filter(event_types=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a filter must be a Filter"):
        filter_json_text({"event_types": ["A"]})  # type: ignore[arg-type]
    assert AllTarget().to_json() == {"all": {"stream_prefixes": [], "event_types": []}}
    with pytest.raises(TypeError, match="a group's stream must be a str"):
        StreamTarget(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a group's filter must be a Filter"):
        AllTarget({})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"StreamTarget\(stream\) or AllTarget\(filter\)"):
        group_target_to_json({"stream": "s"})  # type: ignore[arg-type]


def test_model_values_are_frozen() -> None:
    for value in (After(1), Filter(), StreamMetadata(), GroupSettings(), StreamTarget("s"), AllTarget()):
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


# ---- JSON of the core ---------------------------------------------------------------------------


def test_json_of_the_core_u64s_beyond_2_53_exact_unknown_fields_ignored() -> None:
    text = (
        '{"name":"g","target":{"all":{"stream_prefixes":[],"event_types":[]}},'
        '"settings":{"max_retries":10,"ack_timeout_ms":30000,"max_in_flight":256,"strategy":"round_robin"},'
        f'"checkpoint":{U64_MAX},"lag":9007199254740993,"members":["m1"],"in_flight":0,"buffered":1,'
        '"parked_stream":"$parked-g","parked":2,"replaying":3,"later_field":true}'
    )
    group = GroupInfo.from_json(json.loads(text))
    assert group == GroupInfo(
        name="g",
        target=AllTarget(),
        settings=GroupSettings(
            max_retries=10, ack_timeout=timedelta(seconds=30), max_in_flight=256, strategy="round_robin"
        ),
        checkpoint=U64_MAX,
        lag=9007199254740993,
        members=("m1",),
        in_flight=0,
        buffered=1,
        parked_stream="$parked-g",
        parked=2,
        replaying=3,
    )
    expected = json.loads(text)
    del expected["later_field"]
    assert group.to_json() == expected

    replay = ReplayInfo.from_json(json.loads(f'{{"from":0,"to":{U64_MAX},"parked":0,"replaying":5}}'))
    assert replay == ReplayInfo(from_=0, to=U64_MAX, parked=0, replaying=5)
    assert replay.to_json() == {"from": 0, "to": U64_MAX, "parked": 0, "replaying": 5}

    upsert = SchemaUpsert.from_json({"name": "order", "version": 2, "changed": False})
    assert upsert == SchemaUpsert(name="order", version=2, changed=False)
    assert upsert.to_json() == {"name": "order", "version": 2, "changed": False}
    schema = RegisteredSchema.from_json({"name": "order", "version": 1, "schema": {"name": "order", "fields": []}})
    assert schema == RegisteredSchema(name="order", version=1, schema={"name": "order", "fields": []})
    assert schema.to_json() == {"name": "order", "version": 1, "schema": {"name": "order", "fields": []}}

    unset = {"max_count": None, "max_age_ms": None, "truncate_before": None}
    assert StreamMetadata.from_json(unset) == StreamMetadata()
    assert StreamMetadata.from_json({}) == StreamMetadata()
    # Beyond timedelta's 999,999,999 days: the longest timedelta.
    assert StreamMetadata.from_json({"max_age_ms": U64_MAX}).max_age == timedelta.max
    assert AppendResult.from_json(
        {"first_revision": 0, "last_revision": U64_MAX, "first_position": 1, "last_position": 2}
    ) == AppendResult(0, U64_MAX, 1, 2)


_SETTINGS = {"max_retries": 1, "ack_timeout_ms": 1, "max_in_flight": 1, "strategy": "round_robin"}
_INFO = {"current": 0, "next_revision": 1, "deleted": False, "shredded": False, "metadata": {}}


@pytest.mark.parametrize(
    ("what", "read"),
    [
        ("current -1", lambda: StreamInfo.from_json({**_INFO, "current": -1})),
        ("current 'any'", lambda: StreamInfo.from_json({**_INFO, "current": "any"})),
        ("deleted 0", lambda: StreamInfo.from_json({**_INFO, "deleted": 0})),
        ("no metadata", lambda: StreamInfo.from_json({**_INFO, "metadata": None})),
        ("max_count true", lambda: StreamMetadata.from_json({"max_count": True})),
        ("u64 above 2^64-1", lambda: ReplayInfo.from_json({"from": 2**64, "to": 0, "parked": 0, "replaying": 0})),
        ("fraction", lambda: ReplayInfo.from_json({"from": 1.5, "to": 0, "parked": 0, "replaying": 0})),
        ("a missing field", lambda: ReplayInfo.from_json({"to": 0, "parked": 0, "replaying": 0})),
        ("strategy", lambda: GroupSettings.from_json({**_SETTINGS, "strategy": "fair"})),
        ("no strategy", lambda: GroupSettings.from_json({k: v for k, v in _SETTINGS.items() if k != "strategy"})),
        ("max_retries 2^32", lambda: GroupSettings.from_json({**_SETTINGS, "max_retries": 2**32})),
        ("target {}", lambda: group_target_from_json({})),
        ("target both", lambda: group_target_from_json({"stream": "s", "all": {}})),
        ("target stream 5", lambda: group_target_from_json({"stream": 5})),
        ("filter of a string", lambda: Filter.from_json({"event_types": "A"})),
        ("filter of numbers", lambda: Filter.from_json({"stream_prefixes": [1]})),
        ("expected with more", lambda: expected_version_from_json({"exact": 1, "extra": 2})),
        ("expected 'exact'", lambda: expected_version_from_json("exact")),
        ("expected 3", lambda: expected_version_from_json(3)),
        ("start 41", lambda: subscription_start_from_json(41)),
        ("start after -1", lambda: subscription_start_from_json({"after": -1})),
        ("not an object", lambda: SchemaUpsert.from_json([])),
        ("changed 'no'", lambda: SchemaUpsert.from_json({"name": "a", "version": 1, "changed": "no"})),
        ("schema 'x'", lambda: RegisteredSchema.from_json({"name": "a", "version": 1, "schema": "x"})),
        ("members", lambda: GroupInfo.from_json({"name": "g", "target": {"stream": "s"}, "settings": _SETTINGS})),
        ("append result", lambda: AppendResult.from_json({"first_revision": "4"})),
    ],
)
def test_json_of_the_core_of_the_wrong_shape_is_an_internal_error(what: str, read: Callable[[], object]) -> None:
    with pytest.raises(InternalError, match=r"^the native layer returned malformed JSON: "):
        read()


def test_snapshot_timestamps() -> None:
    s = Snapshot(stream="s", revision=1, timestamp_micros=1733300000123456, data=b"")
    assert s.timestamp == datetime(2024, 12, 4, 8, 13, 20, 123456, tzinfo=timezone.utc)
    assert Snapshot(stream="s", revision=1, timestamp_micros=-1, data=b"").timestamp == datetime(
        1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc
    )
    with pytest.raises(OverflowError, match="outside datetime's years 1 to 9999"):
        _ = Snapshot(stream="s", revision=1, timestamp_micros=2**63 - 1, data=b"").timestamp
