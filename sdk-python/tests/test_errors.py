"""The error classes of docs/boundary.md's codes, and error_from: what the native layer reports
(a code by name or number, a message, the details' JSON text) as the right class with its
typed fields."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from graveyard._errors import (
    ERROR_CODES,
    ClosedError,
    CorruptionError,
    EncryptionError,
    ErrorCode,
    GraveyardError,
    GraveyardIOError,
    IncompatibleFormatError,
    InternalError,
    InvalidArgumentError,
    InvalidSchemaError,
    NotFoundError,
    PermissionDeniedError,
    SchemaViolationError,
    ShreddedError,
    StreamDeletedError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    Violation,
    WrongExpectedVersionError,
    error_from,
)


def _vectors_file() -> Path:
    for directory in Path(__file__).resolve().parents:
        candidate = directory / "conformance" / "boundary_vectors.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no conformance/boundary_vectors.json above {__file__}")


VECTORS: dict[str, Any] = json.loads(_vectors_file().read_text(encoding="utf-8"))
DETAILS: dict[str, Any] = VECTORS["json"]["error_details"]

CLASSES: dict[str, type[GraveyardError]] = {
    "WRONG_EXPECTED_VERSION": WrongExpectedVersionError,
    "STREAM_DELETED": StreamDeletedError,
    "SCHEMA_VIOLATION": SchemaViolationError,
    "INVALID_SCHEMA": InvalidSchemaError,
    "INVALID_ARGUMENT": InvalidArgumentError,
    "NOT_FOUND": NotFoundError,
    "ENCRYPTION": EncryptionError,
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "UNAVAILABLE": UnavailableError,
    "CLOSED": ClosedError,
    "CORRUPTION": CorruptionError,
    "INCOMPATIBLE_FORMAT": IncompatibleFormatError,
    "IO": GraveyardIOError,
    "INTERNAL": InternalError,
    "UNSUPPORTED": UnsupportedError,
}


def test_the_code_table_is_the_vectors() -> None:
    assert dict(ERROR_CODES) == VECTORS["codes"]["error"]
    assert sorted(CLASSES) == sorted(ERROR_CODES)
    for code, cls in CLASSES.items():
        assert cls.code == code
    with pytest.raises(TypeError):
        ERROR_CODES["NEW"] = 17  # type: ignore[index]


@pytest.mark.parametrize("code", list(VECTORS["codes"]["error"]))
def test_error_from_every_code_by_name_and_number(code: ErrorCode) -> None:
    d = DETAILS.get(code)
    details = None if d is None else json.dumps(d)
    for given in (code, VECTORS["codes"]["error"][code]):
        e = error_from(given, f"the core says {code}", details)
        cls = CLASSES[code]
        assert type(e) is cls
        assert isinstance(e, GraveyardError)
        assert isinstance(e, Exception)
        assert e.code == code
        assert e.code_number == VECTORS["codes"]["error"][code]
        assert str(e) == f"the core says {code}"
        assert e.message == f"the core says {code}"
        # The typed fields, in their JSON form, are the vectors' details.
        assert e.details() == d
        with pytest.raises(cls):
            raise e


def test_the_codes_with_details_are_the_four_of_the_vectors() -> None:
    assert sorted(DETAILS) == ["INVALID_SCHEMA", "SCHEMA_VIOLATION", "STREAM_DELETED", "WRONG_EXPECTED_VERSION"]
    # A code without details ignores any given.
    e = error_from("NOT_FOUND", "m", "whatever, not even JSON")
    assert type(e) is NotFoundError
    assert e.details() is None


def test_typed_fields() -> None:
    wev = error_from("WRONG_EXPECTED_VERSION", "m", '{"stream":"s","expected":{"exact":1},"actual":"no_stream"}')
    assert isinstance(wev, WrongExpectedVersionError)
    assert (wev.stream, wev.expected, wev.actual) == ("s", 1, "no_stream")
    # u64s beyond 2^53 stay exact.
    text = '{"stream":"s","expected":{"exact":18446744073709551615},"actual":9007199254740993}'
    big = error_from(1, "m", text)
    assert isinstance(big, WrongExpectedVersionError)
    assert big.expected == 2**64 - 1
    assert big.actual == 9007199254740993
    assert json.dumps(big.details(), separators=(",", ":")) == text
    for expected in ("any", "no_stream", "stream_exists"):
        e = error_from(1, "m", json.dumps({"stream": "s", "expected": expected, "actual": 3}))
        assert isinstance(e, WrongExpectedVersionError)
        assert e.expected == expected
        assert e.actual == 3

    deleted = error_from("STREAM_DELETED", "m", '{"stream":"order-1"}')
    assert isinstance(deleted, StreamDeletedError)
    assert deleted.stream == "order-1"

    violation = error_from(
        "SCHEMA_VIOLATION",
        "m",
        '{"schema":"order","version":2,"event":1,"violations":['
        '{"path":"qty","rule":"min","value":0,"message":"below 1"},'
        '{"path":"id","rule":"max","value":18446744073709551616,"message":"too big"},'
        '{"path":"name","rule":"required","value":null,"message":"absent"},'
        '{"path":"","rule":"not_an_object","value":[1,{"a":true}],"message":"x"},'
        '{"path":"tags","rule":"required","message":"no value given"}]}',
    )
    assert isinstance(violation, SchemaViolationError)
    assert (violation.schema, violation.version, violation.event) == ("order", 2, 1)
    assert violation.violations == [
        Violation(path="qty", rule="min", value=0, message="below 1"),
        Violation(path="id", rule="max", value=2**64, message="too big"),
        Violation(path="name", rule="required", value=None, message="absent"),
        Violation(path="", rule="not_an_object", value=[1, {"a": True}], message="x"),
        # Absent is null, as the details' JSON says it.
        Violation(path="tags", rule="required", value=None, message="no value given"),
    ]

    invalid = error_from("INVALID_SCHEMA", "m", '{"schema":"order","problems":["no fields","min above max"]}')
    assert isinstance(invalid, InvalidSchemaError)
    assert invalid.schema == "order"
    assert invalid.problems == ["no fields", "min above max"]
    # Unknown fields of the details are ignored.
    later = error_from("STREAM_DELETED", "m", '{"stream":"s","later_field":1}')
    assert isinstance(later, StreamDeletedError)


@pytest.mark.parametrize(
    ("code", "details"),
    [
        ("STREAM_DELETED", None),
        ("STREAM_DELETED", '{"stream":5}'),
        ("STREAM_DELETED", "not json"),
        ("STREAM_DELETED", "[]"),
        ("STREAM_DELETED", '{"stream":"s"} trailing'),
        ("STREAM_DELETED", "[" * 100_000),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":"exactly","actual":1}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":"any","actual":-1}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":{"exact":1.0},"actual":1}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":{"exact":true},"actual":1}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":{"exact":1,"more":2},"actual":1}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":"any","actual":18446744073709551616}'),
        ("WRONG_EXPECTED_VERSION", '{"stream":"s","expected":"any"}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":1,"event":0,"violations":{}}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":1.5,"event":0,"violations":[]}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":true,"event":0,"violations":[]}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":1,"event":-1,"violations":[]}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":1,"event":0,"violations":[5]}'),
        ("SCHEMA_VIOLATION", '{"schema":"o","version":1,"event":0,"violations":[{"path":1,"rule":"r","message":"m"}]}'),
        ("INVALID_SCHEMA", '{"schema":"o","problems":[1]}'),
        ("INVALID_SCHEMA", '{"schema":"o"}'),
    ],
)
def test_details_missing_or_damaged_are_an_internal_error_naming_the_code(code: str, details: str | None) -> None:
    e = error_from(code, "the message", details)
    assert type(e) is InternalError
    assert f"the native layer's {code} error (the message) has damaged details: " in str(e)


@pytest.mark.parametrize("code", ["FOO", "not_found", "CANCELLED", "", 0, -1, 17, True, None, 1.0])
def test_unknown_codes_are_an_internal_error_naming_the_code(code: Any) -> None:
    e = error_from(code, "what the core said", None)
    assert type(e) is InternalError
    assert f"unknown error code {code!r} with the message: what the core said" in str(e)


def test_error_classes_built_by_hand() -> None:
    w = WrongExpectedVersionError("m", stream="s", expected=4, actual="no_stream")
    assert w.details() == {"stream": "s", "expected": {"exact": 4}, "actual": "no_stream"}
    assert WrongExpectedVersionError("m", stream="s", expected="stream_exists", actual=7).details() == {
        "stream": "s",
        "expected": "stream_exists",
        "actual": 7,
    }
    s = SchemaViolationError(
        "m", schema="o", version=1, event=0, violations=[Violation(path="", rule="r", value=[], message="x")]
    )
    assert s.details() == {
        "schema": "o",
        "version": 1,
        "event": 0,
        "violations": [{"path": "", "rule": "r", "value": [], "message": "x"}],
    }
    assert InvalidSchemaError("m", schema="o", problems=["p"]).details() == {"schema": "o", "problems": ["p"]}

    base = GraveyardError("down", code="UNAVAILABLE")
    assert base.code == "UNAVAILABLE"
    assert base.code_number == 10
    assert not isinstance(base, UnavailableError)
    with pytest.raises(TypeError, match="needs a code"):
        GraveyardError("m")
    with pytest.raises(ValueError, match="is not an error code"):
        GraveyardError("m", code="NOPE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NotFoundError has the code NOT_FOUND, not IO"):
        NotFoundError("m", code="IO")
    assert NotFoundError("m", code="NOT_FOUND").code == "NOT_FOUND"

    # Subclasses of the classes keep their code.
    class MineError(NotFoundError):
        pass

    assert MineError("m").code == "NOT_FOUND"
    assert isinstance(MineError("m"), NotFoundError)


def test_io_error_does_not_shadow_the_builtin() -> None:
    e = error_from("IO", "disk", None)
    assert type(e) is GraveyardIOError
    assert not isinstance(e, OSError)
    assert IOError is OSError


def test_shredded_error_is_not_a_code_of_the_store() -> None:
    e = ShreddedError("gone", stream="s", revision=3)
    assert not isinstance(e, GraveyardError)
    assert (e.stream, e.revision, str(e)) == ("s", 3, "gone")
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.stream, again.revision, str(again)) == (ShreddedError, "s", 3, "gone")


@pytest.mark.parametrize("code", list(VECTORS["codes"]["error"]))
def test_errors_pickle_with_their_fields(code: str) -> None:
    d = DETAILS.get(code)
    e = error_from(code, "m", None if d is None else json.dumps(d))
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is type(e)
    assert str(again) == "m"
    assert again.code == code
    assert again.details() == e.details()
    assert vars(again) == vars(e)
