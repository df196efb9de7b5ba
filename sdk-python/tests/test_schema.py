# Schemas from dataclasses and Pydantic models: the exact JSON of every type and rule (checked
# against the conformance definitions, the core's model test and the TypeScript SDK's text),
# both forms of one entity giving the same schema, every declaration error and unmappable
# constraint, round trips of instances, and the definitions and data checked by the core itself
# through the C ABI of a built library (skipped when there is none).
import ctypes
import dataclasses
import datetime as dt
import decimal
import enum
import json
import os
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NewType, Optional, Union

import annotated_types as at
import pytest
from helpers import release_path

import graveyard._schema
from graveyard._schema import (
    BASE64_PATTERN,
    DATE_PATTERN,
    DATETIME_PATTERN,
    TIME_PATTERN,
    UUID_PATTERN,
    Field,
    SchemaMappingError,
    _search_as_full_match,
    entity,
    entity_name_of,
    hydrate,
    is_entity,
    schema_json,
    schema_of,
    serialize_entity,
)

try:
    import pydantic

    HAVE_PYDANTIC = True
    # Typed loosely: its annotations are built at run time here.
    create_model: Any = pydantic.create_model
except ImportError:  # pragma: no cover - pydantic is optional
    HAVE_PYDANTIC = False

needs_pydantic = pytest.mark.skipif(not HAVE_PYDANTIC, reason="pydantic is not installed")

REPO = Path(__file__).resolve().parents[2]
MODULE_FILE = str(graveyard._schema.__file__)
UTC = dt.timezone.utc


def conformance_schemas(file: str, name: str) -> list[dict[str, Any]]:
    suite = json.loads((REPO / "conformance" / file).read_text("utf-8"))
    return [s["schema"] for s in suite["steps"] if s["op"] == "upsert_schema" and s["schema"].get("name") == name]


def field_json(annotation: object, default: object = dataclasses.MISSING) -> dict[str, Any]:
    """The schema field of a one-field dataclass entity."""
    spec: tuple[str, object] | tuple[str, object, object] = (
        ("f", annotation) if default is dataclasses.MISSING else ("f", annotation, dataclasses.field(default=default))
    )
    cls = entity("e")(dataclasses.make_dataclass("E", [spec]))
    fields: list[dict[str, Any]] = schema_of(cls)["fields"]
    return fields[0]


def mapping_problems(annotation: object, default: object = dataclasses.MISSING) -> tuple[str, ...]:
    with pytest.raises(SchemaMappingError) as info:
        field_json(annotation, default)
    return info.value.problems


# ---------------------------------------------------------------------------------------------
# The core's model test, the TypeScript SDK's text, the conformance definitions
# ---------------------------------------------------------------------------------------------


@entity(unknown_fields="reject")
@dataclasses.dataclass
class OrderAddress:
    # Left out when None (absent, not null): the core's definition has no nullable here.
    zip: Annotated[str | None, Field(nullable=False)] = None


@entity("Order", description="an order", unknown_fields="reject", compatibility="full")
@dataclasses.dataclass
class Order:
    id: Annotated[str, Field(pattern="[A-Z]{3}-[0-9]+", description="the id")]
    qty: Annotated[int, Field(min=1, max=99, default=1)] = 1
    price: float | None = None
    paid: bool = False
    currency: Annotated[Literal["EUR", "USD"] | None, Field(nullable=False)] = None
    tags: Annotated[list[str], Field(min_length=0, max_length=5)] = dataclasses.field(default_factory=list)
    address: Annotated[OrderAddress | None, Field(nullable=False)] = None
    customer: Annotated[dict[str, Any] | None, Field(ref="Customer", version=2, nullable=False)] = None
    parent: Annotated[Optional["Order"], Field(nullable=False)] = None


CORE_ORDER = {
    "name": "Order",
    "description": "an order",
    "unknown_fields": "reject",
    "compatibility": "full",
    "fields": [
        {"name": "id", "type": "string", "required": True, "pattern": "[A-Z]{3}-[0-9]+", "description": "the id"},
        {"name": "qty", "type": "integer", "min": 1.0, "max": 99.0, "default": 1},
        {"name": "price", "type": "number", "nullable": True},
        {"name": "paid", "type": "boolean"},
        {"name": "currency", "type": {"enum": ["EUR", "USD"]}},
        {"name": "tags", "type": {"array": "string"}, "min_length": 0, "max_length": 5},
        {
            "name": "address",
            "type": {"object": {"fields": [{"name": "zip", "type": "string"}], "unknown_fields": "reject"}},
        },
        {"name": "customer", "type": {"ref": {"name": "Customer", "version": 2}}},
        {"name": "parent", "type": {"ref": {"name": "Order"}}},
    ],
}

# What sdk-ts/test/schema.test.ts expects of schemaJson for the same entity: the SDKs write one text.
TS_ORDER_TEXT = (
    '{"name":"Order","description":"an order","fields":['
    '{"name":"id","type":"string","required":true,"pattern":"[A-Z]{3}-[0-9]+","description":"the id"},'
    '{"name":"qty","type":"integer","min":1,"max":99,"default":1},'
    '{"name":"price","type":"number","nullable":true},'
    '{"name":"paid","type":"boolean"},'
    '{"name":"currency","type":{"enum":["EUR","USD"]}},'
    '{"name":"tags","type":{"array":"string"},"min_length":0,"max_length":5},'
    '{"name":"address","type":{"object":{"fields":[{"name":"zip","type":"string"}],"unknown_fields":"reject"}}},'
    '{"name":"customer","type":{"ref":{"name":"Customer","version":2}}},'
    '{"name":"parent","type":{"ref":{"name":"Order"}}}'
    '],"unknown_fields":"reject","compatibility":"full"}'
)


def test_the_core_model_tests_definition() -> None:
    assert schema_of(Order) == CORE_ORDER


def test_schema_json_is_the_typescript_sdks_text() -> None:
    assert schema_json(Order) == TS_ORDER_TEXT
    assert json.loads(TS_ORDER_TEXT) == CORE_ORDER


def test_schema_of_gives_a_fresh_copy() -> None:
    first = schema_of(Order)
    first["fields"].clear()
    assert schema_of(Order) == CORE_ORDER


@dataclasses.dataclass
class Zip:
    zip: Annotated[str, Field(min_length=5)]


@entity("order")
@dataclasses.dataclass
class OrderV1:
    id: Annotated[str, Field(pattern="ord-[0-9]+")]
    qty: Annotated[int, Field(min=1, max=100)] = 1
    price: Annotated[float, Field(min=0.01)] = 1.0
    note: Annotated[str | None, Field(max_length=5)] = None
    gift: bool = False
    status: Annotated[Literal["open", "paid"], Field(default="open")] = "open"
    tags: Annotated[list[str], Field(min_length=1, max_length=2)] = dataclasses.field(default_factory=lambda: ["a"])
    address: Zip = dataclasses.field(default_factory=lambda: Zip("00000"))


@entity(unknown_fields="reject")
@dataclasses.dataclass
class StrictInner:
    b: int = 0


@entity("strict", unknown_fields="reject")
@dataclasses.dataclass
class Strict:
    a: int = 0
    inner: StrictInner = dataclasses.field(default_factory=StrictInner)
    loose: dict[str, Any] = dataclasses.field(default_factory=dict)


@entity("order", compatibility="none")
@dataclasses.dataclass
class OrderV2:
    id: Annotated[str, Field(pattern="ord-[0-9]+")]


@entity("order")
@dataclasses.dataclass
class OrderV3:
    id: Annotated[str, Field(pattern="ord-[0-9]+")]
    qty: Annotated[int, Field(default=1)] = 1


@entity("user", description="a user of the shop")
@dataclasses.dataclass
class ShopUser:
    name: Annotated[str, Field(min_length=1)]
    age: Annotated[int | None, Field(min=0, nullable=False)] = None
    email: Annotated[str | None, Field(nullable=False)] = None


@entity("address")
@dataclasses.dataclass
class ShopAddress:
    zip: Annotated[str | None, Field(nullable=False)] = None


def test_the_conformance_definitions() -> None:
    assert schema_of(OrderV1) == conformance_schemas("schema_validation.json", "order")[0]
    assert schema_of(OrderV2) == conformance_schemas("schema_validation.json", "order")[1]
    assert schema_of(OrderV3) == conformance_schemas("schema_validation.json", "order")[2]
    assert schema_of(Strict) == conformance_schemas("schema_validation.json", "strict")[0]
    assert schema_of(ShopUser) == conformance_schemas("schemas.json", "user")[2]
    assert schema_of(ShopAddress) == conformance_schemas("schemas.json", "address")[0]


# ---------------------------------------------------------------------------------------------
# Every type and rule
# ---------------------------------------------------------------------------------------------


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Plain(enum.Enum):
    A = "a"
    B = "b"
    ALIAS = "a"


UserId = NewType("UserId", str)


@dataclasses.dataclass
class Point:
    x: int
    y: Annotated[int, Field(max=10)] = 0


@entity("place")
@dataclasses.dataclass
class Place:
    name: str


TYPES: list[tuple[str, object, dict[str, Any]]] = [
    ("str", str, {"type": "string"}),
    ("int", int, {"type": "integer"}),
    ("float", float, {"type": "number"}),
    ("bool", bool, {"type": "boolean"}),
    ("Decimal", decimal.Decimal, {"type": "number"}),
    ("NewType", UserId, {"type": "string"}),
    ("Literal", Literal["a", "b"], {"type": {"enum": ["a", "b"]}}),
    ("str enum", Color, {"type": {"enum": ["red", "blue"]}}),
    ("enum with an alias", Plain, {"type": {"enum": ["a", "b"]}}),
    ("choices", Annotated[str, Field(choices=["x", "y"])], {"type": {"enum": ["x", "y"]}}),
    ("datetime", dt.datetime, {"type": "string", "pattern": DATETIME_PATTERN}),
    ("date", dt.date, {"type": "string", "pattern": DATE_PATTERN}),
    ("time", dt.time, {"type": "string", "pattern": TIME_PATTERN}),
    ("UUID", uuid.UUID, {"type": "string", "pattern": UUID_PATTERN}),
    ("bytes", bytes, {"type": "string", "pattern": BASE64_PATTERN}),
    ("list", list[int], {"type": {"array": "integer"}}),
    ("Sequence", Sequence[str], {"type": {"array": "string"}}),
    ("set", set[str], {"type": {"array": "string"}}),
    ("frozenset", frozenset[str], {"type": {"array": "string"}}),
    ("tuple[T, ...]", tuple[int, ...], {"type": {"array": "integer"}}),
    ("tuple[T, T]", tuple[float, float], {"type": {"array": "number"}, "min_length": 2, "max_length": 2}),
    ("list of lists", list[list[bool]], {"type": {"array": {"array": "boolean"}}}),
    ("list of Literal", list[Literal["x", "y"]], {"type": {"array": {"enum": ["x", "y"]}}}),
    ("list of choices", list[Annotated[str, Field(choices=["x"])]], {"type": {"array": {"enum": ["x"]}}}),
    ("list of datetimes", list[dt.datetime], {"type": {"array": "string"}}),
    ("dict", dict[str, int], {"type": {"object": {"fields": []}}}),
    ("Mapping of Any", Mapping[str, Any], {"type": {"object": {"fields": []}}}),
    (
        "dataclass",
        Point,
        {
            "type": {
                "object": {
                    "fields": [
                        {"name": "x", "type": "integer", "required": True},
                        {"name": "y", "type": "integer", "max": 10},
                    ]
                }
            }
        },
    ),
    (
        "list of dataclasses",
        list[Place],
        {"type": {"array": {"object": {"fields": [{"name": "name", "type": "string", "required": True}]}}}},
    ),
    ("ref to an entity", Annotated[Place, Field(ref=True)], {"type": {"ref": {"name": "place"}}}),
    (
        "ref by name",
        Annotated[dict[str, Any], Field(ref="Customer", version=2)],
        {"type": {"ref": {"name": "Customer", "version": 2}}},
    ),
    ("list of refs", list[Annotated[Place, Field(ref=True)]], {"type": {"array": {"ref": {"name": "place"}}}}),
]


@pytest.mark.parametrize(("annotation", "expected"), [(a, e) for _, a, e in TYPES], ids=[n for n, _, _ in TYPES])
def test_types(annotation: object, expected: dict[str, Any]) -> None:
    full = {
        "name": "f",
        "type": expected["type"],
        "required": True,
        **{k: v for k, v in expected.items() if k != "type"},
    }
    got = field_json(annotation)
    assert got == full
    assert list(got) == list(full)


RULES: list[tuple[str, object, object, dict[str, Any]]] = [
    ("Optional", Optional[int], None, {"type": "integer", "nullable": True}),  # noqa: UP045 - typing's spelling
    ("T | None", int | None, None, {"type": "integer", "nullable": True}),
    ("T | None without default", int | None, dataclasses.MISSING, {"type": "integer", "nullable": True}),
    ("Union with None", Union[None, str], None, {"type": "string", "nullable": True}),
    ("None | T", None | str, None, {"type": "string", "nullable": True}),
    ("Literal with None", Literal["a", None], None, {"type": {"enum": ["a"]}, "nullable": True}),
    ("nullable=False", Annotated[int | None, Field(nullable=False)], None, {"type": "integer"}),
    ("a default", int, 3, {"type": "integer"}),
    ("required=True", Annotated[int, Field(required=True)], 3, {"type": "integer", "required": True}),
    ("min, max", Annotated[int, Field(min=-5, max=5)], 0, {"type": "integer", "min": -5, "max": 5}),
    ("float bounds", Annotated[float, Field(min=0.5, max=1e300)], 1.0, {"type": "number", "min": 0.5, "max": 1e300}),
    ("Ge, Le", Annotated[float, at.Ge(1), at.Le(2)], 1.0, {"type": "number", "min": 1, "max": 2}),
    ("Gt, Lt of an int", Annotated[int, at.Gt(0), at.Lt(10)], 1, {"type": "integer", "min": 1, "max": 9}),
    ("Interval of an int", Annotated[int, at.Interval(gt=0.5, lt=9.5)], 1, {"type": "integer", "min": 1, "max": 9}),
    ("Gt with min", Annotated[int, Field(min=5), at.Gt(0)], 5, {"type": "integer", "min": 5}),
    (
        "lengths",
        Annotated[str, Field(min_length=1, max_length=3)],
        "a",
        {"type": "string", "min_length": 1, "max_length": 3},
    ),
    (
        "MinLen, MaxLen",
        Annotated[str, at.MinLen(2), at.MaxLen(4)],
        "ab",
        {"type": "string", "min_length": 2, "max_length": 4},
    ),
    (
        "Len of a list",
        Annotated[list[int], at.Len(1, 3)],
        dataclasses.MISSING,
        {"type": {"array": "integer"}, "required": True, "min_length": 1, "max_length": 3},
    ),
    ("pattern", Annotated[str, Field(pattern="[a-z]+")], "a", {"type": "string", "pattern": "[a-z]+"}),
    ("description", Annotated[str, Field(description="the f")], "a", {"type": "string", "description": "the f"}),
    ("name", Annotated[str, Field(name="e-mail")], "a", {"name": "e-mail", "type": "string"}),
    (
        "default of a Literal",
        Annotated[Literal["a", "b"], Field(default="b")],
        "b",
        {"type": {"enum": ["a", "b"]}, "default": "b"},
    ),
    (
        "default of an enum",
        Annotated[Color, Field(default=Color.BLUE)],
        Color.BLUE,
        {"type": {"enum": ["red", "blue"]}, "default": "blue"},
    ),
    (
        "default of a datetime",
        Annotated[dt.datetime, Field(default=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))],
        dataclasses.MISSING,
        {"type": "string", "required": True, "pattern": DATETIME_PATTERN, "default": "2024-01-02T03:04:05+00:00"},
    ),
    (
        "default of an object",
        Annotated[Point, Field(default=Point(1, 2))],
        dataclasses.MISSING,
        {
            "type": {
                "object": {
                    "fields": [
                        {"name": "x", "type": "integer", "required": True},
                        {"name": "y", "type": "integer", "max": 10},
                    ]
                }
            },
            "required": True,
            "default": {"x": 1, "y": 2},
        },
    ),
    (
        "default of a list",
        Annotated[list[int], Field(default=(1, 2))],
        dataclasses.MISSING,
        {"type": {"array": "integer"}, "required": True, "default": [1, 2]},
    ),
    (
        "default of a Decimal",
        Annotated[decimal.Decimal, Field(default=decimal.Decimal("1.50"))],
        dataclasses.MISSING,
        {"type": "number", "required": True, "default": 1.5},
    ),
    (
        "metadata of other tools",
        Annotated[int, "a note", object()],
        0,
        {"type": "integer"},
    ),
]


@pytest.mark.parametrize(
    ("annotation", "default", "expected"), [(a, d, e) for _, a, d, e in RULES], ids=[n for n, _, _, _ in RULES]
)
def test_rules(annotation: object, default: object, expected: dict[str, Any]) -> None:
    assert field_json(annotation, default) == {"name": "f", **expected}


def test_field_keys_come_in_the_cores_order() -> None:
    f = field_json(Annotated[list[str] | None, Field(min_length=1, max_length=2, default=["a"], description="d")], None)
    assert list(f) == ["name", "type", "nullable", "min_length", "max_length", "default", "description"]
    f = field_json(Annotated[int, Field(required=True, min=1, max=2, default=1, description="d")], 1)
    assert list(f) == ["name", "type", "required", "min", "max", "default", "description"]


def test_a_decimal_default_keeps_its_digits_in_the_text() -> None:
    cls = entity("d")(
        dataclasses.make_dataclass("D", [("f", Annotated[decimal.Decimal, Field(default=decimal.Decimal("0.10"))])])
    )
    assert '"default":0.10' in schema_json(cls)


def test_inherited_fields_come_first() -> None:
    @dataclasses.dataclass
    class Base:
        a: int

    @entity("child")
    @dataclasses.dataclass
    class Child(Base):
        b: str = ""

    assert [f["name"] for f in schema_of(Child)["fields"]] == ["a", "b"]


def test_init_false_fields_are_derived_state() -> None:
    @entity("derived")
    @dataclasses.dataclass
    class Derived:
        a: int
        twice: int = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            self.twice = 2 * self.a

    assert [f["name"] for f in schema_of(Derived)["fields"]] == ["a"]
    event_type, data = serialize_entity(Derived(4))
    assert (event_type, data) == ("derived", b'{"a":4}')
    assert hydrate(Derived, data).twice == 8


def test_the_entity_within_itself_is_a_reference_to_its_own_schema() -> None:
    @entity("node")
    @dataclasses.dataclass
    class Node:
        value: int
        children: list["Node"] = dataclasses.field(default_factory=list)
        next: Optional["Node"] = None

    assert schema_of(Node)["fields"][1:] == [
        {"name": "children", "type": {"array": {"ref": {"name": "node"}}}},
        {"name": "next", "type": {"ref": {"name": "node"}}, "nullable": True},
    ]
    tree = Node(1, [Node(2), Node(3, next=Node(4))])
    assert hydrate(Node, serialize_entity(tree)[1]) == tree


@entity("forward")
@dataclasses.dataclass
class Forward:
    later: "Later"


@dataclasses.dataclass
class Later:
    x: int


def test_hints_naming_a_class_defined_further_down_are_mapped_on_first_use() -> None:
    assert schema_of(Forward)["fields"] == [
        {
            "name": "later",
            "type": {"object": {"fields": [{"name": "x", "type": "integer", "required": True}]}},
            "required": True,
        }
    ]


def test_hints_that_never_resolve_are_a_mapping_error_on_use() -> None:
    @entity("lost")
    @dataclasses.dataclass
    class Lost:
        x: "Missing"  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(
        SchemaMappingError, match=r"Lost: a type hint cannot be resolved \(name 'Missing' is not defined\)"
    ):
        schema_of(Lost)


def test_compatibility_and_descriptions() -> None:
    for mode in ("none", "forward", "full"):
        cls = entity("c", compatibility=mode, description="x")(dataclasses.make_dataclass("C", []))
        assert schema_of(cls) == {"name": "c", "description": "x", "fields": [], "compatibility": mode}
    cls = entity("c", compatibility="backward", unknown_fields="allow")(dataclasses.make_dataclass("C", []))
    assert schema_json(cls) == '{"name":"c","fields":[]}'


# ---------------------------------------------------------------------------------------------
# Declaration errors
# ---------------------------------------------------------------------------------------------

AnyField: Any = Field


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"min": 5, "max": 1}, ValueError, "min 5 is above max 1"),
        ({"min_length": 3, "max_length": 2}, ValueError, "min_length 3 is above max_length 2"),
        ({"min_length": -1}, ValueError, "must be at least 0"),
        ({"min_length": 1.5}, TypeError, "min_length must be an int"),
        ({"min": "1"}, TypeError, "min must be a number, not a str"),
        ({"min": True}, TypeError, "min must be a number, not a bool"),
        ({"max": float("inf")}, ValueError, "max must be a finite number"),
        ({"max": 10**400}, ValueError, "max must be a finite number"),
        ({"required": 1}, TypeError, "required must be a bool"),
        ({"pattern": 1}, TypeError, "pattern must be a str"),
        ({"name": ""}, ValueError, "name is empty"),
        ({"default": None}, ValueError, "a None default changes nothing"),
        ({"choices": "ab"}, TypeError, "choices must be an iterable of str"),
        ({"choices": []}, ValueError, "choices is empty"),
        ({"choices": ["a", "a"]}, ValueError, 'choice "a" is listed more than once'),
        ({"choices": [1]}, TypeError, "choices are strings"),
        ({"ref": ""}, TypeError, "ref must be True"),
        ({"version": 2}, TypeError, "version pins a referred schema: give ref too"),
        ({"ref": True, "version": 0}, ValueError, "version 0 is outside 1..=4294967295"),
        ({"ge": 1}, TypeError, r"unknown option 'ge' \(write min \(inclusive\)\)"),
        ({"gt": 1}, TypeError, "the schema model's bounds are inclusive"),
        ({"minLength": 1}, TypeError, r"unknown option 'minLength' \(write min_length"),
        ({"regex": "a"}, TypeError, r"\(write pattern\)"),
        ({"format": "date-time"}, TypeError, "the schema model has no formats"),
        ({"nope": 1}, TypeError, "unknown option 'nope'; the options are name, required, nullable"),
    ],
)
def test_field_refuses_bad_options(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        AnyField(**options)


def test_field_is_immutable_and_shows_its_options() -> None:
    f = Field(min=1, ref="x")
    with pytest.raises(AttributeError):
        f.min = 2
    assert repr(f) == "Field(min=1, ref='x')"


@pytest.mark.parametrize(
    ("annotation", "default", "problem"),
    [
        (Annotated[str, Field(min=1)], "", "E.f: min applies to numbers and integers, not to a string"),
        (Annotated[int, Field(pattern="1")], 0, "E.f: pattern applies to strings, not to an integer"),
        (Annotated[int, Field(min_length=1)], 0, "E.f: min_length applies to strings and arrays, not to an integer"),
        (Annotated[bool, Field(max=1)], False, "E.f: max applies to numbers and integers, not to a boolean"),
        (
            Annotated[Color, Field(max_length=1)],
            Color.RED,
            "E.f: max_length applies to strings and arrays, not to an enum",
        ),
        (
            Annotated[dt.datetime, Field(max_length=40)],
            dataclasses.MISSING,
            "max_length does not apply to a datetime, whose text has a form its type fixes",
        ),
        (Annotated[uuid.UUID, Field(pattern="a")], dataclasses.MISSING, "pattern does not apply to a UUID"),
        (Annotated[int, Field(choices=["a"])], 0, "E.f: choices apply to str fields, not to int"),
        (
            Annotated[int, Field(ref=True)],
            0,
            "E.f: ref applies to a dataclass, a Pydantic model or dict[str, Any], not to int",
        ),
        (Annotated[Point, Field(ref=True)], dataclasses.MISSING, "ref=True refers to Point, which has no entity name"),
        (
            Annotated[dict[str, Any], Field(ref=True)],
            dataclasses.MISSING,
            "ref=True needs a class to take the entity name from",
        ),
        (
            Annotated[int, Field(nullable=True)],
            0,
            "E.f: nullable on a field whose type does not admit None: write T | None",
        ),
        (Annotated[int | None, Field(required=True)], None, "E.f: required contradicts the type's None"),
        (
            Annotated[int, Field(required=False)],
            dataclasses.MISSING,
            "E.f: required=False, but the field has no default",
        ),
        (
            Annotated[int, Field(min=3), at.Ge(4)],
            5,
            "E.f: min is given twice with different values (graveyard.Field and Ge(ge=4))",
        ),
        (Annotated[float, at.Gt(0)], 1.0, "E.f: an exclusive bound (gt) of a non-integer has no counterpart"),
        (Annotated[int, at.Ge(5), at.Le(1)], 5, "E.f: min 5 is above max 1"),
        (Annotated[int, at.MultipleOf(2)], 0, "E.f: MultipleOf(multiple_of=2) has no counterpart in the schema model"),
        (Annotated[str, at.Predicate(str.islower)], "", "has no counterpart in the schema model"),
        (Annotated[tuple[int, int], Field(max_length=3)], (0, 0), "E.f: max_length 3 contradicts the tuple's 2 items"),
        (Annotated[int, Field(min=1, default=0)], 1, "E.f: default is below min 1"),
        (Annotated[str, Field(max_length=1, default="ab")], "", "E.f: default has length 2, above max_length 1"),
        (Annotated[Literal["a"], Field(default="b")], "a", "E.f: default is not one of the enum's variants"),
        (Annotated[int, Field(default="1")], 1, "E.f: default: expected an int, not a str"),
        (Annotated[Color, Field(default="red")], Color.RED, "E.f: default: expected a member of Color, not a str"),
        (Any, None, "E.f: the schema model has no type for any value; use dict[str, Any]"),
        (object, None, "E.f: the schema model has no type for any value"),
        (Union[int, str], 0, "E.f: a union (Union[int, str]) has no counterpart in the schema model"),
        (int | str, 0, "E.f: a union (int | str) has no counterpart in the schema model"),
        (Optional[Union[int, str]], None, "has no counterpart in the schema model (but T | None)"),  # noqa: UP045
        (int | str | None, None, "E.f: a union (int | str) has no counterpart in the schema model (but T | None)"),
        (list, None, "E.f: list needs its item types (list[...])"),
        (tuple[int, str], None, "E.f: a tuple of different item types has no counterpart"),
        (dict[int, str], None, "E.f: a dict maps onto an object, whose keys are strings"),
        (list[int | None], None, "E.f[]: array items are never null in the schema model (drop None)"),
        (
            list[Annotated[int, Field(min=0)]],
            None,
            "E.f[]: array items take no rules in the schema model, only a type (min belong",
        ),
        (
            list[Annotated[str, Field(description="d")]],
            None,
            "E.f[]: array items take no rules in the schema model, only a type (description belong",
        ),
        (dict[str, Annotated[int, Field(max=1)]], None, "E.f.*: map values take no rules"),
        (list[Any], None, "E.f[]: the schema model has no type for any value"),
        (dt.timedelta, None, "E.f: timedelta has no counterpart in the schema model"),
        (enum.IntEnum("N", "A B"), None, "E.f: N's values are not all strings"),
        (Literal[1, 2], None, "E.f: Literal values must be strings"),
        (complex, None, "E.f: complex has no counterpart in the schema model (not a dataclass or Pydantic model)"),
    ],
)
def test_mapping_problems(annotation: object, default: object, problem: str) -> None:
    problems = mapping_problems(annotation, default)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_every_problem_of_a_class_is_reported_at_decoration() -> None:
    with pytest.raises(SchemaMappingError) as info:

        @entity("broken")
        @dataclasses.dataclass
        class Broken:
            a: Annotated[str, Field(min=1)]
            b: Any
            c: Annotated[int, Field(name="a")]
            d: list[int | None]

    assert info.value.problems == (
        "Broken.a: min applies to numbers and integers, not to a string",
        "Broken.b: the schema model has no type for any value; use dict[str, Any] for an object with any members, "
        "or a concrete type",
        "Broken.d[]: array items are never null in the schema model (drop None)",
        "Broken: the fields a and c both write the member 'a'",
    )
    assert str(info.value).startswith("Broken cannot be mapped onto the schema model (4 problems):\n  - Broken.a: ")
    assert isinstance(info.value, TypeError)


def test_problems_of_nested_classes_name_their_path() -> None:
    @dataclasses.dataclass
    class Inner:
        z: Annotated[int, Field(min_length=1)]

    with pytest.raises(SchemaMappingError) as info:

        @entity("outer")
        @dataclasses.dataclass
        class Outer:
            items: list[Inner]

    assert info.value.problems == ("Outer.items[].z: min_length applies to strings and arrays, not to an integer",)


def test_a_cycle_not_through_the_entity_is_refused() -> None:
    @dataclasses.dataclass
    class Tree:
        kids: list["Tree"]

    with pytest.raises(SchemaMappingError) as info:

        @entity("forest")
        @dataclasses.dataclass
        class Forest:
            tree: Tree

    (problem,) = info.value.problems
    assert problem.startswith("Forest.tree.kids[]: Tree contains itself (Tree -> Tree)")


def test_a_module_named_like_pydantic_is_not_pydantic() -> None:
    inner = dataclasses.make_dataclass("Inner", [("a", int)])
    inner.__module__ = "pydantic_models"
    assert field_json(inner)["type"] == {"object": {"fields": [{"name": "a", "type": "integer", "required": True}]}}


def test_an_initvar_without_a_default_is_refused() -> None:
    with pytest.raises(SchemaMappingError, match=r"Init\.seed: an InitVar without a default cannot be read back"):

        @entity("init")
        @dataclasses.dataclass
        class Init:
            seed: dataclasses.InitVar[int]


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("", ValueError, "the entity name is empty"),
        ("$user", ValueError, "starts with '\\$', which is reserved for the system"),
        ("a\0b", ValueError, "contains a NUL character"),
        ("s" * 249, ValueError, "is 249 bytes of UTF-8, longer than 248"),
        ("é" * 125, ValueError, "is 250 bytes of UTF-8"),
        (1, TypeError, "the entity name must be a str, not an int"),
    ],
)
def test_entity_refuses_bad_names(name: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        entity(name)


def test_entity_name_limits() -> None:
    cls = entity("s" * 248)(dataclasses.make_dataclass("Long", []))
    assert schema_of(cls)["name"] == "s" * 248


def test_entity_refuses_misuse() -> None:
    any_entity: Any = entity
    with pytest.raises(TypeError, match=r'Bare: write @graveyard.entity\("name"\)'):

        @any_entity
        @dataclasses.dataclass
        class Bare:
            pass

    with pytest.raises(TypeError, match="unknown option 'extra' \\(write unknown_fields\\)"):
        any_entity("x", extra="forbid")
    with pytest.raises(ValueError, match='unknown_fields must be "allow" or "reject"'):
        any_entity("x", unknown_fields="maybe")
    with pytest.raises(ValueError, match="compatibility must be"):
        any_entity("x", compatibility="backwards")
    with pytest.raises(TypeError, match="an entity without a name has none"):
        entity(description="x")
    with pytest.raises(TypeError, match=r"apply @graveyard\.entity\(\.\.\.\) above @dataclass"):

        @dataclasses.dataclass
        @entity("below")
        class Below:
            pass

    with pytest.raises(TypeError, match=r"Twice: graveyard\.entity is applied more than once"):

        @entity("a")
        @entity("b")
        @dataclasses.dataclass
        class Twice:
            pass

    with pytest.raises(TypeError, match="decorates classes"):
        any_entity("x")(lambda: None)


def test_a_refused_class_is_not_left_registered() -> None:
    @dataclasses.dataclass
    class Bad:
        a: Any

    with pytest.raises(SchemaMappingError):
        entity("bad")(Bad)
    assert entity_name_of(Bad) is None


# ---------------------------------------------------------------------------------------------
# Entities by name
# ---------------------------------------------------------------------------------------------


def test_schema_of_refuses_what_is_not_an_entity() -> None:
    @dataclasses.dataclass
    class NotAnEntity:
        a: int

    with pytest.raises(
        TypeError,
        match=r"NotAnEntity is not decorated with @graveyard.entity: schema_of takes a class decorated with "
        r'@graveyard.entity\("name"\)',
    ):
        schema_of(NotAnEntity)
    with pytest.raises(TypeError, match="OrderAddress has no entity name"):
        schema_of(OrderAddress)
    with pytest.raises(TypeError, match="schema_of takes an entity class, not an Order"):
        schema_of(Order("ABC-1"))  # type: ignore[arg-type]


def test_entity_names() -> None:
    @dataclasses.dataclass
    class Other:
        pass

    @dataclasses.dataclass
    class Sub(Order):
        pass

    assert entity_name_of(Order) == "Order"
    assert entity_name_of(Order("ABC-1")) == "Order"
    assert entity_name_of(Other()) is None
    assert entity_name_of(OrderAddress) is None
    assert entity_name_of(3) is None
    with pytest.raises(TypeError, match=r"Sub extends the entity Order \('Order'\) without @graveyard.entity"):
        entity_name_of(Sub("ABC-1"))
    with pytest.raises(TypeError, match="extends the entity"):
        schema_of(Sub)
    assert is_entity(Order)
    assert is_entity(Order("ABC-1"))
    assert not is_entity(Other)
    assert not is_entity(OrderAddress)
    assert not is_entity(Sub)
    assert not is_entity("x")


# ---------------------------------------------------------------------------------------------
# Writing and reading instances
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Line:
    sku: str
    qty: int = 1
    color: Color | None = None


@entity("everything")
@dataclasses.dataclass
class Everything:
    text: str
    number: float
    count: int
    flag: bool
    amount: decimal.Decimal
    kind: Literal["a", "b"]
    color: Color
    at: dt.datetime
    day: dt.date
    clock: dt.time
    id: uuid.UUID
    blob: bytes
    lines: list[Line]
    tags: set[str]
    pair: tuple[int, int]
    frozen: frozenset[str]
    seq: tuple[str, ...]
    counts: dict[str, int]
    extra: dict[str, Any]
    maybe: Line | None = None
    absent: Annotated[str | None, Field(nullable=False)] = None
    named: Annotated[str, Field(name="the-name")] = "n"
    place: Annotated[Place | None, Field(ref=True)] = None
    anything: Annotated[dict[str, Any] | None, Field(ref="thing")] = None


def everything() -> Everything:
    return Everything(
        text='héllo \u2028 "q"',
        number=1.5,
        count=-(2**63),
        flag=True,
        amount=decimal.Decimal("12345678901234567890.000000001"),
        kind="b",
        color=Color.BLUE,
        at=dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
        day=dt.date(2024, 2, 29),
        clock=dt.time(7, 8, 9, 10),
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        blob=b"\x00\xff\xfe",
        lines=[Line("x"), Line("y", 2, Color.RED)],
        tags={"t"},
        pair=(1, 2),
        frozen=frozenset({"f"}),
        seq=("s", "t"),
        counts={"a": 1},
        extra={"n": None, "list": [1, 2.5, "x", {"deep": True}]},
        maybe=Line("m"),
        place=Place("p"),
        anything={"k": [1]},
    )


def test_serialize_writes_json_of_the_declared_fields() -> None:
    event_type, data = serialize_entity(everything())
    assert event_type == "everything"
    assert json.loads(data, parse_float=decimal.Decimal) == {
        "text": 'héllo \u2028 "q"',
        "number": decimal.Decimal("1.5"),
        "count": -(2**63),
        "flag": True,
        "amount": decimal.Decimal("12345678901234567890.000000001"),
        "kind": "b",
        "color": "blue",
        "at": "2024-02-29T23:59:58.123456-05:30",
        "day": "2024-02-29",
        "clock": "07:08:09.000010",
        "id": "12345678-1234-5678-1234-567812345678",
        "blob": "AP/+",
        "lines": [{"sku": "x", "qty": 1, "color": None}, {"sku": "y", "qty": 2, "color": "red"}],
        "tags": ["t"],
        "pair": [1, 2],
        "frozen": ["f"],
        "seq": ["s", "t"],
        "counts": {"a": 1},
        "extra": {"n": None, "list": [1, decimal.Decimal("2.5"), "x", {"deep": True}]},
        "maybe": {"sku": "m", "qty": 1, "color": None},
        "the-name": "n",
        "place": {"name": "p"},
        "anything": {"k": [1]},
    }
    assert b'"amount":12345678901234567890.000000001' in data
    assert "héllo".encode() in data  # UTF-8, not \u escapes


def test_round_trip() -> None:
    value = everything()
    back = hydrate(Everything, serialize_entity(value)[1])
    assert back == value
    assert isinstance(back.tags, set)
    assert isinstance(back.pair, tuple)
    assert isinstance(back.frozen, frozenset)
    assert isinstance(back.extra["list"][1], float)  # Decimals only where declared
    assert hydrate(Everything, serialize_entity(value)[1].decode()) == value
    # A dict keeps the digits of Decimals only if it was parsed with them.
    assert hydrate(Everything, json.loads(serialize_entity(value)[1], parse_float=decimal.Decimal)) == value
    assert hydrate(Everything, json.loads(serialize_entity(value)[1])).amount == decimal.Decimal(
        "1.2345678901234567E+19"
    )


def test_hydrate_reads_what_other_sdks_write() -> None:
    data = json.loads(serialize_entity(everything())[1])
    data.update(
        at="2024-02-29T23:59:58.123456789Z",  # Go and Java write nanoseconds and Z
        clock="07:08:09+01:00",
        id="12345678-1234-5678-1234-567812345678".upper(),
        unknown={"ignored": True},
    )
    del data["maybe"], data["lines"][0]["color"], data["the-name"]
    back = hydrate(Everything, data)
    assert back.at == dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    assert back.clock == dt.time(7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert back.id == everything().id
    assert back.maybe is None
    assert back.lines[0].color is None
    assert back.named == "n"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"count": "1"}, TypeError, "Everything.count: expected a number, not a string"),
        ({"count": 1.0}, TypeError, "Everything.count: expected an integer, not a number with a fraction"),
        ({"flag": 1}, TypeError, "Everything.flag: expected a boolean, not a number"),
        ({"color": "green"}, ValueError, "Everything.color: the string is not one of the enum's variants"),
        ({"kind": "c"}, ValueError, "Everything.kind: the string is not one of the enum's variants"),
        ({"at": "2024-02-29T23:59:58"}, ValueError, "Everything.at: the string is not a datetime in the form"),
        ({"day": "2024-02-30"}, ValueError, "Everything.day: the string is not a date"),
        ({"blob": "!!"}, ValueError, "Everything.blob: the string is not bytes"),
        ({"id": "nope"}, ValueError, "Everything.id: the string is not a UUID"),
        ({"lines": [None]}, TypeError, r"Everything.lines\[0\]: array items are never null"),
        ({"lines": [{"qty": 1}]}, ValueError, r"Everything.lines\[0\].sku: the member is missing"),
        ({"lines": {}}, TypeError, "Everything.lines: expected an array, not an object"),
        ({"counts": {"a": "1"}}, TypeError, "Everything.counts.a: expected a number, not a string"),
        ({"text": None}, TypeError, "Everything.text: null, but the field's type does not admit None"),
        ({"maybe": []}, TypeError, "Everything.maybe: expected an object, not an array"),
    ],
)
def test_hydrate_names_the_path_never_the_value(change: dict[str, Any], error: type[Exception], message: str) -> None:
    data = json.loads(serialize_entity(everything())[1])
    data.update(change)
    with pytest.raises(error, match=message) as info:
        hydrate(Everything, data)
    for value in change.values():
        if isinstance(value, str) and len(value) > 1:
            assert value not in str(info.value)


def test_hydrate_refuses_data_that_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="Everything: the event data is not JSON"):
        hydrate(Everything, b"{")
    with pytest.raises(ValueError, match="not JSON"):
        hydrate(Everything, b"\xff")
    with pytest.raises(TypeError, match="Everything: the event data is an array, not a JSON object"):
        hydrate(Everything, "[]")
    with pytest.raises(ValueError, match=r"Everything\.text: the member is missing, and the field has no default"):
        hydrate(Everything, "{}")
    with pytest.raises(TypeError, match="hydrate takes a dataclass or a Pydantic model, not int"):
        hydrate(int, "{}")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"count": True}, TypeError, "Everything.count: expected an int, not a bool"),
        ({"count": 2**64}, ValueError, "Everything.count: the integer is outside -2\\*\\*63..=2\\*\\*64-1"),
        ({"number": float("nan")}, ValueError, "Everything.number: the number has no JSON form"),
        ({"number": "1"}, TypeError, "Everything.number: expected a number, not a str"),
        ({"text": None}, TypeError, "Everything.text: None, but the field's type does not admit None"),
        ({"at": dt.datetime(2024, 1, 1)}, ValueError, "Everything.at: a naive datetime has no offset"),
        ({"day": dt.datetime(2024, 1, 1, tzinfo=UTC)}, TypeError, "Everything.day: expected a date, not a datetime"),
        ({"color": "red"}, TypeError, "Everything.color: expected a member of Color, not a str"),
        ({"lines": [None]}, TypeError, r"Everything.lines\[0\]: array items are never null"),
        ({"lines": [Place("x")]}, TypeError, r"Everything.lines\[0\]: expected an instance of Line, not a Place"),
        ({"tags": "abc"}, TypeError, "Everything.tags: expected a list, tuple or set, not a str"),
        ({"counts": {1: 1}}, TypeError, "Everything.counts: a key is an int; JSON object keys are strings"),
        ({"extra": {"x": object()}}, TypeError, "Everything.extra.x: an object has no JSON form here"),
        ({"blob": "x"}, TypeError, "Everything.blob: expected bytes, not a str"),
    ],
)
def test_serialize_checks_types(change: dict[str, Any], error: type[Exception], message: str) -> None:
    value = dataclasses.replace(everything(), **change)
    with pytest.raises(error, match=message):
        serialize_entity(value)


def test_serialize_refuses_an_object_that_contains_itself() -> None:
    @entity("loop")
    @dataclasses.dataclass
    class Loop:
        next: Optional["Loop"] = None

    loop = Loop()
    loop.next = loop
    with pytest.raises(ValueError, match=r"Loop\.next: the object contains itself"):
        serialize_entity(loop)


def test_serialize_refuses_what_is_not_an_entity_instance() -> None:
    with pytest.raises(TypeError, match="serialize_entity takes an instance of a class decorated"):
        serialize_entity(Line("x"))
    with pytest.raises(TypeError, match="not the class Order"):
        serialize_entity(Order)


def test_absent_and_null_members_take_the_python_default() -> None:
    assert hydrate(OrderV1, '{"id": "ord-1", "qty": null, "tags": null}') == OrderV1("ord-1")


# ---------------------------------------------------------------------------------------------
# Pydantic
# ---------------------------------------------------------------------------------------------


@needs_pydantic
def test_pydantic_and_dataclass_forms_give_the_same_schema() -> None:
    class PZip(pydantic.BaseModel):
        zip: str = pydantic.Field(min_length=5)

    @entity("order")
    class POrderV1(pydantic.BaseModel):
        id: str = pydantic.Field(pattern="^ord-[0-9]+$")
        qty: int = pydantic.Field(default=1, ge=1, le=100)
        price: float = pydantic.Field(default=1.0, ge=0.01)
        note: str | None = pydantic.Field(default=None, max_length=5)
        gift: bool = False
        status: Annotated[Literal["open", "paid"], Field(default="open")] = "open"
        tags: list[str] = pydantic.Field(default_factory=lambda: ["a"], min_length=1, max_length=2)
        address: PZip = pydantic.Field(default_factory=lambda: PZip(zip="00000"))

    assert schema_of(POrderV1) == schema_of(OrderV1) == conformance_schemas("schema_validation.json", "order")[0]
    assert schema_json(POrderV1) == schema_json(OrderV1)

    @entity(unknown_fields="reject")
    class PInner(pydantic.BaseModel):
        b: int = 0

    class PLoose(pydantic.BaseModel):
        pass

    @entity("strict")
    class PStrict(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        a: int = 0
        inner: PInner = pydantic.Field(default_factory=PInner)
        loose: PLoose = pydantic.Field(default_factory=PLoose)

    assert schema_of(PStrict) == schema_of(Strict)


@needs_pydantic
def test_pydantic_rich_entity_matches_its_dataclass() -> None:
    @dataclasses.dataclass
    class DLine:
        sku: Annotated[str, Field(min_length=1)]
        qty: Annotated[int, at.Gt(0)] = 1

    @entity("rich", description="d", compatibility="full")
    @dataclasses.dataclass
    class DRich:
        id: uuid.UUID
        at: dt.datetime
        day: dt.date
        color: Color
        lines: Annotated[list[DLine], Field(max_length=10)]
        tags: Annotated[list[Literal["x", "y"]], Field(min_length=1)]
        counts: dict[str, int]
        meta: dict[str, Any]
        score: Annotated[float, Field(min=0, max=1, description="how good")] = 0.5
        note: str | None = None
        email: Annotated[str, Field(pattern="[^@]+@[^@]+")] = "a@b"
        parent: Optional["DRich"] = None
        place: Annotated[Place | None, Field(ref=True)] = None

    class PLine(pydantic.BaseModel):
        sku: str = pydantic.Field(min_length=1)
        qty: pydantic.PositiveInt = 1

    @entity("rich", description="d", compatibility="full")
    class PRich(pydantic.BaseModel):
        id: uuid.UUID
        at: pydantic.AwareDatetime
        day: dt.date
        color: Color
        lines: list[PLine] = pydantic.Field(max_length=10)
        tags: Annotated[list[Literal["x", "y"]], at.MinLen(1)]
        counts: dict[str, int]
        meta: dict[str, Any]
        score: float = pydantic.Field(default=0.5, ge=0, le=1, description="how good")
        note: str | None = None
        email: str = pydantic.Field(default="a@b", pattern=r"\A[^@]+@[^@]+\z")
        parent: Optional["PRich"] = None
        place: Annotated[Place | None, Field(ref=True)] = None

    assert schema_of(PRich) == schema_of(DRich)
    assert schema_of(DRich)["fields"][4]["type"]["array"]["object"]["fields"][1] == {
        "name": "qty",
        "type": "integer",
        "min": 1,
    }


@needs_pydantic
@pytest.mark.parametrize(
    ("pattern", "full"),
    [
        ("^ord-[0-9]+$", "ord-[0-9]+"),
        (r"\A[a-z]+\z", "[a-z]+"),
        ("ord", "(?s:.*)ord(?s:.*)"),
        ("^ord", "ord(?s:.*)"),
        ("ord$", "(?s:.*)ord"),
        ("^a|b$", "(?s:.*)(?:^a|b$)(?s:.*)"),
        ("^(a|b)$", "(a|b)"),
        ("^[|]$", "[|]"),
        (r"^a\|b$", r"a\|b"),
        (r"^a\$", r"a\$(?s:.*)"),
        (r"^a\\$", r"a\\"),
        ("^[]|]x$", "[]|]x"),
        ("", "(?s:.*)"),
    ],
)
def test_pydantic_patterns_are_searched_so_they_are_rewritten_to_match_the_whole_string(
    pattern: str, full: str
) -> None:
    assert _search_as_full_match(pattern) == full
    model = create_model("P", f=(str, pydantic.Field(pattern=pattern)))
    assert field_json_of(entity("p")(model))["pattern"] == full


def field_json_of(cls: type) -> dict[str, Any]:
    fields: list[dict[str, Any]] = schema_of(cls)["fields"]
    return fields[0]


@needs_pydantic
def test_pydantic_specifics() -> None:
    @entity("p")
    class P(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(populate_by_name=True)
        renamed: int = pydantic.Field(alias="re-named")
        by_config: int = pydantic.Field(
            default=0, serialization_alias="by-config", validation_alias=pydantic.AliasChoices("by-config", "bc")
        )
        hidden: int = pydantic.Field(default=0, exclude=True)
        bounded: Annotated[int, pydantic.Field(gt=0, lt=10)] = 1
        text: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=3, strict=True)] = "a"
        items: Annotated[list[int], pydantic.Field(min_length=1)] = [1]
        finite: pydantic.FiniteFloat = 0.0
        strict: pydantic.StrictInt = 0
        raw: bytes = b""
        stored_default: Annotated[int, Field(default=7)] = 7

    assert schema_of(P)["fields"] == [
        {"name": "re-named", "type": "integer", "required": True},
        {"name": "by-config", "type": "integer"},
        {"name": "bounded", "type": "integer", "min": 1, "max": 9},
        {"name": "text", "type": "string", "min_length": 1, "max_length": 3},
        {"name": "items", "type": {"array": "integer"}, "min_length": 1},
        {"name": "finite", "type": "number"},
        {"name": "strict", "type": "integer"},
        {"name": "raw", "type": "string"},
        {"name": "stored_default", "type": "integer", "default": 7},
    ]
    value = P.model_validate({"re-named": 1, "raw": b"\xc3\xa9"})
    event_type, data = serialize_entity(value)
    assert event_type == "p"
    assert json.loads(data)["re-named"] == 1
    assert json.loads(data)["by-config"] == 0
    assert "hidden" not in json.loads(data)
    assert hydrate(P, data) == value


@needs_pydantic
def test_every_unmappable_pydantic_constraint_is_reported_at_once() -> None:
    class Inner(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(str_to_lower=True)
        x: int = pydantic.Field(default=0, multiple_of=2)

    with pytest.raises(SchemaMappingError) as info:

        @entity("unmappable")
        class Unmappable(pydantic.BaseModel):
            a: float = pydantic.Field(gt=0)
            b: int = pydantic.Field(multiple_of=5)
            c: Annotated[int, pydantic.AfterValidator(lambda v: v)]
            d: Annotated[str, pydantic.StringConstraints(max_length=3, to_lower=True)]
            e: decimal.Decimal
            f: int | None
            g: Union[int, str]
            h: Any
            i: dt.timedelta
            j: pydantic.NaiveDatetime
            k: pydantic.UUID4
            m: Annotated[str, at.Predicate(str.isupper)]
            n: pydantic.SecretStr
            o: int = pydantic.Field(default=0, serialization_alias="oh")
            p: Inner
            q: list[Annotated[int, pydantic.Field(gt=0)]]

            @pydantic.field_validator("a")
            @classmethod
            def check_a(cls, v: float) -> float:
                return v

            @pydantic.model_validator(mode="after")
            def check(self) -> "Unmappable":
                return self

            @pydantic.field_serializer("b")
            def write_b(self, v: int) -> int:
                return v

            @pydantic.computed_field  # type: ignore[prop-decorator]
            @property
            def total(self) -> int:
                return 1

    problems = info.value.problems
    expected = [
        "Unmappable.check_a: a custom validator has no counterpart in the schema model",
        "Unmappable.check: a custom validator has no counterpart in the schema model",
        "Unmappable.write_b: a custom serializer has no counterpart in the schema model",
        "Unmappable.total: a computed field (written, never read back) has no counterpart in the schema model",
        "Unmappable.a: an exclusive bound (gt) of a non-integer has no counterpart",
        "Unmappable.b: MultipleOf(multiple_of=5) has no counterpart in the schema model",
        "Unmappable.c: a custom validator has no counterpart in the schema model",
        "Unmappable.d: Pydantic's to_lower=True has no counterpart in the schema model",
        "Unmappable.e: Pydantic writes Decimal as a JSON string",
        "Unmappable.f: Pydantic requires the member, but it may be null",
        "Unmappable.g: a union (Union[int, str]) has no counterpart in the schema model",
        "Unmappable.h: the schema model has no type for any value",
        "Unmappable.i: timedelta has no counterpart in the schema model",
        "Unmappable.j: Pydantic's NaiveDatetime has no counterpart in the schema model",
        "Unmappable.k: Pydantic's UuidVersion has no counterpart in the schema model",
        "Unmappable.m: Predicate(",
        "Unmappable.n: Pydantic's SecretStr has no counterpart in the schema model",
        "Unmappable.o: the model writes the member 'oh' but reads another name",
        "Unmappable.p: model_config str_to_lower transforms strings",
        "Unmappable.p.x: MultipleOf(multiple_of=2) has no counterpart in the schema model",
        "Unmappable.q[]: array items take no rules in the schema model, only a type (gt belong",
    ]
    assert len(problems) == len(expected), problems
    for want, got in zip(expected, problems, strict=True):
        assert got.startswith(want), (want, got)


@needs_pydantic
@pytest.mark.parametrize(
    ("config", "annotation", "problem"),
    [
        (
            {"regex_engine": "python-re"},
            Annotated[str, pydantic.Field(pattern="a")] if HAVE_PYDANTIC else str,
            "the pattern is a Python regex",
        ),
        ({"ser_json_bytes": "base64", "val_json_bytes": "base64"}, bytes, "Pydantic writes these bytes as base64 text"),
        ({"str_max_length": 3}, str, "model_config str_max_length applies to every string"),
    ],
)
def test_pydantic_configuration_that_cannot_be_mapped(config: dict[str, Any], annotation: object, problem: str) -> None:
    model = create_model("C", __config__=config, f=(annotation, ...))  # A ConfigDict is a dict.
    with pytest.raises(SchemaMappingError) as info:
        entity("c")(model)
    assert len(info.value.problems) == 1
    assert problem in info.value.problems[0]


@needs_pydantic
def test_pydantic_extra_and_unknown_fields() -> None:
    forbid = pydantic.ConfigDict(extra="forbid")
    assert schema_of(entity("a")(create_model("A", __config__=forbid)))["unknown_fields"] == "reject"
    assert "unknown_fields" not in schema_of(entity("b")(create_model("B")))
    assert schema_of(entity("c", unknown_fields="reject")(create_model("C")))["unknown_fields"] == "reject"
    with pytest.raises(SchemaMappingError, match="the model forbids extra members: it could not read events"):
        entity("d", unknown_fields="allow")(create_model("D", __config__=forbid))


@needs_pydantic
def test_pydantic_rules_given_twice() -> None:
    with pytest.raises(SchemaMappingError, match="min is given twice with different values"):
        entity("t")(create_model("T", f=(Annotated[int, Field(min=2)], pydantic.Field(ge=1))))
    same = entity("s")(create_model("S", f=(Annotated[int, Field(min=1)], pydantic.Field(ge=1))))
    assert field_json_of(same) == {"name": "f", "type": "integer", "required": True, "min": 1}
    with pytest.raises(SchemaMappingError, match=r"graveyard\.Field\(name=\.\.\.\) in a Pydantic model"):
        entity("n")(create_model("N", f=(Annotated[int, Field(name="g")], 0)))
    with pytest.raises(SchemaMappingError, match="nullable=False, but Pydantic writes None as null"):
        entity("n")(create_model("N", f=(Annotated[int | None, Field(nullable=False)], None)))


@needs_pydantic
def test_pydantic_round_trips_and_mixed_nesting() -> None:
    class PPoint(pydantic.BaseModel):
        x: int
        at: dt.datetime

    @entity("mixed")
    @dataclasses.dataclass
    class Mixed:
        point: PPoint
        points: list[PPoint]
        amount: decimal.Decimal = decimal.Decimal("0.1")

    assert schema_of(Mixed)["fields"][0] == {
        "name": "point",
        "type": {
            "object": {
                "fields": [
                    {"name": "x", "type": "integer", "required": True},
                    {"name": "at", "type": "string", "required": True, "pattern": DATETIME_PATTERN},
                ]
            }
        },
        "required": True,
    }
    when = dt.datetime(2024, 1, 1, tzinfo=UTC)
    value = Mixed(PPoint(x=1, at=when), [PPoint(x=2, at=when)])
    _, data = serialize_entity(value)
    assert b'"at":"2024-01-01T00:00:00Z"' in data
    assert hydrate(Mixed, data) == value

    @entity("pnode")
    class PNode(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(strict=True)
        value: int
        at: dt.datetime
        next: Optional["PNode"] = None

    assert schema_of(PNode)["fields"][2] == {"name": "next", "type": {"ref": {"name": "pnode"}}, "nullable": True}
    node = PNode(value=1, at=when, next=PNode(value=2, at=when))
    event_type, data = serialize_entity(node)
    assert event_type == "pnode"
    assert hydrate(PNode, data) == node
    # Strict models read JSON as JSON (a datetime from its text), also when given a parsed dict.
    assert hydrate(PNode, json.loads(data)) == node
    assert hydrate(PNode, data.decode()) == node
    with pytest.raises(pydantic.ValidationError):
        hydrate(PNode, b'{"value": "1", "at": "2024-01-01T00:00:00Z"}')


def test_the_module_imports_and_works_without_pydantic() -> None:
    code = (
        "import sys, importlib.util; sys.modules['pydantic'] = None\n"
        "import dataclasses\n"
        f"spec = importlib.util.spec_from_file_location('gy_schema', {MODULE_FILE!r})\n"
        "module = sys.modules['gy_schema'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "entity, schema_json = module.entity, module.schema_json\n"
        "@entity('x')\n"
        "@dataclasses.dataclass\n"
        "class X:\n"
        "    a: int\n"
        'assert schema_json(X) == \'{"name":"x","fields":[{"name":"a","type":"integer","required":true}]}\'\n'
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr


# ---------------------------------------------------------------------------------------------
# The core's own checks, through the C ABI of a built library
# ---------------------------------------------------------------------------------------------

# The workspace's release build, or GRAVEYARD_C_LIB.
LIBRARY = Path(os.environ.get("GRAVEYARD_C_LIB", str(release_path("libgraveyard_c.so"))))
SCHEMA_VIOLATION = 3


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int32), ("message", ctypes.c_void_p), ("details", ctypes.c_void_p)]


class _Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t)]


@dataclasses.dataclass
class StoredEvent:
    type: str
    data: bytes
    schema_version: int


class CoreStore:
    """An embedded store opened through libgraveyard_c (docs/boundary.md for the layouts)."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.lib = lib
        self.handle = ctypes.c_uint64()
        raw = path.encode()
        err = _Error()
        rc = lib.gy_open(raw, len(raw), 1, 0, 0, 0, 0, None, 0, ctypes.byref(self.handle), ctypes.byref(err))
        assert rc == 0, self.check(rc, err)

    def check(self, rc: int, err: _Error) -> tuple[int, str, Any]:
        if rc == 0:
            return 0, "", None
        message = ctypes.string_at(err.message).decode() if err.message else ""
        details = json.loads(ctypes.string_at(err.details)) if err.details else None
        self.lib.gy_error_free(ctypes.byref(err))
        return rc, message, details

    def upsert(self, definition: str) -> tuple[int, str, Any]:
        raw = definition.encode()
        out, err = _Buf(), _Error()
        rc = self.lib.gy_upsert_schema(self.handle, raw, len(raw), 0, ctypes.byref(out), ctypes.byref(err))
        if rc == 0:
            result = json.loads(ctypes.string_at(out.data, out.len))
            self.lib.gy_buf_free(ctypes.byref(out))
            return 0, "", result
        return self.check(rc, err)

    def append(self, stream: str, event_type: str, data: bytes) -> tuple[int, str, Any]:
        def text(b: bytes) -> bytes:
            return struct.pack("<I", len(b)) + b

        packed = (
            struct.pack("<IB", 1, 0) + text(event_type.encode()) + text(b"application/json") + text(data) + text(b"")
        )
        raw = stream.encode()
        out, err = (ctypes.c_uint64 * 4)(), _Error()
        rc = self.lib.gy_append(
            self.handle, raw, len(raw), 0, 0, packed, len(packed), 0, ctypes.byref(out), ctypes.byref(err)
        )
        return self.check(rc, err)

    def read(self, stream: str) -> list[StoredEvent]:
        raw = stream.encode()
        out, err = _Buf(), _Error()
        rc = self.lib.gy_read_stream(self.handle, raw, len(raw), 0, -1, -1, 0, ctypes.byref(out), ctypes.byref(err))
        assert rc == 0, self.check(rc, err)
        page = ctypes.string_at(out.data, out.len)
        self.lib.gy_buf_free(ctypes.byref(out))
        events: list[StoredEvent] = []
        at = 4

        def take(size: int) -> bytes:
            nonlocal at
            at += size
            return page[at - size : at]

        def chunk() -> bytes:
            return take(struct.unpack("<I", take(4))[0])

        for _ in range(struct.unpack("<I", page[:4])[0]):
            chunk()  # stream
            take(8 + 8 + 8 + 16)  # revision, position, timestamp, id
            event_type, _, data, _ = chunk().decode(), chunk(), chunk(), chunk()
            take(1)  # flags
            events.append(StoredEvent(event_type, data, struct.unpack("<I", take(4))[0]))
        return events

    def close(self) -> None:
        self.lib.gy_store_close(self.handle)


@pytest.fixture
def core() -> Iterator[CoreStore]:
    if not LIBRARY.exists():
        pytest.skip(f"no built C library at {LIBRARY} (cargo build --release -p graveyard-c)")
    lib = ctypes.CDLL(str(LIBRARY))
    c = ctypes
    # Declared so that sizes and handles cross as 64-bit values (docs/boundary.md, graveyard.h).
    signatures: dict[str, list[Any]] = {
        "gy_open": [
            c.c_char_p,
            c.c_size_t,
            c.c_int32,
            c.c_uint64,
            c.c_uint64,
            c.c_uint32,
            c.c_uint32,
            c.c_void_p,
            c.c_size_t,
            c.POINTER(c.c_uint64),
            c.POINTER(_Error),
        ],
        "gy_upsert_schema": [c.c_uint64, c.c_char_p, c.c_size_t, c.c_uint64, c.POINTER(_Buf), c.POINTER(_Error)],
        "gy_append": [
            c.c_uint64,
            c.c_char_p,
            c.c_size_t,
            c.c_int32,
            c.c_uint64,
            c.c_char_p,
            c.c_size_t,
            c.c_uint64,
            c.POINTER(c.c_uint64 * 4),
            c.POINTER(_Error),
        ],
        "gy_read_stream": [
            c.c_uint64,
            c.c_char_p,
            c.c_size_t,
            c.c_int32,
            c.c_int64,
            c.c_int64,
            c.c_uint64,
            c.POINTER(_Buf),
            c.POINTER(_Error),
        ],
    }
    for name, argtypes in signatures.items():
        getattr(lib, name).argtypes = argtypes
        getattr(lib, name).restype = c.c_int32
    lib.gy_error_free.argtypes = [c.POINTER(_Error)]
    lib.gy_buf_free.argtypes = [c.POINTER(_Buf)]
    lib.gy_store_close.argtypes = [c.c_uint64]
    lib.gy_abi_version.restype = c.c_uint32
    if lib.gy_abi_version() != 1:
        pytest.fail(f"the C library at {LIBRARY} has ABI version {lib.gy_abi_version()}, these tests know 1")
    with tempfile.TemporaryDirectory() as path:
        store = CoreStore(lib, path)
        try:
            yield store
        finally:
            store.close()


def test_the_core_accepts_the_definitions(core: CoreStore) -> None:
    assert core.upsert('{"name": "thing", "fields": []}')[0] == 0
    for cls in (Place, OrderV1, Strict, ShopUser, ShopAddress, Everything):
        rc, message, result = core.upsert(schema_json(cls))
        assert rc == 0, (cls, message)
        assert result["changed"] is True
    assert core.upsert('{"name": "Customer", "fields": []}')[0] == 0
    assert core.upsert('{"name": "Customer", "fields": [{"name": "a", "type": "string"}]}')[0] == 0
    assert core.upsert(schema_json(Order))[0] == 0
    # Field types of every kind, one field each (the mapping table).
    for i, (_, annotation, _) in enumerate(TYPES):
        one = entity(f"type-{i}")(dataclasses.make_dataclass("E", [("f", annotation)]))
        rc, message, _ = core.upsert(schema_json(one))
        assert rc == 0, (annotation, message)
    for i, (_, annotation, default, _) in enumerate(RULES):
        spec = (
            ("f", annotation)
            if default is dataclasses.MISSING
            else ("f", annotation, dataclasses.field(default=default))
        )
        one = entity(f"rule-{i}")(dataclasses.make_dataclass("E", [spec]))
        rc, message, _ = core.upsert(schema_json(one))
        assert rc == 0, (annotation, message)


def test_the_core_validates_what_serialize_writes(core: CoreStore) -> None:
    assert core.upsert(schema_json(Place))[0] == 0
    assert core.upsert('{"name": "thing", "fields": []}')[0] == 0
    assert core.upsert(schema_json(Everything))[0] == 0
    value = everything()
    event_type, data = serialize_entity(value)
    rc, message, _ = core.append("e-1", event_type, data)
    assert rc == 0, message
    (stored,) = core.read("e-1")
    assert stored.schema_version == 1
    assert stored.data == data
    assert hydrate(Everything, stored.data) == value
    # The widest offsets Python has fit the pattern.
    for hours in (23, -23):
        far = dataclasses.replace(
            value, at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=hours, minutes=59 * hours // 23)))
        )
        assert core.append("e-2", *serialize_entity(far))[0] == 0
    # Broken rules come back as violations naming the member.
    data = json.loads(serialize_entity(value)[1])
    for change, rule in ((("kind", "c"), "enum"), (("at", "2024-01-01T00:00:00"), "pattern"), (("count", 1.5), "type")):
        data_bad = {**data, change[0]: change[1]}
        rc, _, details = core.append("e-3", "everything", json.dumps(data_bad).encode())
        assert rc == SCHEMA_VIOLATION, change
        assert details["violations"][0]["path"] == change[0]
        assert details["violations"][0]["rule"] == rule


def test_the_core_fills_defaults_that_hydrate_then_reads(core: CoreStore) -> None:
    @entity("filled")
    @dataclasses.dataclass
    class Filled:
        status: Annotated[Literal["open", "paid"] | None, Field(default="open", nullable=False)] = None
        when: Annotated[dt.date | None, Field(default=dt.date(2024, 1, 1), nullable=False)] = None

    assert core.upsert(schema_json(Filled))[0] == 0
    event_type, data = serialize_entity(Filled())
    assert data == b"{}"
    assert core.append("f-1", event_type, data)[0] == 0
    (stored,) = core.read("f-1")
    assert hydrate(Filled, stored.data) == Filled("open", dt.date(2024, 1, 1))


def test_the_core_reads_rewritten_pydantic_patterns(core: CoreStore) -> None:
    if not HAVE_PYDANTIC:
        pytest.skip("pydantic is not installed")
    for i, pattern in enumerate(("ord-[0-9]+", "^ord-[0-9]+$", "^a|b$", r"^a\$", "[]|]x$", "")):
        model = entity(f"p-{i}")(create_model(f"P{i}", f=(str, pydantic.Field(pattern=pattern))))
        assert core.upsert(schema_json(model))[0] == 0
        # The store now matches exactly what Pydantic accepts.
        for text in ("ord-1", "x ord-12 y", "a", "xb", "a$", "a$z", "]x", "zz|x", "line\nord-1\n"):
            accepted = core.append(f"s-{i}", f"p-{i}", json.dumps({"f": text}).encode())[0] == 0
            try:
                model.model_validate({"f": text})
                valid = True
            except pydantic.ValidationError:
                valid = False
            assert accepted == valid, (pattern, text)


@needs_pydantic
def test_the_core_takes_pydantic_events(core: CoreStore) -> None:
    class PLine(pydantic.BaseModel):
        sku: str = pydantic.Field(min_length=1)
        qty: pydantic.PositiveInt = 1

    @entity("porder")
    class POrder(pydantic.BaseModel):
        id: uuid.UUID
        at: pydantic.AwareDatetime
        lines: list[PLine] = pydantic.Field(max_length=2)
        color: Color = Color.RED
        note: str | None = None

    assert core.upsert(schema_json(POrder))[0] == 0
    value = POrder(id=uuid.uuid4(), at=dt.datetime.now(UTC), lines=[PLine(sku="a")])
    assert core.append("p-1", *serialize_entity(value))[0] == 0
    assert hydrate(POrder, core.read("p-1")[0].data) == value
    too_many = value.model_copy(update={"lines": [PLine(sku="a")] * 3})
    rc, _, details = core.append("p-2", *serialize_entity(too_many))
    assert rc == SCHEMA_VIOLATION
    assert details["violations"][0]["rule"] == "max_length"
