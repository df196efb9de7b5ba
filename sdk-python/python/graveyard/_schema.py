"""Schemas from Python classes: the definition the store's ``upsert_schema`` takes, the JSON an
instance is appended as, and the instance an event's data is read back into.

The schema model is the core's (docs/semantics.md, "Schemas"; core/src/schema/model.rs)::

    @graveyard.entity("user", unknown_fields="reject")
    @dataclass
    class User:
        name: Annotated[str, graveyard.Field(min_length=1, max_length=100)]
        age: Annotated[int, graveyard.Field(min=18)]
        email: str | None = None
        tags: Annotated[list[str], graveyard.Field(max_length=10)] = field(default_factory=list)
        address: Address | None = None             # a nested object, declared in place

    class User(BaseModel):                          # the same schema from Pydantic v2
        name: str = pydantic.Field(min_length=1, max_length=100)
        age: int = pydantic.Field(ge=18)
        ...

Mapping (``Field`` options are the model's keys; annotated_types and Pydantic constraints are
read too, in dataclasses and Pydantic models alike)::

    str                                        "string"
    int                                        "integer" (no implicit range: Python ints have none)
    float                                      "number"
    bool                                       "boolean"
    decimal.Decimal (dataclasses)              "number", written and read with all its digits
    Literal["a", "b"], Field(choices=...)      {"enum": ["a", "b"]}
    enum.Enum with string values               {"enum": [values]}, written as the values
    datetime (aware), date, time               "string" with the pattern of its ISO 8601 text
    uuid.UUID                                  "string" with the UUID pattern
    bytes (dataclasses)                        "string" in base64, with its pattern
    bytes (Pydantic, its default UTF-8 text)   "string"
    list[T], Sequence[T], set[T], frozenset[T], tuple[T, ...]
                                               {"array": T}
    tuple[T, T] (one item type)                {"array": T}, min_length = max_length = 2
    dict[str, T], Mapping[str, T]              {"object": {"fields": []}}: members unchecked
    a dataclass or Pydantic model              {"object": {"fields": [...]}}, declared in place
    the entity's own class, within itself      {"ref": {"name": <entity>}} (recursive data)
    Field(ref=True or "name", version=N)       {"ref": {"name", "version"?}}
    T | None, Optional[T]                      T, nullable (Field(nullable=False): None left out)
    no Python default, no None in the type     required (Field(required=True): even with one)
    Field(min, max), Ge, Le; Gt, Lt of ints    min, max (inclusive; x > 0 is min 1)
    Field(min_length, max_length), MinLen, MaxLen, Len
                                               min_length, max_length
    Field(pattern) (the whole string)          pattern
    Pydantic pattern (searched)                pattern, rewritten to match the whole string
    Field(default)                             default (the store writes it)
    Field(description), Pydantic description   description
    entity(description, unknown_fields, compatibility), Pydantic extra="forbid"
                                               the schema's description, unknown_fields, ...

Refused, with every problem of a class in one :class:`SchemaMappingError`: ``Any`` and
``object`` (but as ``dict`` values), unions other than with ``None``, ``timedelta``, naive-only
datetimes, enums whose values are not strings, heterogeneous tuples, rules on array items,
a rule on a type it does not apply to, ``multiple_of``, exclusive bounds of floats, predicates,
time zones, custom validators and serializers (``field_validator``, ``AfterValidator``...),
computed fields, string transformations (``to_lower``, ``strip_whitespace``), Pydantic
``Decimal`` and non-UTF-8 ``bytes`` (Pydantic writes them as strings the schema cannot
describe), Pydantic fields of type ``T | None`` without a default (Pydantic requires them
present; the model cannot require a member that may be null), aliases Pydantic reads but does
not write, and Python-regex patterns (``regex_engine="python-re"``).

Decisions where the model or the issue left a choice:

- Python defaults are the reader's: a field with one is not required, and ``hydrate`` fills
  it. The schema's ``default`` (which the store writes into events) is only ``Field(default)``.
- ``T | None`` is nullable, and ``None`` is written as null. ``Field(nullable=False)`` on such a
  field of a dataclass leaves ``None`` out of the data instead (absent, not null).
- Dataclass fields with ``init=False`` are derived state: not in the schema nor in the data.
- Objects are declared in place; only the entity's own class may appear within itself (as a
  reference to its own schema). ``Field(ref=...)`` refers to another entity's schema instead.
- Array items and ``dict`` values carry no rules in the model: ``list[datetime]`` is an array of
  strings whose form the store does not check, and ``dict`` values are only checked here.
- Patterns are left to the core to compile (Rust ``regex``): Python's ``re`` reads some
  differently, so a check here could refuse what the store accepts.
- Entity names are not registered globally: two classes may share one (a read model, a class
  per version); the store decides which definition is in force.
- Messages name the class and field path, never a value (event data may be personal).
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import json
import math
import operator
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, Union

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = [
    "BASE64_PATTERN",
    "DATETIME_PATTERN",
    "DATE_PATTERN",
    "TIME_PATTERN",
    "UUID_PATTERN",
    "Compatibility",
    "Field",
    "SchemaMappingError",
    "UnknownFields",
    "entity",
    "entity_name_of",
    "hydrate",
    "is_entity",
    "schema_json",
    "schema_of",
    "serialize_entity",
]

UnknownFields = Literal["allow", "reject"]
Compatibility = Literal["none", "backward", "forward", "full"]

C = TypeVar("C", bound=type)
T = TypeVar("T")

# What the Go SDK declares for time.Time (RFC 3339, offset required, up to nanoseconds): the same
# pattern in both SDKs keeps their schemas of one entity equal. Shape only, not the calendar.
DATETIME_PATTERN = (
    "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
DATE_PATTERN = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
TIME_PATTERN = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Standard base64 with padding, as the Go, Java and TypeScript SDKs declare their byte types.
BASE64_PATTERN = "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"

# The core's limit: `$schema-<name>` must fit in a 256-byte stream name.
_MAX_NAME_BYTES = 256 - len("$schema-")
# The integers the store holds exactly (serde_json's i64 and u64); beyond, a JSON integer is a
# double to it and an "integer" field refuses it.
_MIN_INTEGER = -(2**63)
_MAX_INTEGER = 2**64 - 1
_MAX_VERSION = 2**32 - 1

_NONE_TYPE = type(None)
_UNION_TYPES: tuple[object, ...] = (Union, types.UnionType)


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


class SchemaMappingError(TypeError):
    """A class that cannot be mapped onto the schema model. ``problems`` lists every problem
    found (each starting with the field's path, ``User.address.zip``), not only the first, so
    that one round of fixes settles them."""

    def __init__(self, cls: type, problems: Iterable[str]) -> None:
        self.cls = cls
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        plural = "" if count == 1 else "s"
        super().__init__(f"{_label(cls)} cannot be mapped onto the schema model ({count} problem{plural}):\n{lines}")


# ---------------------------------------------------------------------------------------------
# Field
# ---------------------------------------------------------------------------------------------

_FIELD_OPTIONS = (
    "name",
    "required",
    "nullable",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "choices",
    "default",
    "description",
    "ref",
    "version",
)

_INCLUSIVE = "min or max: the schema model's bounds are inclusive (for an integer, min=N+1 or max=N-1)"
_OPTION_HINTS = {
    "ge": "min (inclusive)",
    "le": "max (inclusive)",
    "minimum": "min",
    "maximum": "max",
    "gt": _INCLUSIVE,
    "lt": _INCLUSIVE,
    "exclusive_minimum": _INCLUSIVE,
    "exclusive_maximum": _INCLUSIVE,
    "regex": "pattern",
    "enum": "choices, or a Literal or enum.Enum type",
    "values": "choices, or a Literal or enum.Enum type",
    "alias": "name",
    "serialization_alias": "name",
    "optional": "T | None: a field whose type admits None is nullable, one with a default is not required",
    "format": "a datetime, date, time or uuid.UUID type: the schema model has no formats, those types carry a pattern",
    "multiple_of": "nothing: the schema model has no multiple_of",
    "unknown_fields": '@entity(unknown_fields="reject") on the class of the object',
    "default_factory": "default (a JSON-able value the store writes), or a dataclass default_factory",
    "items": "list[Annotated[T, Field(...)]]; array items take a type, not rules",
}
for _length in ("min", "max"):
    for _spelling in (f"{_length}_len", f"{_length}len", f"{_length}Length", f"{_length}_items", f"{_length}_size"):
        _OPTION_HINTS[_spelling] = f"{_length}_length (it counts the characters of strings and the items of lists)"


class Field:
    """The schema rules of one field, as metadata of its type hint:
    ``age: Annotated[int, Field(min=18)]``. Works in dataclasses and in Pydantic models (next to
    Pydantic's own constraints, which are read too).

    - ``name``: the JSON member name, when it is not the attribute's (dataclasses; Pydantic
      models use their aliases).
    - ``required=True``: required even though the field has a Python default. Fields without a
      default whose type does not admit None are always required.
    - ``nullable=False``: a ``T | None`` field of a dataclass whose ``None`` is left out of the
      data (absent) instead of written as null.
    - ``min``, ``max``: inclusive bounds of ``int``, ``float`` and ``Decimal`` fields.
    - ``min_length``, ``max_length``: characters of strings, items of lists.
    - ``pattern``: a Rust ``regex`` the *whole* string must match (the store anchors it).
    - ``choices``: the strings a ``str`` field may hold (an enum in the schema); also on array
      items (``list[Annotated[str, Field(choices=...)]]``).
    - ``default``: the value the store writes into an event where the member is absent or null.
    - ``description``: the field's description in the schema.
    - ``ref``: the field is a reference to an entity's schema instead of an object declared in
      place: ``True`` on an entity class (its name), or the schema name (then the field's type
      may be ``dict[str, Any]``); ``version`` pins that schema's version.

    Options are checked here (types, ``min`` above ``max``...) and against the field's type when
    its class is mapped. Unknown options raise a ``TypeError`` that names the right one.
    """

    __slots__ = _FIELD_OPTIONS

    name: str | None
    required: bool | None
    nullable: bool | None
    min: int | float | None
    max: int | float | None
    min_length: int | None
    max_length: int | None
    pattern: str | None
    choices: tuple[str, ...] | None
    default: object
    description: str | None
    ref: bool | str
    version: int | None

    def __init__(
        self,
        *,
        name: str | None = None,
        required: bool | None = None,
        nullable: bool | None = None,
        min: float | None = None,
        max: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        choices: Iterable[str] | None = None,
        default: object = _UNSET,
        description: str | None = None,
        ref: bool | str = False,
        version: int | None = None,
        # Typed as NoReturn so that type checkers flag a misspelt option; at run time it is
        # caught here, where the message can name the right one.
        **unknown: NoReturn,
    ) -> None:
        for key in unknown:
            hint = _OPTION_HINTS.get(key)
            raise TypeError(
                f"graveyard.Field: unknown option '{key}'"
                + (f" (write {hint})" if hint else "")
                + f"; the options are {', '.join(_FIELD_OPTIONS)}"
            )
        set_ = object.__setattr__
        set_(self, "name", _optional_str(name, "name", empty_ok=False))
        set_(self, "required", _optional_bool(required, "required"))
        set_(self, "nullable", _optional_bool(nullable, "nullable"))
        set_(self, "min", _optional_bound(min, "min"))
        set_(self, "max", _optional_bound(max, "max"))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"graveyard.Field: min {self.min} is above max {self.max}")
        set_(self, "min_length", _optional_length(min_length, "min_length"))
        set_(self, "max_length", _optional_length(max_length, "max_length"))
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError(f"graveyard.Field: min_length {self.min_length} is above max_length {self.max_length}")
        set_(self, "pattern", _optional_str(pattern, "pattern", empty_ok=True))
        set_(self, "choices", None if choices is None else _choices(choices))
        if default is None:
            raise ValueError(
                "graveyard.Field: a None default changes nothing (the store writes a default in place of null)"
            )
        set_(self, "default", default)
        set_(self, "description", _optional_str(description, "description", empty_ok=True))
        if not isinstance(ref, (bool, str)) or ref == "":
            raise TypeError(
                "graveyard.Field: ref must be True (the entity name of the field's class) or a schema name, "
                f"not {_kind_of(ref)}"
            )
        set_(self, "ref", ref)
        if version is not None:
            if not isinstance(version, int) or isinstance(version, bool):
                raise TypeError(f"graveyard.Field: version must be an int, not {_kind_of(version)}")
            if not 1 <= version <= _MAX_VERSION:
                raise ValueError(
                    f"graveyard.Field: version {version} is outside 1..={_MAX_VERSION} (versions are numbered from 1)"
                )
            if ref is False:
                raise TypeError("graveyard.Field: version pins a referred schema: give ref too")
        set_(self, "version", version)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("graveyard.Field is immutable")

    def options(self) -> dict[str, object]:
        """The options given (not left at their defaults)."""
        out: dict[str, object] = {}
        for key in _FIELD_OPTIONS:
            value = getattr(self, key)
            if value is not None and value is not _UNSET and not (key == "ref" and value is False):
                out[key] = value
        return out

    def __repr__(self) -> str:
        return "Field(" + ", ".join(f"{k}={v!r}" for k, v in self.options().items()) + ")"


def _optional_str(value: object, what: str, *, empty_ok: bool) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"graveyard.Field: {what} must be a str, not {_kind_of(value)}")
    if not empty_ok and not value:
        raise ValueError(f"graveyard.Field: {what} is empty")
    return value


def _optional_bool(value: object, what: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"graveyard.Field: {what} must be a bool, not {_kind_of(value)}")
    return value


def _optional_bound(value: object, what: str) -> int | float | None:
    if value is None:
        return None
    bound = _bound(value)
    if bound is None:
        raise TypeError(f"graveyard.Field: {what} must be a number, not {_kind_of(value)}")
    if not _finite(bound):
        raise ValueError(f"graveyard.Field: {what} must be a finite number within the range of a double")
    return bound


def _optional_length(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"graveyard.Field: {what} must be an int (characters or items), not {_kind_of(value)}")
    if not 0 <= value <= _MAX_INTEGER:
        raise ValueError(f"graveyard.Field: {what} must be at least 0, not {value}")
    return value


def _choices(values: object) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"graveyard.Field: choices must be an iterable of str, not {_kind_of(values)}")
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError(
                f"graveyard.Field: choices are strings (the schema model's enums are), not {_kind_of(value)}"
            )
        if value in out:
            raise ValueError(f"graveyard.Field: choice {json.dumps(value)} is listed more than once")
        out.append(value)
    if not out:
        raise ValueError("graveyard.Field: choices is empty")
    return tuple(out)


def _bound(value: object) -> int | float | None:
    """A numeric bound as an int or a float (None when it is not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (decimal.Decimal, Fraction)):
        if isinstance(value, decimal.Decimal) and not value.is_finite():
            return math.inf
        return int(value) if value == int(value) else float(value)
    return None


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


# ---------------------------------------------------------------------------------------------
# entity
# ---------------------------------------------------------------------------------------------

_ENTITY_ATTR = "__graveyard_entity__"
_MODEL_ATTR = "__graveyard_model__"
_SCHEMA_ATTR = "__graveyard_schema__"


@dataclasses.dataclass(frozen=True)
class _EntityInfo:
    name: str | None
    description: str | None
    unknown_fields: str | None
    compatibility: str


def entity(
    name: str | None = None,
    *,
    description: str | None = None,
    unknown_fields: UnknownFields | None = None,
    compatibility: Compatibility = "backward",
    **unknown: NoReturn,
) -> Callable[[C], C]:
    """The class decorator: ``@entity("user")`` on a dataclass (above ``@dataclass``) or on a
    Pydantic v2 model makes it an entity whose schema name and event type are ``name``.

    ``description``, ``unknown_fields`` and ``compatibility`` become the schema's. Without a
    name, ``@entity(unknown_fields="reject")`` only sets how the class treats members no field
    declares when it is a nested object. A Pydantic model's ``extra="forbid"`` also means
    ``"reject"``. The class is mapped here, so a declaration error raises when its module loads
    (or on first use, when its hints name classes defined further down).
    """
    for key in unknown:
        raise TypeError(
            f"graveyard.entity: unknown option '{key}'"
            + (" (write unknown_fields)" if key in ("extra", "unknownFields", "additional_properties") else "")
            + "; the options are description, unknown_fields, compatibility"
        )
    if isinstance(name, type):
        raise TypeError(f'{_label(name)}: write @graveyard.entity("name") (called, with the entity name)')
    if name is not None:
        _check_entity_name(name)
    if description is not None and not isinstance(description, str):
        raise TypeError(f"graveyard.entity: description must be a str, not {_kind_of(description)}")
    if unknown_fields not in (None, "allow", "reject"):
        raise ValueError(f'graveyard.entity: unknown_fields must be "allow" or "reject", not {unknown_fields!r}')
    if compatibility not in ("none", "backward", "forward", "full"):
        raise ValueError(
            f'graveyard.entity: compatibility must be "none", "backward", "forward" or "full", not {compatibility!r}'
        )
    if name is None and (description is not None or compatibility != "backward"):
        raise TypeError(
            "graveyard.entity: description and compatibility describe a schema, and an entity without a name "
            'has none (give it one: @graveyard.entity("name", ...))'
        )
    info = _EntityInfo(name, description, unknown_fields, compatibility)

    def decorate(cls: C) -> C:
        if not isinstance(cls, type):
            raise TypeError(f"graveyard.entity decorates classes, not {_kind_of(cls)}")
        if not (_is_pydantic_model(cls) or dataclasses.is_dataclass(cls)):
            raise TypeError(
                f"{_label(cls)}: graveyard.entity decorates dataclasses and Pydantic v2 models; apply "
                "@graveyard.entity(...) above @dataclass, so that it receives the dataclass"
            )
        if _is_pydantic_dataclass(cls):
            raise TypeError(
                f"{_label(cls)}: Pydantic dataclasses are not supported; use a pydantic.BaseModel or a "
                "standard dataclass"
            )
        if _ENTITY_ATTR in cls.__dict__:
            raise TypeError(f"{_label(cls)}: graveyard.entity is applied more than once")
        type.__setattr__(cls, _ENTITY_ATTR, info)
        try:
            _root_model(cls)
        except _Unresolved:
            pass  # Hints naming classes not defined yet: mapped on first use.
        except BaseException:
            type.__delattr__(cls, _ENTITY_ATTR)
            raise
        return cls

    return decorate


def _check_entity_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"graveyard.entity: the entity name must be a str, not {_kind_of(name)}")
    if not name:
        raise ValueError("graveyard.entity: the entity name is empty")
    if name.startswith("$"):
        raise ValueError(
            f"graveyard.entity: the entity name {name!r} starts with '$', which is reserved for the system"
        )
    if "\0" in name:
        raise ValueError("graveyard.entity: the entity name contains a NUL character")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > _MAX_NAME_BYTES:
        raise ValueError(
            f"graveyard.entity: the entity name is {size} bytes of UTF-8, longer than {_MAX_NAME_BYTES} "
            "(its stream $schema-<name> must fit in 256)"
        )


def _entity_info(cls: type) -> _EntityInfo | None:
    info = cls.__dict__.get(_ENTITY_ATTR)
    return info if isinstance(info, _EntityInfo) else None


def entity_name_of(obj_or_cls: object) -> str | None:
    """The entity name (event type) of a class decorated with ``@entity("name")``, or of one of
    its instances; None for anything else. Raises ``TypeError`` for an undecorated subclass of
    an entity, whose event type would be ambiguous."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    info = _entity_info(cls)
    if info is not None:
        return info.name
    for base in cls.__mro__[1:]:
        parent = _entity_info(base)
        if parent is not None and parent.name is not None:
            raise TypeError(
                f"{_label(cls)} extends the entity {_label(base)} ({parent.name!r}) without @graveyard.entity: "
                f'decorate it (@graveyard.entity("{parent.name}") to write the same event type)'
            )
    return None


def is_entity(x: object) -> bool:
    """Whether ``x`` is a class decorated with ``@entity("name")`` or an instance of one."""
    cls = x if isinstance(x, type) else type(x)
    info = _entity_info(cls)
    return info is not None and info.name is not None


# ---------------------------------------------------------------------------------------------
# The mapped model
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Scalar:
    kind: str  # "string", "integer", "number" or "boolean"
    codec: str  # how values are written and read (see _write_scalar)
    pattern: str | None = None  # the form the codec's text always has
    py: type | None = None  # a subclass of str/int/float to build on read


@dataclasses.dataclass(frozen=True)
class _Enum:
    variants: tuple[str, ...]
    enum_cls: type[enum.Enum] | None


@dataclasses.dataclass(frozen=True)
class _Array:
    item: _Type
    container: type
    fixed: int | None = None


@dataclasses.dataclass(frozen=True)
class _Object:
    model: _ObjectModel


@dataclasses.dataclass(frozen=True)
class _Map:
    value: _Type | None  # None: any JSON value
    value_optional: bool


@dataclasses.dataclass(frozen=True)
class _Ref:
    name: str | None
    version: int | None
    cls: type | None  # the class values are read into; None for plain dicts


@dataclasses.dataclass(frozen=True)
class _Pydantic:
    """A Pydantic model inside data this module writes: Pydantic writes and reads it."""

    cls: type
    model: _ObjectModel


if TYPE_CHECKING:
    _Type: TypeAlias = _Scalar | _Enum | _Array | _Object | _Map | _Ref | _Pydantic


@dataclasses.dataclass
class _FieldModel:
    attr: str
    member: str
    type: _Type
    required: bool
    nullable: bool
    optional: bool  # the Python type admits None
    omit_none: bool
    has_py_default: bool
    min: int | float | None = None
    max: int | float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    default: object = _UNSET
    description: str | None = None


@dataclasses.dataclass(eq=False)
class _ObjectModel:
    cls: type
    pydantic: bool
    fields: list[_FieldModel]
    unknown_fields: str
    decimal: bool | None = None  # holds Decimals somewhere (computed on first read)


class _Unresolved(Exception):  # noqa: N818 - internal signal, never surfaces
    """Hints name something not defined yet (a class further down): mapping is deferred."""


def _root_model(cls: type) -> _ObjectModel:
    cached = cls.__dict__.get(_MODEL_ATTR)
    if isinstance(cached, _ObjectModel):
        return cached
    builder = _Builder(cls)
    model = builder.build()
    if builder.problems:
        raise SchemaMappingError(cls, builder.problems)
    type.__setattr__(cls, _MODEL_ATTR, model)
    return model


def _resolve_or_raise(cls: type) -> _ObjectModel:
    """The model of ``cls`` for use now: unresolved hints are a problem, no longer a deferral."""
    try:
        return _root_model(cls)
    except _Unresolved as e:
        raise SchemaMappingError(cls, [str(e)]) from None


class _Rules:
    """The rules of one field, gathered from every piece of metadata; the same rule given twice
    with different values is a problem (which one the store should keep is unknowable)."""

    __slots__ = ("sources", "values")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}

    def put(self, key: str, value: object, source: str, where: str, problems: list[str]) -> None:
        if key in self.values:
            if not _same(self.values[key], value):
                problems.append(
                    f"{where}: {key} is given twice with different values ({self.sources[key]} and {source})"
                )
            return
        self.values[key] = value
        self.sources[key] = source

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def has(self, key: str) -> bool:
        return key in self.values


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


@dataclasses.dataclass(frozen=True)
class _Ctx:
    pydantic: bool
    config: Mapping[str, object]  # the Pydantic config in force (empty for dataclasses)


_DATACLASS_CTX = _Ctx(False, {})


class _Builder:
    def __init__(self, root: type) -> None:
        self.root = root
        info = _entity_info(root)
        self.root_name = info.name if info is not None else None
        self.problems: list[str] = []
        self.stack: list[type] = []

    def owner(self) -> type | None:
        """The class whose fields are being mapped: the namespace of their forward references."""
        return self.stack[-1] if self.stack else None

    def build(self) -> _ObjectModel:
        return self.build_object(self.root, _label(self.root))

    def problem(self, text: str) -> None:
        self.problems.append(text)

    # -- objects ------------------------------------------------------------------------------

    def build_object(self, cls: type, where: str, ctx: _Ctx | None = None) -> _ObjectModel:
        self.stack.append(cls)
        try:
            if _is_pydantic_model(cls):
                return self.pydantic_object(cls, where)
            return self.dataclass_object(cls, where, ctx or _DATACLASS_CTX)
        finally:
            self.stack.pop()

    def dataclass_object(self, cls: type, where: str, ctx: _Ctx) -> _ObjectModel:
        hints = _hints(cls, where)
        info = _entity_info(cls)
        fields: list[_FieldModel] = []
        declared = dataclasses.fields(cls)
        for f in getattr(cls, "__dataclass_fields__", {}).values():
            if f not in declared and isinstance(hints.get(f.name), dataclasses.InitVar) and _no_default(f):
                self.problem(
                    f"{where}.{f.name}: an InitVar without a default cannot be read back from event data "
                    "(give it a default)"
                )
        for f in declared:
            if not f.init:
                continue  # Derived state (computed in __post_init__), rebuilt on read.
            fields.append(
                self.build_field(
                    attr=f.name,
                    annotation=hints.get(f.name, Any),
                    where=f"{where}.{f.name}",
                    has_default=not _no_default(f),
                    extra_metadata=(),
                    description=None,
                    alias=None,
                    ctx=ctx,
                )
            )
        self.check_members(fields, where)
        unknown = (info.unknown_fields if info is not None else None) or "allow"
        return _ObjectModel(cls, ctx.pydantic, fields, unknown)

    def pydantic_object(self, cls: type, where: str) -> _ObjectModel:
        if not getattr(cls, "__pydantic_complete__", True):
            try:
                cls.model_rebuild()  # type: ignore[attr-defined]
            except Exception as e:
                raise _Unresolved(f"{where}: the Pydantic model is not fully defined: {e}") from None
        if any(getattr(base, "__name__", "") == "RootModel" for base in cls.__mro__):
            self.problem(f"{where}: a RootModel's data is not an object; events hold objects")
        config: Mapping[str, object] = getattr(cls, "model_config", {}) or {}
        ctx = _Ctx(True, config)
        self.pydantic_config(config, where)
        self.pydantic_decorators(cls, where)
        fields: list[_FieldModel] = []
        model_fields: Mapping[str, Any] = getattr(cls, "model_fields", {})
        for attr, fi in model_fields.items():
            if fi.exclude is True:
                continue  # Never written: not part of the data.
            if getattr(fi, "exclude_if", None) is not None:
                self.problem(
                    f"{where}.{attr}: exclude_if leaves the member out of some events; the schema cannot say when"
                )
            if getattr(fi, "discriminator", None) is not None:
                self.problem(f"{where}.{attr}: a discriminated union has no counterpart in the schema model")
            fields.append(
                self.build_field(
                    attr=attr,
                    annotation=fi.annotation,
                    where=f"{where}.{attr}",
                    has_default=not fi.is_required(),
                    extra_metadata=tuple(fi.metadata),
                    description=fi.description,
                    alias=self.pydantic_member(cls, attr, fi, config, where),
                    ctx=ctx,
                )
            )
        self.check_members(fields, where)
        info = _entity_info(cls)
        forbid = config.get("extra") == "forbid"
        unknown = info.unknown_fields if info is not None else None
        if unknown == "allow" and forbid:
            self.problem(
                f'{where}: unknown_fields="allow" but the model forbids extra members: it could not read '
                "events the schema accepts"
            )
        return _ObjectModel(cls, True, fields, unknown or ("reject" if forbid else "allow"))

    def pydantic_config(self, config: Mapping[str, object], where: str) -> None:
        for key in ("str_to_lower", "str_to_upper", "str_strip_whitespace"):
            if config.get(key):
                self.problem(f"{where}: model_config {key} transforms strings; the schema model cannot say so")
        for key in ("str_min_length", "str_max_length"):
            if config.get(key) is not None:
                self.problem(
                    f"{where}: model_config {key} applies to every string; declare it on each field "
                    "(min_length/max_length) for the schema to carry it"
                )

    def pydantic_decorators(self, cls: type, where: str) -> None:
        decorators = getattr(cls, "__pydantic_decorators__", None)
        if decorators is None:
            return
        kinds = (
            ("validators", "a custom validator"),
            ("field_validators", "a custom validator"),
            ("root_validators", "a custom validator"),
            ("model_validators", "a custom validator"),
            ("field_serializers", "a custom serializer"),
            ("model_serializers", "a custom serializer"),
            ("computed_fields", "a computed field (written, never read back)"),
        )
        for attr, what in kinds:
            for name in getattr(decorators, attr, {}):
                self.problem(f"{where}.{name}: {what} has no counterpart in the schema model")

    def pydantic_member(self, cls: type, attr: str, fi: Any, config: Mapping[str, object], where: str) -> str:
        written = fi.serialization_alias or fi.alias or attr
        read = fi.validation_alias if fi.validation_alias is not None else (fi.alias or attr)
        by_name = bool(config.get("populate_by_name") or config.get("validate_by_name"))
        if isinstance(read, str):
            readable = read == written or (by_name and written == attr)
        else:
            choices = getattr(read, "choices", None)
            readable = choices is not None and written in choices
        if not readable:
            self.problem(
                f"{where}.{attr}: the model writes the member {written!r} but reads another name; events it "
                "writes could not be read back"
            )
        return str(written)

    def check_members(self, fields: list[_FieldModel], where: str) -> None:
        seen: dict[str, str] = {}
        for f in fields:
            if f.member in seen:
                self.problem(f"{where}: the fields {seen[f.member]} and {f.attr} both write the member {f.member!r}")
            seen[f.member] = f.attr

    # -- fields -------------------------------------------------------------------------------

    def build_field(
        self,
        *,
        attr: str,
        annotation: object,
        where: str,
        has_default: bool,
        extra_metadata: tuple[object, ...],
        description: str | None,
        alias: str | None,
        ctx: _Ctx,
    ) -> _FieldModel:
        core, metadata, optional = _peel(annotation, self.owner(), where)
        rules = _Rules()
        self.metadata([*extra_metadata, *metadata], rules, where, ctx)
        if description is not None:
            rules.put("description", description, "Pydantic's description", where, self.problems)
        if rules.has("name") and ctx.pydantic:
            self.problem(
                f"{where}: graveyard.Field(name=...) in a Pydantic model: Pydantic writes the member, use its alias"
            )
        member = alias or rules.get("name") or attr
        ty = self.field_type(core, where, rules, ctx)
        if ty is None:
            ty = _Scalar("string", "str")  # The class is refused anyway; keep checking the rest.
        required, nullable, omit_none = self.presence(rules, optional, has_default, where, ctx)
        f = _FieldModel(
            attr=attr,
            member=member,
            type=ty,
            required=required,
            nullable=nullable,
            optional=optional,
            omit_none=omit_none,
            has_py_default=has_default,
            description=rules.get("description"),
        )
        self.apply_rules(f, rules, where)
        if rules.has("default"):
            self.check_default(f, rules.get("default"), where)
        return f

    def presence(
        self, rules: _Rules, optional: bool, has_default: bool, where: str, ctx: _Ctx
    ) -> tuple[bool, bool, bool]:
        required_option: bool | None = rules.get("required")
        nullable_option: bool | None = rules.get("nullable")
        if optional:
            if required_option:
                self.problem(f"{where}: required contradicts the type's None (a required member holds a value)")
            if nullable_option is False and ctx.pydantic:
                self.problem(f"{where}: nullable=False, but Pydantic writes None as null")
            if not has_default and ctx.pydantic:
                self.problem(
                    f"{where}: Pydantic requires the member, but it may be null, and the schema model cannot require "
                    "a member that may be null (give it a default: = None)"
                )
            nullable = nullable_option is not False
            return False, nullable, not nullable
        if nullable_option:
            self.problem(f"{where}: nullable on a field whose type does not admit None: write T | None")
        if required_option is False and not has_default:
            self.problem(
                f"{where}: required=False, but the field has no default: data without it could not be read back "
                "(give it a default)"
            )
        return (not has_default) or bool(required_option), False, False

    def metadata(self, items: Iterable[object], rules: _Rules, where: str, ctx: _Ctx) -> None:
        for m in items:
            self.one_metadata(m, rules, where, ctx)

    def one_metadata(self, m: object, rules: _Rules, where: str, ctx: _Ctx) -> None:
        problems = self.problems
        if isinstance(m, Field):
            for key, value in m.options().items():
                rules.put(key, value, "graveyard.Field", where, problems)
            return
        cls = type(m)
        module = cls.__module__
        name = cls.__name__
        if getattr(m, "__is_annotated_types_grouped_metadata__", False) and isinstance(m, Iterable):
            self.metadata(list(m), rules, where, ctx)
            return
        if module == "annotated_types":
            simple = {"Ge": ("ge", "min"), "Le": ("le", "max"), "Gt": ("gt", "gt"), "Lt": ("lt", "lt")}
            lengths = {"MinLen": ("min_length", "min_length"), "MaxLen": ("max_length", "max_length")}
            if name in simple or name in lengths:
                attr, key = simple.get(name) or lengths[name]
                value = getattr(m, attr)
                if key in ("min", "max", "gt", "lt"):
                    bound = _bound(value)
                    if bound is None or not _finite(bound):
                        problems.append(f"{where}: {m!r} is not a finite numeric bound; the schema model has no other")
                        return
                    value = bound
                rules.put(key, value, repr(m), where, problems)
                return
            problems.append(f"{where}: {m!r} has no counterpart in the schema model")
            return
        if name == "FieldInfo" and _from_pydantic(module):
            self.metadata(getattr(m, "metadata", ()), rules, where, ctx)
            described = getattr(m, "description", None)
            if described is not None:
                rules.put("description", described, "Pydantic's description", where, problems)
            if getattr(m, "alias", None) or getattr(m, "serialization_alias", None):
                problems.append(f"{where}: a Pydantic alias here is not supported (use graveyard.Field(name=...))")
            return
        if name == "_PydanticGeneralMetadata":
            for key, value in vars(m).items():
                if key == "pattern" and value is not None:
                    self.pydantic_pattern(value, rules, where, ctx)
                elif key in ("strict", "allow_inf_nan", "fail_fast") or value is None:
                    continue  # The store's types are strict, and JSON has no inf or NaN.
                else:
                    problems.append(f"{where}: Pydantic's {key}={value!r} has no counterpart in the schema model")
            return
        if _from_pydantic(module):
            if name in ("Strict", "AllowInfNan", "FailFast"):
                return
            what = {
                "AfterValidator": "a custom validator",
                "BeforeValidator": "a custom validator",
                "PlainValidator": "a custom validator",
                "WrapValidator": "a custom validator",
                "PlainSerializer": "a custom serializer",
                "WrapSerializer": "a custom serializer",
            }.get(name, f"Pydantic's {name}")
            problems.append(f"{where}: {what} has no counterpart in the schema model")
            return
        if ctx.pydantic and hasattr(m, "__get_pydantic_core_schema__"):
            problems.append(f"{where}: {name} customises Pydantic's validation; the schema model cannot say how")
        # Anything else is metadata for other tools: it constrains nothing.

    def pydantic_pattern(self, value: object, rules: _Rules, where: str, ctx: _Ctx) -> None:
        source = getattr(value, "pattern", value)  # A compiled re.Pattern, or its text.
        if not isinstance(source, str):
            self.problem(f"{where}: a pattern must be text, not {_kind_of(source)}")
            return
        if ctx.config.get("regex_engine") == "python-re":
            self.problem(
                f"{where}: the pattern is a Python regex (regex_engine='python-re'); the store's patterns are "
                "Rust regexes"
            )
            return
        rules.put("pattern", _search_as_full_match(source), "Pydantic's pattern", where, self.problems)

    # -- types --------------------------------------------------------------------------------

    def field_type(self, t: object, where: str, rules: _Rules, ctx: _Ctx) -> _Type | None:
        ref = rules.get("ref")
        if ref is not None and ref is not False:
            return self.ref_type(t, where, ref, rules.get("version"))
        choices = rules.get("choices")
        if choices is not None:
            if t is str:
                return _Enum(choices, None)
            self.problem(f"{where}: choices apply to str fields, not to {_type_name(t)}")
            return None
        return self.plain_type(t, where, ctx)

    def ref_type(self, t: object, where: str, ref: bool | str, version: int | None) -> _Type | None:
        if isinstance(t, type) and (_is_pydantic_model(t) or dataclasses.is_dataclass(t)):
            if ref is True:
                info = _entity_info(t)
                if info is None or info.name is None:
                    self.problem(
                        f"{where}: ref=True refers to {_label(t)}, which has no entity name "
                        '(@graveyard.entity("name")); or give the schema name: ref="name"'
                    )
                    return None
                return _Ref(info.name, version, t)
            return _Ref(str(ref), version, t)
        if _is_any_map(t):
            if ref is True:
                self.problem(f'{where}: ref=True needs a class to take the entity name from; give the name: ref="name"')
                return None
            return _Ref(str(ref), version, None)
        self.problem(
            f"{where}: ref applies to a dataclass, a Pydantic model or dict[str, Any], not to {_type_name(t)} "
            "(for items, annotate the item: list[Annotated[Cls, Field(ref=True)]])"
        )
        return None

    def plain_type(self, t: object, where: str, ctx: _Ctx) -> _Type | None:
        origin = typing.get_origin(t)
        args = typing.get_args(t)
        if t is Any or t is object:
            self.problem(
                f"{where}: the schema model has no type for any value; use dict[str, Any] for an object with any "
                "members, or a concrete type"
            )
            return None
        if origin is Literal:
            return self.literal(args, where)
        if isinstance(t, _LiteralValues):
            return self.literal(t.values, where)
        if origin in _UNION_TYPES:
            self.problem(f"{where}: a union ({_type_name(t)}) has no counterpart in the schema model (but T | None)")
            return None
        if origin in (list, collections.abc.Sequence, collections.abc.MutableSequence):
            return self.array_type(args, list, where, ctx, t)
        if origin in (set, frozenset, collections.abc.Set, collections.abc.MutableSet):
            return self.array_type(args, frozenset if origin is frozenset else set, where, ctx, t)
        if origin is tuple:
            return self.tuple_type(args, where, ctx)
        if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
            return self.map_type(args, where, ctx)
        if origin is not None:
            self.problem(f"{where}: {_type_name(t)} has no counterpart in the schema model")
            return None
        if isinstance(t, TypeVar):
            self.problem(f"{where}: the type variable {t} is not resolved (declare a concrete type)")
            return None
        if t in (list, tuple, set, frozenset, dict, collections.abc.Sequence, collections.abc.Mapping):
            self.problem(f"{where}: {_type_name(t)} needs its item types ({_type_name(t)}[...])")
            return None
        if not isinstance(t, type):
            self.problem(f"{where}: {_type_name(t)} has no counterpart in the schema model")
            return None
        return self.class_type(t, where, ctx)

    def class_type(self, t: type, where: str, ctx: _Ctx) -> _Type | None:
        if issubclass(t, enum.Enum):
            values = [member.value for member in t]
            if not values or not all(isinstance(v, str) for v in values):
                self.problem(
                    f"{where}: {_label(t)}'s values are not all strings, and the schema model's enums are strings "
                    "(give the members string values)"
                )
                return None
            return _Enum(tuple(values), t)
        if t is bool:
            return _Scalar("boolean", "bool")
        if issubclass(t, int):
            return _Scalar("integer", "int", py=None if t is int else t)
        if issubclass(t, float):
            return _Scalar("number", "float", py=None if t is float else t)
        if issubclass(t, decimal.Decimal):
            if ctx.pydantic:
                self.problem(f"{where}: Pydantic writes Decimal as a JSON string; declare float, or str with a pattern")
                return None
            return _Scalar("number", "decimal")
        if issubclass(t, str):
            return _Scalar("string", "str", py=None if t is str else t)
        if issubclass(t, (bytes, bytearray)):
            return self.bytes_type(where, ctx)
        special = self.pydantic_special(t, where)
        if special is not False:
            return special
        if issubclass(t, dt.datetime):
            return _Scalar("string", "datetime", DATETIME_PATTERN)
        if issubclass(t, dt.date):
            return _Scalar("string", "date", DATE_PATTERN)
        if issubclass(t, dt.time):
            return _Scalar("string", "time", TIME_PATTERN)
        if issubclass(t, uuid.UUID):
            return _Scalar("string", "uuid", UUID_PATTERN)
        if issubclass(t, dt.timedelta):
            self.problem(f"{where}: timedelta has no counterpart in the schema model (store seconds as a float)")
            return None
        if _is_pydantic_model(t) or dataclasses.is_dataclass(t):
            return self.nested(t, where, ctx)
        self.problem(f"{where}: {_label(t)} has no counterpart in the schema model (not a dataclass or Pydantic model)")
        return None

    def bytes_type(self, where: str, ctx: _Ctx) -> _Type | None:
        if not ctx.pydantic:
            return _Scalar("string", "bytes", BASE64_PATTERN)
        ser = ctx.config.get("ser_json_bytes", "utf8")
        val = ctx.config.get("val_json_bytes", "utf8")
        if ser == "utf8" and val == "utf8":
            return _Scalar("string", "bytes_utf8")
        self.problem(
            f"{where}: Pydantic writes these bytes as {ser} text; only its default (UTF-8 text) maps onto the schema "
            "model (or use a str field)"
        )
        return None

    def pydantic_special(self, t: type, where: str) -> _Type | Literal[False] | None:
        if not _from_pydantic(t.__module__):
            return False
        if t.__name__ == "AwareDatetime":
            return _Scalar("string", "datetime", DATETIME_PATTERN)
        if issubclass(t, (dt.date, dt.time, uuid.UUID)) or _is_pydantic_model(t):
            return False
        self.problem(f"{where}: Pydantic's {t.__name__} has no counterpart in the schema model")
        return None

    def nested(self, t: type, where: str, ctx: _Ctx) -> _Type | None:
        if t is self.root:
            return _Ref(self.root_name, None, t)
        if t in self.stack:
            cycle = " -> ".join(_label(c) for c in [*self.stack[self.stack.index(t) :], t])
            self.problem(
                f"{where}: {_label(t)} contains itself ({cycle}); objects are declared in place, so only the entity "
                "itself can recur (refer to another entity with Field(ref=True))"
            )
            return None
        if _is_pydantic_dataclass(t):
            self.problem(
                f"{where}: Pydantic dataclasses are not supported; use a pydantic.BaseModel or a standard dataclass"
            )
            return None
        if _is_pydantic_model(t):
            model = self.build_object(t, where)
            return _Object(model) if ctx.pydantic else _Pydantic(t, model)
        return _Object(self.build_object(t, where, ctx))

    def literal(self, args: tuple[object, ...], where: str) -> _Type | None:
        if not args or not all(isinstance(a, str) for a in args):
            self.problem(f"{where}: Literal values must be strings (the schema model's enums are strings)")
            return None
        return _Enum(tuple(dict.fromkeys(typing.cast("tuple[str, ...]", args))), None)

    def item(self, annotation: object, where: str, ctx: _Ctx, *, in_map: bool = False) -> tuple[_Type | None, bool]:
        """The type of an array item or a map value, which carry no rules in the model. A map
        value of any type gives (None, optional), as does a refused one (with its problem)."""
        core, metadata, optional = _peel(annotation, self.owner(), where)
        if optional and not in_map:
            self.problem(f"{where}: array items are never null in the schema model (drop None)")
        rules = _Rules()
        self.metadata(metadata, rules, where, ctx)
        ruled = [k for k in rules.values if k not in ("choices", "ref", "version")]
        if ruled:
            self.problem(
                f"{where}: {'map values' if in_map else 'array items'} take no rules in the schema model, only a type "
                f"({', '.join(ruled)} belong on the field, or on a field of an object item)"
            )
        if in_map and core in (Any, object) and not rules.has("ref"):
            return None, optional
        return self.field_type(core, where, rules, ctx), optional

    def array_type(self, args: tuple[object, ...], container: type, where: str, ctx: _Ctx, t: object) -> _Type | None:
        if len(args) != 1:
            self.problem(f"{where}: {_type_name(t)} needs one item type")
            return None
        item, _ = self.item(args[0], f"{where}[]", ctx)
        return None if item is None else _Array(item, container)

    def tuple_type(self, args: tuple[object, ...], where: str, ctx: _Ctx) -> _Type | None:
        if len(args) == 2 and args[1] is Ellipsis:
            item, _ = self.item(args[0], f"{where}[]", ctx)
            return None if item is None else _Array(item, tuple)
        if not args or args == ((),) or any(a != args[0] for a in args):
            self.problem(
                f"{where}: a tuple of different item types has no counterpart in the schema model (arrays have one "
                "item type)"
            )
            return None
        item, _ = self.item(args[0], f"{where}[]", ctx)
        return None if item is None else _Array(item, tuple, len(args))

    def map_type(self, args: tuple[object, ...], where: str, ctx: _Ctx) -> _Type | None:
        if len(args) != 2 or args[0] is not str:
            self.problem(f"{where}: a dict maps onto an object, whose keys are strings: write dict[str, T]")
            return None
        before = len(self.problems)
        value, optional = self.item(args[1], f"{where}.*", ctx, in_map=True)
        return None if len(self.problems) > before else _Map(value, optional)

    # -- rules --------------------------------------------------------------------------------

    def apply_rules(self, f: _FieldModel, rules: _Rules, where: str) -> None:
        ty = f.type
        what = _describe(ty)
        is_number = isinstance(ty, _Scalar) and ty.kind in ("integer", "number")
        is_text = isinstance(ty, _Scalar) and ty.codec == "str"
        fixed_form = isinstance(ty, _Scalar) and ty.kind == "string" and not is_text
        lo, hi = rules.get("min"), rules.get("max")
        gt, lt = rules.get("gt"), rules.get("lt")
        misplaced = [key for key in ("min", "max", "gt", "lt") if rules.has(key) and not is_number]
        for key in misplaced:
            self.problem(f"{where}: {key} applies to numbers and integers, not to {what}")
        if (gt is not None or lt is not None) and not misplaced:
            if isinstance(ty, _Scalar) and ty.kind == "integer":
                # For integers, x > b is exactly x >= floor(b) + 1, and x < b is x <= ceil(b) - 1.
                if gt is not None:
                    lo = math.floor(gt) + 1 if lo is None else max(lo, math.floor(gt) + 1)
                if lt is not None:
                    hi = math.ceil(lt) - 1 if hi is None else min(hi, math.ceil(lt) - 1)
            else:
                self.problem(
                    f"{where}: an exclusive bound ({'gt' if gt is not None else 'lt'}) of a non-integer has no "
                    "counterpart: the schema model's bounds are inclusive"
                )
        if lo is not None and hi is not None and lo > hi:
            self.problem(f"{where}: min {lo} is above max {hi}")
        if not misplaced:
            f.min, f.max = lo, hi
        for key in ("min_length", "max_length"):
            if not rules.has(key):
                continue
            if fixed_form:
                self.problem(
                    f"{where}: {key} does not apply to {what}, whose text has a form its type fixes "
                    "(the schema carries its pattern)"
                )
            elif not (is_text or isinstance(ty, _Array)):
                self.problem(f"{where}: {key} applies to strings and arrays, not to {what}")
        f.min_length, f.max_length = rules.get("min_length"), rules.get("max_length")
        if isinstance(ty, _Array) and ty.fixed is not None:
            for key in ("min_length", "max_length"):
                given = rules.get(key)
                if given is not None and given != ty.fixed:
                    self.problem(f"{where}: {key} {given} contradicts the tuple's {ty.fixed} items")
            f.min_length = f.max_length = ty.fixed
        if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
            self.problem(f"{where}: min_length {f.min_length} is above max_length {f.max_length}")
        pattern = rules.get("pattern")
        if pattern is not None:
            if fixed_form:
                self.problem(f"{where}: pattern does not apply to {what}, whose text has a form its type fixes")
            elif not is_text:
                self.problem(f"{where}: pattern applies to strings, not to {what}")
            f.pattern = pattern
        if isinstance(ty, _Scalar) and ty.pattern is not None:
            f.pattern = ty.pattern

    def check_default(self, f: _FieldModel, value: object, where: str) -> None:
        label = f"{where}: default"
        if _mentions_root(f.type, self.root):
            # Converting it would need the model being built; a default holding the entity
            # itself is also what the core refuses as endless.
            self.problem(f"{label}: a default holding the entity itself is not supported")
            return
        try:
            json_value = _write(value, f.type, label, set())
        except (TypeError, ValueError) as e:
            self.problem(str(e))
            return
        if isinstance(f.type, _Enum) and json_value not in f.type.variants:
            self.problem(f"{label} is not one of the enum's variants")
            return
        if isinstance(json_value, (int, float, decimal.Decimal)) and not isinstance(json_value, bool):
            if f.min is not None and json_value < f.min:
                self.problem(f"{label} is below min {f.min}")
            if f.max is not None and json_value > f.max:
                self.problem(f"{label} is above max {f.max}")
        size = len(json_value) if isinstance(json_value, (str, list)) else None
        if size is not None and not (isinstance(f.type, _Scalar) and f.type.pattern is not None):
            if f.min_length is not None and size < f.min_length:
                self.problem(f"{label} has length {size}, below min_length {f.min_length}")
            if f.max_length is not None and size > f.max_length:
                self.problem(f"{label} has length {size}, above max_length {f.max_length}")
        # The pattern is left to the core: Python's re reads some patterns otherwise than Rust's regex.
        f.default = json_value


def _mentions_root(ty: _Type, root: type) -> bool:
    if isinstance(ty, _Ref):
        return ty.cls is root
    if isinstance(ty, _Array):
        return _mentions_root(ty.item, root)
    if isinstance(ty, _Map):
        return ty.value is not None and _mentions_root(ty.value, root)
    if isinstance(ty, (_Object, _Pydantic)):
        return any(_mentions_root(f.type, root) for f in ty.model.fields)
    return False


def _no_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _namespaces(cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
    module = sys.modules.get(cls.__module__)
    return (dict(vars(module)) if module is not None else {}), {cls.__name__: cls}


def _unresolved(where: str, e: NameError) -> _Unresolved:
    return _Unresolved(
        f"{where}: a type hint cannot be resolved ({e}); define the classes it names at module level, or "
        "before this one is used"
    )


def _hints(cls: type, where: str) -> dict[str, Any]:
    globalns, localns = _namespaces(cls)
    try:
        return typing.get_type_hints(cls, globalns=globalns, localns=localns, include_extras=True)
    except NameError as e:
        raise _unresolved(where, e) from None


def _forward(t: object, owner: type | None, where: str) -> object:
    """A forward reference left unevaluated by get_type_hints (Python 3.10 leaves the strings of
    `list["Node"]`), evaluated as it would be: in the namespace of the class declaring it."""
    code = t if isinstance(t, str) else getattr(t, "__forward_arg__", None)
    if not isinstance(code, str) or owner is None:
        return t
    globalns, localns = _namespaces(owner)
    try:
        return eval(code, globalns, localns)
    except NameError as e:
        raise _unresolved(where, e) from None


def _peel(annotation: object, owner: type | None = None, where: str = "") -> tuple[object, list[object], bool]:
    """The core type of an annotation, the metadata of its Annotated layers, and whether it admits
    None (T | None, Optional[T], a Literal with None)."""
    metadata: list[object] = []
    optional = False
    t = annotation
    while True:
        t = _forward(t, owner, where)
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            metadata.extend(getattr(t, "__metadata__", ()))
            t = typing.get_args(t)[0]
            continue
        if origin in _UNION_TYPES:
            args = typing.get_args(t)
            rest = [a for a in args if a is not _NONE_TYPE and a is not None]
            if len(rest) < len(args):
                optional = True
                if len(rest) == 1:
                    t = rest[0]
                    continue
                # Rebuilt as written (`int | str`, or `Union[int, str]`), for the message.
                t = (
                    functools.reduce(operator.or_, rest)
                    if origin is types.UnionType
                    else typing.cast("Any", Union)[tuple(rest)]
                )
            return t, metadata, optional
        if origin is Literal:
            args = typing.get_args(t)
            rest = [a for a in args if a is not None]
            if len(rest) < len(args) and rest:
                return _LiteralValues(tuple(rest)), metadata, True
            return t, metadata, optional
        supertype = getattr(t, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            t = supertype
            continue
        value = getattr(t, "__value__", None)  # A `type X = ...` alias (3.12).
        if value is not None and type(t).__name__ == "TypeAliasType":
            t = value
            continue
        if t is None or t is _NONE_TYPE:
            return t, metadata, True
        return t, metadata, optional


@dataclasses.dataclass(frozen=True)
class _LiteralValues:
    """A Literal's values once None is taken out of them (which made the field nullable)."""

    values: tuple[object, ...]


def _is_any_map(t: object) -> bool:
    args = typing.get_args(t)
    return (
        typing.get_origin(t) in (dict, collections.abc.Mapping, collections.abc.MutableMapping)
        and len(args) == 2
        and args[0] is str
        and args[1] in (Any, object)
    )


def _search_as_full_match(pattern: str) -> str:
    """A pattern Pydantic searches for anywhere in the string, as one the store matches against
    the whole string: anchors are dropped when they already bind the whole pattern, and the rest
    is padded with ``(?s:.*)`` (any text, newlines too)."""
    if pattern == "":
        return "(?s:.*)"
    starts = 2 if pattern.startswith("\\A") else 1 if pattern.startswith("^") else 0
    end = len(pattern)
    ends = 0
    if end - starts >= 1 and pattern.endswith("$") and _unescaped(pattern, end - 1):
        ends = 1
    elif end - starts >= 2 and pattern.endswith("\\z") and _unescaped(pattern, end - 2):
        ends = 2
    inner = pattern[starts : end - ends]
    if _top_level_alternation(inner):
        # The anchors bind only their alternatives: keep them, and pad the whole.
        return f"(?s:.*)(?:{pattern})(?s:.*)"
    return ("" if starts else "(?s:.*)") + inner + ("" if ends else "(?s:.*)")


def _unescaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 0


def _top_level_alternation(pattern: str) -> bool:
    depth = 0
    in_class = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "[":
                in_class += 1
            elif c == "]":
                in_class -= 1
        elif c == "[":
            in_class = 1
            # A ']' first in a class (after an optional '^') is a literal.
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def _describe(ty: _Type) -> str:
    if isinstance(ty, _Scalar):
        return {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "decimal": "a number",
            "bool": "a boolean",
            "datetime": "a datetime",
            "date": "a date",
            "time": "a time",
            "uuid": "a UUID",
            "bytes": "bytes",
            "bytes_utf8": "bytes",
        }[ty.codec]
    if isinstance(ty, _Enum):
        return "an enum"
    if isinstance(ty, _Array):
        return "an array"
    return "an object"


# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


def schema_of(cls: type) -> dict[str, Any]:
    """The schema of an entity class, as ``upsert_schema`` takes it: JSON-ready, keys in the
    order the core writes them, defaults (``allow``, ``backward``) left out as the core does.
    A fresh copy on each call."""
    return typing.cast("dict[str, Any]", json.loads(schema_json(cls)))


def schema_json(cls: type) -> str:
    """The schema of an entity class as compact JSON text (what a binding passes on)."""
    if not isinstance(cls, type):
        raise TypeError(f"schema_of takes an entity class, not {_kind_of(cls)}")
    cached = cls.__dict__.get(_SCHEMA_ATTR)
    if isinstance(cached, str):
        return cached
    info = _entity_info(cls)
    if info is None or info.name is None:
        entity_name_of(cls)  # Raises the clearer error for an undecorated subclass of an entity.
        what = "has no entity name" if info is not None else "is not decorated with @graveyard.entity"
        raise TypeError(
            f'{_label(cls)} {what}: schema_of takes a class decorated with @graveyard.entity("name"), whose name '
            "is its schema's and its events' type"
        )
    model = _resolve_or_raise(cls)
    definition: dict[str, object] = {"name": info.name}
    if info.description is not None:
        definition["description"] = info.description
    definition["fields"] = [_field_json(f) for f in model.fields]
    if model.unknown_fields == "reject":
        definition["unknown_fields"] = "reject"
    if info.compatibility != "backward":
        definition["compatibility"] = info.compatibility
    text = _dumps(definition)
    type.__setattr__(cls, _SCHEMA_ATTR, text)
    return text


def _field_json(f: _FieldModel) -> dict[str, object]:
    out: dict[str, object] = {"name": f.member, "type": _type_json(f.type)}
    if f.required:
        out["required"] = True
    if f.nullable:
        out["nullable"] = True
    for key in ("min", "max", "min_length", "max_length", "pattern"):
        value = getattr(f, key)
        if value is not None:
            out[key] = value
    if f.default is not _UNSET:
        out["default"] = f.default
    if f.description is not None:
        out["description"] = f.description
    return out


def _type_json(ty: _Type) -> object:
    if isinstance(ty, _Scalar):
        return ty.kind
    if isinstance(ty, _Enum):
        return {"enum": list(ty.variants)}
    if isinstance(ty, _Array):
        return {"array": _type_json(ty.item)}
    if isinstance(ty, (_Object, _Pydantic)):
        obj: dict[str, object] = {"fields": [_field_json(f) for f in ty.model.fields]}
        if ty.model.unknown_fields == "reject":
            obj["unknown_fields"] = "reject"
        return {"object": obj}
    if isinstance(ty, _Map):
        return {"object": {"fields": []}}
    ref: dict[str, object] = {"name": ty.name or ""}
    if ty.version is not None:
        ref["version"] = ty.version
    return {"ref": ref}


# ---------------------------------------------------------------------------------------------
# Writing instances
# ---------------------------------------------------------------------------------------------


def serialize_entity(instance: object) -> tuple[str, bytes]:
    """An entity instance as event data: its entity name (the event type) and its JSON as UTF-8
    bytes. Dataclasses write their fields (``init=False`` ones excepted), each checked for its
    type so that every event written reads back; Pydantic models write what ``model_dump`` in
    JSON mode gives, by alias. The rules (bounds, lengths, patterns, required) are the store's
    to check."""
    event_type = entity_name_of(instance)
    if event_type is None or isinstance(instance, type):
        raise TypeError(
            'serialize_entity takes an instance of a class decorated with @graveyard.entity("name"), '
            f"not {_kind_of(instance)}"
        )
    cls = type(instance)
    model = _resolve_or_raise(cls)
    if model.pydantic:
        return event_type, instance.model_dump_json(by_alias=True).encode("utf-8")  # type: ignore[attr-defined]
    data = _write_object(instance, model, _label(cls), set())
    return event_type, _dumps(data).encode("utf-8")


def _write_object(value: object, model: _ObjectModel, path: str, ancestors: set[int]) -> dict[str, object]:
    if not isinstance(value, model.cls):
        raise TypeError(f"{path}: expected an instance of {_label(model.cls)}, not {_kind_of(value)}")
    if id(value) in ancestors:
        raise ValueError(f"{path}: the object contains itself")
    ancestors.add(id(value))
    out: dict[str, object] = {}
    for f in model.fields:
        v = getattr(value, f.attr)
        member_path = f"{path}.{f.member}"
        if v is None:
            if f.omit_none:
                continue
            if not f.optional:
                raise TypeError(f"{member_path}: None, but the field's type does not admit None (write T | None)")
            out[f.member] = None
            continue
        out[f.member] = _write(v, f.type, member_path, ancestors)
    ancestors.discard(id(value))
    return out


def _write(value: object, ty: _Type, path: str, ancestors: set[int]) -> object:
    if isinstance(ty, _Scalar):
        return _write_scalar(value, ty, path)
    if isinstance(ty, _Enum):
        if ty.enum_cls is not None:
            if not isinstance(value, ty.enum_cls):
                raise TypeError(f"{path}: expected a member of {_label(ty.enum_cls)}, not {_kind_of(value)}")
            return value.value
        if not isinstance(value, str):
            raise TypeError(f"{path}: expected a str, not {_kind_of(value)}")
        return value
    if isinstance(ty, _Array):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise TypeError(f"{path}: expected a list, tuple or set, not {_kind_of(value)}")
        items: list[object] = []
        for i, item in enumerate(value):
            if item is None:
                raise TypeError(f"{path}[{i}]: array items are never null in the schema model")
            items.append(_write(item, ty.item, f"{path}[{i}]", ancestors))
        return items
    if isinstance(ty, _Object):
        return _write_object(value, ty.model, path, ancestors)
    if isinstance(ty, _Pydantic):
        if not isinstance(value, ty.cls):
            raise TypeError(f"{path}: expected an instance of {_label(ty.cls)}, not {_kind_of(value)}")
        return value.model_dump(mode="json", by_alias=True)  # type: ignore[attr-defined]
    if isinstance(ty, _Map):
        if not isinstance(value, Mapping):
            raise TypeError(f"{path}: expected a dict, not {_kind_of(value)}")
        out: dict[str, object] = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: a key is {_kind_of(key)}; JSON object keys are strings")
            if v is None and ty.value_optional:
                out[key] = None
            elif ty.value is None:
                out[key] = _plain_to_json(v, f"{path}.{key}", ancestors)
            else:
                out[key] = _write(v, ty.value, f"{path}.{key}", ancestors)
        return out
    if ty.cls is None:
        if not isinstance(value, Mapping):
            raise TypeError(f"{path}: expected a dict, not {_kind_of(value)}")
        return _plain_to_json(value, path, ancestors)
    if _is_pydantic_model(ty.cls):
        if not isinstance(value, ty.cls):
            raise TypeError(f"{path}: expected an instance of {_label(ty.cls)}, not {_kind_of(value)}")
        return value.model_dump(mode="json", by_alias=True)  # type: ignore[attr-defined]
    return _write_object(value, _resolve_or_raise(ty.cls), path, ancestors)


def _write_scalar(value: object, ty: _Scalar, path: str) -> object:
    codec = ty.codec
    if codec == "str":
        if not isinstance(value, str):
            raise TypeError(f"{path}: expected a str, not {_kind_of(value)}")
        return value
    if codec == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{path}: expected an int, not {_kind_of(value)}")
        if not _MIN_INTEGER <= value <= _MAX_INTEGER:
            raise ValueError(f"{path}: the integer is outside -2**63..=2**64-1, the integers the store holds")
        return int(value)
    if codec in ("float", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
            raise TypeError(f"{path}: expected a number, not {_kind_of(value)}")
        if not _finite(value if not isinstance(value, decimal.Decimal) else float(value)):
            raise ValueError(f"{path}: the number has no JSON form (infinite, NaN or beyond a double)")
        if isinstance(value, decimal.Decimal) and codec == "float":
            return float(value)
        return value if isinstance(value, (int, decimal.Decimal)) else float(value)
    if codec == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{path}: expected a bool, not {_kind_of(value)}")
        return value
    if codec == "datetime":
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{path}: expected a datetime, not {_kind_of(value)}")
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(
                f"{path}: a naive datetime has no offset; give it a tzinfo (the schema's pattern needs one)"
            )
        if offset.seconds % 60 or offset.microseconds:
            raise ValueError(f"{path}: the UTC offset has seconds, which RFC 3339 cannot write")
        return value.isoformat()
    if codec == "date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise TypeError(f"{path}: expected a date, not {_kind_of(value)}")
        return value.isoformat()
    if codec == "time":
        if not isinstance(value, dt.time):
            raise TypeError(f"{path}: expected a time, not {_kind_of(value)}")
        offset = value.utcoffset()
        if offset is not None and (offset.seconds % 60 or offset.microseconds):
            raise ValueError(f"{path}: the UTC offset has seconds, which the schema's pattern cannot hold")
        return value.isoformat()
    if codec == "uuid":
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"{path}: expected a uuid.UUID, not {_kind_of(value)}")
        return str(value)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{path}: expected bytes, not {_kind_of(value)}")
    if codec == "bytes_utf8":
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: the bytes are not UTF-8, as Pydantic writes bytes") from None
    return base64.b64encode(bytes(value)).decode("ascii")


def _plain_to_json(value: object, path: str, ancestors: set[int]) -> object:
    """An undeclared value (``dict[str, Any]``): JSON types only, so that it reads back the same."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        if not _finite(float(value)):
            raise ValueError(f"{path}: the number has no JSON form (infinite, NaN or beyond a double)")
        return value
    if isinstance(value, (list, tuple, Mapping)):
        if id(value) in ancestors:
            raise ValueError(f"{path}: the value contains itself")
        ancestors.add(id(value))
        out: object
        if isinstance(value, Mapping):
            converted: dict[str, object] = {}
            for key, v in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{path}: a key is {_kind_of(key)}; JSON object keys are strings")
                converted[key] = _plain_to_json(v, f"{path}.{key}", ancestors)
            out = converted
        else:
            out = [_plain_to_json(v, f"{path}[{i}]", ancestors) for i, v in enumerate(value)]
        ancestors.discard(id(value))
        return out
    raise TypeError(
        f"{path}: {_kind_of(value)} has no JSON form here (a dict[str, Any] holds JSON values: None, bool, int, "
        "float, str, list, dict)"
    )


# ---------------------------------------------------------------------------------------------
# Reading events back
# ---------------------------------------------------------------------------------------------


def hydrate(cls: type[T], data: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> T:
    """An instance of ``cls`` (a dataclass or a Pydantic model, an entity or not) from event
    data: its bytes (UTF-8 JSON), JSON text, or an already parsed object.

    Dataclasses are built through their constructor (``__post_init__`` runs) with the declared
    members: nested dataclasses, enums, datetimes... rebuilt; absent or null members take the
    field's default, or None for a ``T | None`` field; members no field declares are ignored.
    Data of the wrong type raises ``TypeError``, a missing member or a malformed value
    ``ValueError``, naming the member's path, never its value. Pydantic models are validated by
    ``model_validate_json`` (so that strict models read JSON as JSON).
    """
    if not isinstance(cls, type):
        raise TypeError(f"hydrate takes a class, not {_kind_of(cls)}")
    if _is_pydantic_model(cls):
        if isinstance(data, Mapping):
            text: str | bytes = _dumps(dict(data))
        elif isinstance(data, (bytes, bytearray, memoryview)):
            text = bytes(data)
        elif isinstance(data, str):
            text = data
        else:
            raise TypeError(f"{_label(cls)}: the event data is {_kind_of(data)}, not bytes, str or a dict")
        return typing.cast("T", cls.model_validate_json(text))  # type: ignore[attr-defined]
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"hydrate takes a dataclass or a Pydantic model, not {_label(cls)}")
    model = _resolve_or_raise(cls)
    decimals = _has_decimal(model)
    parsed: object
    if isinstance(data, Mapping):
        parsed = data
        decimals = False
    elif isinstance(data, (bytes, bytearray, memoryview, str)):
        try:
            text = bytes(data).decode("utf-8") if not isinstance(data, str) else data
            parsed = json.loads(text, parse_float=decimal.Decimal) if decimals else json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"{_label(cls)}: the event data is not JSON: {e}") from None
    else:
        raise TypeError(f"{_label(cls)}: the event data is {_kind_of(data)}, not bytes, str or a dict")
    if not isinstance(parsed, Mapping):
        raise TypeError(f"{_label(cls)}: the event data is {_json_kind(parsed)}, not a JSON object")
    return typing.cast("T", _read_object(parsed, model, _label(cls), decimals))


def _has_decimal(model: _ObjectModel) -> bool:
    if model.decimal is None:
        model.decimal = False  # Provisional, for recursion through references.
        model.decimal = any(_type_has_decimal(f.type, set()) for f in model.fields)
    return model.decimal


def _type_has_decimal(ty: _Type, seen: set[int]) -> bool:
    if isinstance(ty, _Scalar):
        return ty.codec == "decimal"
    if isinstance(ty, _Array):
        return _type_has_decimal(ty.item, seen)
    if isinstance(ty, _Map):
        return ty.value is not None and _type_has_decimal(ty.value, seen)
    if isinstance(ty, _Object):
        if id(ty.model) in seen:
            return False
        seen.add(id(ty.model))
        return any(_type_has_decimal(f.type, seen) for f in ty.model.fields)
    if isinstance(ty, _Ref) and ty.cls is not None and not _is_pydantic_model(ty.cls):
        return _has_decimal(_resolve_or_raise(ty.cls))
    return False


def _read_object(data: Mapping[str, Any], model: _ObjectModel, path: str, decimals: bool) -> object:
    kwargs: dict[str, object] = {}
    for f in model.fields:
        member_path = f"{path}.{f.member}"
        value = data.get(f.member)
        if value is not None:
            kwargs[f.attr] = _read(value, f.type, member_path, decimals)
        elif f.has_py_default:
            continue  # Absent or null: the field's own default, as the store's model reads both.
        elif f.optional:
            kwargs[f.attr] = None
        elif f.member in data:
            raise TypeError(f"{member_path}: null, but the field's type does not admit None")
        else:
            raise ValueError(f"{member_path}: the member is missing, and the field has no default")
    return model.cls(**kwargs)


def _read(value: object, ty: _Type, path: str, decimals: bool) -> object:
    if isinstance(ty, _Scalar):
        return _read_scalar(value, ty, path)
    if isinstance(ty, _Enum):
        if not isinstance(value, str):
            raise TypeError(f"{path}: expected a string, not {_json_kind(value)}")
        if value not in ty.variants:
            raise ValueError(f"{path}: the string is not one of the enum's variants")
        return ty.enum_cls(value) if ty.enum_cls is not None else value
    if isinstance(ty, _Array):
        if not isinstance(value, list):
            raise TypeError(f"{path}: expected an array, not {_json_kind(value)}")
        items: list[object] = []
        for i, item in enumerate(value):
            if item is None:
                raise TypeError(f"{path}[{i}]: array items are never null in the schema model")
            items.append(_read(item, ty.item, f"{path}[{i}]", decimals))
        return items if ty.container is list else ty.container(items)
    if not isinstance(value, Mapping):
        raise TypeError(f"{path}: expected an object, not {_json_kind(value)}")
    if isinstance(ty, _Object):
        return _read_object(value, ty.model, path, decimals)
    if isinstance(ty, _Pydantic):
        return ty.cls.model_validate_json(_dumps(value))  # type: ignore[attr-defined]
    if isinstance(ty, _Map):
        out: dict[str, object] = {}
        for key, v in value.items():
            if v is None and ty.value_optional:
                out[key] = None
            elif ty.value is None:
                out[key] = _plain(v) if decimals else v
            elif v is None:
                raise TypeError(f"{path}.{key}: null, but the values' type does not admit None")
            else:
                out[key] = _read(v, ty.value, f"{path}.{key}", decimals)
        return out
    if ty.cls is None:
        return _plain(value) if decimals else dict(value)
    if _is_pydantic_model(ty.cls):
        return ty.cls.model_validate_json(_dumps(value))  # type: ignore[attr-defined]
    return _read_object(value, _resolve_or_raise(ty.cls), path, decimals)


def _read_scalar(value: object, ty: _Scalar, path: str) -> object:
    codec = ty.codec
    if codec in ("int", "float", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
            raise TypeError(f"{path}: expected a number, not {_json_kind(value)}")
        if codec == "int":
            if not isinstance(value, int):
                raise TypeError(f"{path}: expected an integer, not a number with a fraction or an exponent")
            return value if ty.py is None else ty.py(value)
        if codec == "float":
            return float(value) if ty.py is None else ty.py(value)
        return value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value))
    if codec == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{path}: expected a boolean, not {_json_kind(value)}")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{path}: expected a string, not {_json_kind(value)}")
    if codec == "str":
        return value if ty.py is None else ty.py(value)
    try:
        if codec == "datetime":
            return _parse_datetime(value)
        if codec == "date":
            return _parse_date(value)
        if codec == "time":
            return _parse_time(value)
        if codec == "uuid":
            return uuid.UUID(value)
        if codec == "bytes_utf8":
            return value.encode("utf-8")
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError(f"{path}: the string is not {_describe(ty)} in the form the schema declares") from None


_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME_RE = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})"
_DATETIME_RE = re.compile(_DATE_RE.pattern + "T" + _TIME_RE)
_TIME_ONLY_RE = re.compile(_TIME_RE + "?")


def _parse_date(text: str) -> dt.date:
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise ValueError(text)
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


def _zone(offset: str | None) -> dt.tzinfo | None:
    if offset is None:
        return None
    if offset in ("Z", "+00:00", "-00:00"):
        return dt.timezone.utc
    sign = -1 if offset[0] == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))


def _micros(fraction: str | None) -> int:
    # Nanoseconds (what Go and Java write) are beyond a datetime: truncated to microseconds.
    return int((fraction or "0")[:6].ljust(6, "0"))


def _parse_datetime(text: str) -> dt.datetime:
    m = _DATETIME_RE.fullmatch(text)
    if m is None:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    return dt.datetime(year, month, day, hour, minute, second, _micros(m[7]), tzinfo=_zone(m[8]))


def _parse_time(text: str) -> dt.time:
    m = _TIME_ONLY_RE.fullmatch(text)
    if m is None:
        raise ValueError(text)
    return dt.time(int(m[1]), int(m[2]), int(m[3]), _micros(m[4]), tzinfo=_zone(m[5]))


def _plain(value: object) -> object:
    """A value parsed with Decimal floats (for a class holding Decimals), with plain floats again
    where no Decimal was declared."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _dumps(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError:
        pass  # A Decimal, which json cannot write as a number: the exact writer below.
    parts: list[str] = []
    _write_text(value, parts)
    return "".join(parts)


def _write_text(value: object, out: list[str]) -> None:
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError("a Decimal that is not finite has no JSON form")
        out.append(str(value))  # Always a JSON number for a finite Decimal: 1.50, 1E+2, -0.
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _write_text(v, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write_text(v, out)
        out.append("]")
    else:
        out.append(json.dumps(value, ensure_ascii=False, allow_nan=False))


def _pydantic_base() -> type | None:
    # Pydantic is optional and never imported here: a class can only be a model if the user
    # imported it already.
    module = sys.modules.get("pydantic")
    base = getattr(module, "BaseModel", None) if module is not None else None
    return base if isinstance(base, type) else None


def _is_pydantic_model(t: object) -> bool:
    base = _pydantic_base()
    return base is not None and isinstance(t, type) and issubclass(t, base)


def _from_pydantic(module: str) -> bool:
    return module.split(".", 1)[0] in ("pydantic", "pydantic_core")


def _is_pydantic_dataclass(t: object) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t) and "__pydantic_fields__" in t.__dict__


def _label(cls: type) -> str:
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", None) or repr(cls)
    # A class defined in a function is named by its own name, not by `f.<locals>.Name`.
    return str(name).rsplit("<locals>.", 1)[-1]


def _type_name(t: object) -> str:
    if isinstance(t, type) and not typing.get_args(t):
        return t.__name__
    return str(t).replace("typing.", "")


def _kind_of(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, type):
        return f"the class {_label(value)}"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return _kind_of(value)
