"""A small program written as a user of graveyard-db writes one, run by
scripts/test-python-package.sh against the installed wheel: an embedded store and, given a
node's address (``python app.py http://127.0.0.1:50051``), a GraveyardDB node, each with the
blocking and the asyncio client. It exits non-zero when anything is not as documented."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from dataclasses import dataclass
from typing import Annotated

import pydantic

import graveyard


@graveyard.entity("user")
@dataclass
class User:
    name: Annotated[str, graveyard.Field(min_length=1)]
    age: Annotated[int, graveyard.Field(min=18)]


@graveyard.entity("order")
class Order(pydantic.BaseModel):
    sku: str = pydantic.Field(min_length=3)
    qty: int = pydantic.Field(ge=1)


def with_blocking_client(db: graveyard.Client, run: str) -> None:
    db.upsert_schema(User)
    db.upsert_schema(Order)
    user_stream, order_stream = f"{run}-user-1", f"{run}-order-1"

    db.append(user_stream, User(name="Ada", age=36), expected_version="no_stream")
    try:
        db.append(user_stream, User(name="Bob", age=40), expected_version="no_stream")
    except graveyard.WrongExpectedVersionError as e:
        if (e.expected, e.actual) != ("no_stream", 0):
            raise AssertionError(f"the conflict says expected {e.expected}, actual {e.actual}") from e
    else:
        raise AssertionError("a second no_stream append succeeded")
    try:
        db.append(user_stream, User(name="Tim", age=12))
    except graveyard.SchemaViolationError as e:
        if [(v.path, v.rule) for v in e.violations] != [("age", "min")]:
            raise AssertionError(f"unexpected violations: {e.violations}") from e
    else:
        raise AssertionError("a user of 12 was accepted")
    db.append(order_stream, Order(sku="abc", qty=2))

    users = [event.decode(User) for event in db.read_stream(user_stream)]
    assert users == [User(name="Ada", age=36)], users
    assert db.read_stream_page(order_stream)[0].decode(Order) == Order(sku="abc", qty=2)

    mine = graveyard.Filter(stream_prefixes=[f"{run}-"])
    seen = []
    with db.subscribe_to_all(filter=mine) as subscription:
        for message in subscription:  # the history, CAUGHT_UP, then live events
            if message is graveyard.CAUGHT_UP:
                break
            seen.append(message.type)
    assert seen == ["user", "order"], seen
    print(f"{run}: blocking client ok")


async def with_async_client(db: graveyard.AsyncClient, run: str) -> None:
    await db.upsert_schema(User)
    user_stream = f"{run}-user-1"

    await db.append(user_stream, User(name="Ada", age=36), expected_version="no_stream")
    try:
        await db.append(user_stream, User(name="Bob", age=40), expected_version="no_stream")
    except graveyard.WrongExpectedVersionError as e:
        if (e.expected, e.actual) != ("no_stream", 0):
            raise AssertionError(f"the conflict says expected {e.expected}, actual {e.actual}") from e
    else:
        raise AssertionError("a second no_stream append succeeded")

    users = [event.decode(User) async for event in db.read_stream(user_stream)]
    assert users == [User(name="Ada", age=36)], users

    async with await db.subscribe_to_stream(user_stream) as subscription:
        first = await subscription.poll(10)
        assert isinstance(first, graveyard.RecordedEvent), first
        assert await subscription.poll(10) is graveyard.CAUGHT_UP
        await db.append(user_stream, User(name="Grace", age=45))
        live = await subscription.poll(10)
        assert isinstance(live, graveyard.RecordedEvent), live
        assert live.decode(User).name == "Grace"
    print(f"{run}: asyncio client ok")


async def async_main(path: str, node: str | None) -> None:
    async with await graveyard.open_async(path) as db:
        await with_async_client(db, "embedded-async")
    if node is not None:
        async with await graveyard.connect_async(node) as db:
            await with_async_client(db, f"node-async-{uuid.uuid4().hex[:8]}")


def main() -> None:
    node = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as folder:
        with graveyard.open(f"{folder}/blocking") as db:
            with_blocking_client(db, "embedded")
        if node is not None:
            with graveyard.connect(node) as db:
                with_blocking_client(db, f"node-{uuid.uuid4().hex[:8]}")
        asyncio.run(async_main(f"{folder}/async", node))
    print(f"graveyard-db {graveyard.native_version()}: the user program passed")


if __name__ == "__main__":
    main()
