"""The errors of the SDK: one class per error code of docs/boundary.md ("Codes"), the typed
fields of the codes that have details ("Errors"), and error_from, which builds the right one
from what the native layer reports (a code, a message, the details' JSON text).

_model and this module use each other only inside function bodies, through the module objects,
so that either can be imported first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn

from . import _model

if TYPE_CHECKING:
    from ._model import CurrentRevision, ExpectedVersion

__all__ = [
    "ERROR_CODES",
    "ClosedError",
    "CorruptionError",
    "EncryptionError",
    "ErrorCode",
    "GraveyardError",
    "GraveyardIOError",
    "IncompatibleFormatError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidSchemaError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaViolationError",
    "ShreddedError",
    "StreamDeletedError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnsupportedError",
    "Violation",
    "WrongExpectedVersionError",
    "error_from",
]

ErrorCode = Literal[
    "WRONG_EXPECTED_VERSION",
    "STREAM_DELETED",
    "SCHEMA_VIOLATION",
    "INVALID_SCHEMA",
    "INVALID_ARGUMENT",
    "NOT_FOUND",
    "ENCRYPTION",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "UNAVAILABLE",
    "CLOSED",
    "CORRUPTION",
    "INCOMPATIBLE_FORMAT",
    "IO",
    "INTERNAL",
    "UNSUPPORTED",
]
"""The name of an error code, e.g. ``"WRONG_EXPECTED_VERSION"``."""

# Read-only: the one table of the SDK, held to conformance/boundary_vectors.json by the tests.
ERROR_CODES: Final[Mapping[ErrorCode, int]] = MappingProxyType(
    {
        "WRONG_EXPECTED_VERSION": 1,
        "STREAM_DELETED": 2,
        "SCHEMA_VIOLATION": 3,
        "INVALID_SCHEMA": 4,
        "INVALID_ARGUMENT": 5,
        "NOT_FOUND": 6,
        "ENCRYPTION": 7,
        "UNAUTHENTICATED": 8,
        "PERMISSION_DENIED": 9,
        "UNAVAILABLE": 10,
        "CLOSED": 11,
        "CORRUPTION": 12,
        "INCOMPATIBLE_FORMAT": 13,
        "IO": 14,
        "INTERNAL": 15,
        "UNSUPPORTED": 16,
    }
)
"""The error codes and their numbers (docs/boundary.md, "Codes"); numbers never change meaning."""

_NAME_OF_NUMBER: Final[Mapping[int, ErrorCode]] = MappingProxyType({n: c for c, n in ERROR_CODES.items()})


def _restore(cls: type[GraveyardError], args: tuple[Any, ...], state: dict[str, Any]) -> GraveyardError:
    # BaseException.__new__ sets args without calling __init__, whose keyword-only fields
    # the default pickling (cls(*args)) could not pass.
    e = cls.__new__(cls, *args)
    e.__dict__.update(state)
    return e


class GraveyardError(Exception):
    """Every failure the store reports: its ``code`` (catch the subclasses, or compare the
    code), a message for people (never to be compared) and, for the codes that have them,
    typed fields on the subclass.
    """

    code: ErrorCode
    """The name of the code, e.g. ``"NOT_FOUND"``."""

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        """``code`` is needed only by GraveyardError itself; each subclass has its own."""
        super().__init__(message)
        if code is not None:
            if code not in ERROR_CODES:
                raise ValueError(f"{code!r} is not an error code (one of {', '.join(ERROR_CODES)})")
            if code != getattr(type(self), "code", code):
                raise ValueError(f"{type(self).__name__} has the code {type(self).code}, not {code}")
            self.code = code
        elif not hasattr(self, "code"):
            raise TypeError("GraveyardError needs a code: raise one of its subclasses, or pass code=")

    @property
    def message(self) -> str:
        """The message, for people: never compare it."""
        return str(self.args[0]) if self.args else ""

    @property
    def code_number(self) -> int:
        """The number of the code (docs/boundary.md, "Codes")."""
        return ERROR_CODES[self.code]

    def details(self) -> dict[str, Any] | None:
        """The typed fields in their JSON form (docs/boundary.md, "Errors"), or None for the
        codes without them."""
        return None

    def __reduce__(self) -> tuple[Callable[..., GraveyardError], tuple[Any, ...]]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class WrongExpectedVersionError(GraveyardError):
    """The stream's current revision did not satisfy the expected version; nothing was written."""

    code: ErrorCode = "WRONG_EXPECTED_VERSION"

    def __init__(self, message: str, *, stream: str, expected: ExpectedVersion, actual: CurrentRevision) -> None:
        super().__init__(message)
        self.stream = stream
        self.expected: ExpectedVersion = expected
        self.actual: CurrentRevision = actual

    def details(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "expected": _model.expected_version_to_json(self.expected),
            "actual": _model.current_revision_to_json(self.actual),
        }


class StreamDeletedError(GraveyardError):
    """The stream was tombstoned (or shredded, for appends and snapshots): its name is closed."""

    code: ErrorCode = "STREAM_DELETED"

    def __init__(self, message: str, *, stream: str) -> None:
        super().__init__(message)
        self.stream = stream

    def details(self) -> dict[str, Any]:
        return {"stream": self.stream}


@dataclass(frozen=True)
class Violation:
    """One broken rule of a schema."""

    path: str
    """Where: ``"address.zip"``, ``"items[2]"``, ``""`` for the data itself."""
    rule: str
    """Which rule: ``"required"``, ``"min"``..."""
    value: Any
    """The offending JSON value (None when absent)."""
    message: str
    """For people; it never repeats the value."""


class SchemaViolationError(GraveyardError):
    """Event ``event`` (its index in the append) broke its schema; nothing was written."""

    code: ErrorCode = "SCHEMA_VIOLATION"

    def __init__(self, message: str, *, schema: str, version: int, event: int, violations: list[Violation]) -> None:
        super().__init__(message)
        self.schema = schema
        self.version = version
        self.event = event
        self.violations = violations

    def details(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "version": self.version,
            "event": self.event,
            "violations": [
                {"path": v.path, "rule": v.rule, "value": v.value, "message": v.message} for v in self.violations
            ],
        }


class InvalidSchemaError(GraveyardError):
    """A schema definition was refused: every problem of it."""

    code: ErrorCode = "INVALID_SCHEMA"

    def __init__(self, message: str, *, schema: str, problems: list[str]) -> None:
        super().__init__(message)
        self.schema = schema
        self.problems = problems

    def details(self) -> dict[str, Any]:
        return {"schema": self.schema, "problems": list(self.problems)}


class InvalidArgumentError(GraveyardError):
    """A request the store refuses: a bad name, size, id, option or JSON value."""

    code: ErrorCode = "INVALID_ARGUMENT"


class NotFoundError(GraveyardError):
    """The stream, group, schema or version does not exist."""

    code: ErrorCode = "NOT_FOUND"


class EncryptionError(GraveyardError):
    """A wrong or missing key, or sealed data that fails its authentication tag."""

    code: ErrorCode = "ENCRYPTION"


class UnauthenticatedError(GraveyardError):
    """A node refused the credentials (its token)."""

    code: ErrorCode = "UNAUTHENTICATED"


class PermissionDeniedError(GraveyardError):
    code: ErrorCode = "PERMISSION_DENIED"


class UnavailableError(GraveyardError):
    """A node cannot be reached, a store is locked by another process, a session dropped."""

    code: ErrorCode = "UNAVAILABLE"


class ClosedError(GraveyardError):
    """The store (or client, or session) was closed."""

    code: ErrorCode = "CLOSED"


class CorruptionError(GraveyardError):
    code: ErrorCode = "CORRUPTION"


class IncompatibleFormatError(GraveyardError):
    """Not a GraveyardDB store, or one written in a newer on-disk format."""

    code: ErrorCode = "INCOMPATIBLE_FORMAT"


class GraveyardIOError(GraveyardError):
    """The code IO. Named so that it does not shadow the builtin IOError (OSError), which the
    SDK never raises for the store's failures."""

    code: ErrorCode = "IO"


class InternalError(GraveyardError):
    """A bug of GraveyardDB, also: a buffer or JSON text of the native layer the SDK cannot read."""

    code: ErrorCode = "INTERNAL"


class UnsupportedError(GraveyardError):
    """The operation exists, but this kind of store cannot do it."""

    code: ErrorCode = "UNSUPPORTED"


class ShreddedError(Exception):
    """What reading the data of a shredded event raises (``json()``, ``text()``,
    ``metadata_json()``): its stream's key was destroyed, and its data and metadata with it.

    Not a GraveyardError: reading the event succeeded (``shredded`` is True and its data empty);
    the store reported nothing.
    """

    def __init__(self, message: str, *, stream: str, revision: int) -> None:
        super().__init__(message)
        self.stream = stream
        self.revision = revision

    def __reduce__(self) -> tuple[Callable[..., ShreddedError], tuple[Any, ...]]:
        return (_restore_shredded, (self.args, dict(self.__dict__)))


def _restore_shredded(args: tuple[Any, ...], state: dict[str, Any]) -> ShreddedError:
    e = ShreddedError.__new__(ShreddedError, *args)
    e.__dict__.update(state)
    return e


_SIMPLE: Final[Mapping[str, type[GraveyardError]]] = MappingProxyType(
    {
        cls.code: cls
        for cls in (
            InvalidArgumentError,
            NotFoundError,
            EncryptionError,
            UnauthenticatedError,
            PermissionDeniedError,
            UnavailableError,
            ClosedError,
            CorruptionError,
            IncompatibleFormatError,
            GraveyardIOError,
            InternalError,
            UnsupportedError,
        )
    }
)


class _DamagedDetailsError(Exception):
    pass


def _damaged(why: str) -> NoReturn:
    raise _DamagedDetailsError(why)


def error_from(code: str | int, message: str, details_json: str | None) -> GraveyardError:
    """The error of a code (its name or its number) with its message and, for the four codes
    that have details, their JSON text (docs/boundary.md, "Errors").

    Details that are missing or unreadable make an InternalError naming the code, and so does
    an unknown code: the SDK and its native layer ship together, so either is a bug, and typed
    fields are never filled with guesses. Codes without details ignore ``details_json``.
    """
    name: str | None
    if isinstance(code, bool):
        name = None
    elif isinstance(code, int):
        name = _NAME_OF_NUMBER.get(code)
    elif isinstance(code, str):
        name = code if code in ERROR_CODES else None
    else:
        name = None
    if name is None:
        return InternalError(f"the native layer returned an unknown error code {code!r} with the message: {message}")
    simple = _SIMPLE.get(name)
    if simple is not None:
        return simple(message)
    try:
        return _detailed(name, message, details_json)
    except (_DamagedDetailsError, InternalError, ValueError, TypeError, RecursionError) as e:
        # ValueError covers json.JSONDecodeError; RecursionError a nesting json cannot parse.
        return InternalError(f"the native layer's {name} error ({message}) has damaged details: {e}")


def _detailed(code: str, message: str, details_json: str | None) -> GraveyardError:
    if details_json is None:
        _damaged("none given")
    if not isinstance(details_json, str):
        _damaged(f"not JSON text but {type(details_json).__name__}")
    d = _record(json.loads(details_json), "the details")
    if code == "WRONG_EXPECTED_VERSION":
        return WrongExpectedVersionError(
            message,
            stream=_text(d.get("stream"), "stream"),
            expected=_model.expected_version_from_json(d.get("expected")),
            actual=_model.current_revision_from_json(d.get("actual")),
        )
    if code == "STREAM_DELETED":
        return StreamDeletedError(message, stream=_text(d.get("stream"), "stream"))
    if code == "SCHEMA_VIOLATION":
        raw = d.get("violations")
        if not isinstance(raw, list):
            _damaged("violations is not a list")
        violations = []
        for i, item in enumerate(raw):
            v = _record(item, f"violation {i}")
            violations.append(
                Violation(
                    path=_text(v.get("path"), f"violation {i}: path"),
                    rule=_text(v.get("rule"), f"violation {i}: rule"),
                    # Absent is null, as the details' JSON says it.
                    value=v.get("value"),
                    message=_text(v.get("message"), f"violation {i}: message"),
                )
            )
        return SchemaViolationError(
            message,
            schema=_text(d.get("schema"), "schema"),
            version=_count(d.get("version"), "version"),
            event=_count(d.get("event"), "event"),
            violations=violations,
        )
    # INVALID_SCHEMA, the last code with details.
    problems = d.get("problems")
    if not isinstance(problems, list):
        _damaged("problems is not a list")
    return InvalidSchemaError(
        message,
        schema=_text(d.get("schema"), "schema"),
        problems=[_text(p, f"problem {i}") for i, p in enumerate(problems)],
    )


def _record(v: object, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        _damaged(f"{what} is not an object")
    return v


def _text(v: object, what: str) -> str:
    if not isinstance(v, str):
        _damaged(f"{what} is not a string: {v!r:.100}")
    return v


def _count(v: object, what: str) -> int:
    # bool is an int in Python, never a count in JSON.
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
        _damaged(f"{what} is not a count from 0 to 2^32-1: {v!r:.100}")
    return v
