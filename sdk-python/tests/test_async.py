"""The AsyncClient (graveyard.open_async, graveyard.connect_async): the core operations as
coroutines, ``async for`` over reads and subscriptions, the event loop running while the store
works, cancelling a task that waits on a poll (nothing lost), groups, ``async with``.

pytest has no asyncio plugin here: each test runs its coroutine with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import os
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from helpers import Node, adelivery_of, aevent_of, anext_of, ev

import graveyard
from graveyard import (
    CAUGHT_UP,
    ENDED,
    TIMEOUT,
    After,
    AsyncClient,
    EventData,
    Filter,
    GroupSettings,
    RecordedEvent,
    StreamMetadata,
    StreamTarget,
    _client,
    _native,
)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


async def open_temp(path: str) -> AsyncClient:
    return await graveyard.open_async(path, durability="none")


def test_the_core_operations_as_coroutines(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            assert db.embedded is True
            r = await db.append("order-1", [ev("Placed", 0), ev("Paid", 1)], expected_version="no_stream")
            assert (r.first_revision, r.last_revision, r.first_position, r.last_position) == (0, 1, 0, 1)
            await db.append("order-1", EventData("Note", "text", metadata={"by": "me"}), expected_version=1)
            await db.append("user-1", EventData("Bin", b"\x00\xff"))
            events = await db.read_stream("order-1").to_list()
            assert [(e.revision, e.type) for e in events] == [(0, "Placed"), (1, "Paid"), (2, "Note")]
            assert events[2].text() == "text"
            assert events[2].metadata_json() == {"by": "me"}
            assert [e.revision async for e in db.read_stream("order-1", direction="backwards", max_count=2)] == [2, 1]
            sizes = [len(p) async for p in db.read_all(page_size=2).pages()]
            assert sizes == [2, 2]
            assert [e.position async for e in db.read_all(filter=Filter(stream_prefixes=["user-"]))] == [3]
            assert [e.position for e in await db.read_all_page(direction="backwards", max_count=1)] == [3]
            assert [e.revision for e in await db.read_stream_page("order-1", from_revision=1, max_count=1)] == [1]
            assert await db.head_position() == 4
            with pytest.raises(graveyard.NotFoundError):
                await db.read_stream_page("missing")
            assert await db.read_stream("missing").to_list() == []

            with pytest.raises(graveyard.WrongExpectedVersionError) as caught:
                await db.append("order-1", ev("X", 0), expected_version="no_stream")
            assert (caught.value.stream, caught.value.expected, caught.value.actual) == ("order-1", "no_stream", 2)
            with pytest.raises(ValueError, match="expected version"):
                await db.append("order-1", ev("X", 0), expected_version=-1)
            with pytest.raises(TypeError):
                await db.append("order-1", [ev("X", 0), 42])
            with pytest.raises(graveyard.InvalidArgumentError):
                await db.append("", ev("X", 0))
            assert await db.head_position() == 4, "nothing was written"

            await db.set_stream_metadata("order-1", StreamMetadata(max_count=2, max_age=dt.timedelta(hours=1)))
            assert (await db.get_stream_metadata("order-1")).max_count == 2
            assert [e.revision for e in await db.read_stream("order-1").to_list()] == [1, 2]
            info = await db.stream_info("order-1")
            assert (info.current, info.next_revision, info.deleted) == (2, 3, False)
            listed = await db.list_streams(prefix="order-", limit=10)
            assert [(s.name, s.next_revision) for s in listed] == [("order-1", 3)]
            with pytest.raises(graveyard.InvalidArgumentError):
                await db.list_streams(limit=0)
            await db.delete_stream("order-1", expected_version=2)
            assert (await db.stream_info("order-1")).deleted is True
            await db.tombstone_stream("user-1")
            with pytest.raises(graveyard.StreamDeletedError):
                await db.append("user-1", ev("X", 0))

            assert await db.get_snapshot("snap") is None
            await db.append("snap", ev("E", 0))
            await db.save_snapshot("snap", 0, json.dumps({"total": 1}))
            snap = await db.get_snapshot("snap")
            assert snap is not None
            assert (snap.revision, json.loads(snap.data)) == (0, {"total": 1})

            schema = {"name": "thing", "fields": [{"name": "n", "type": "integer", "required": True, "min": 1}]}
            assert (await db.upsert_schema(schema)).version == 1
            assert (await db.upsert_schema(json.dumps(schema))).changed is False
            assert [s.name for s in await db.list_schemas()] == ["thing"]
            assert (await db.get_schema("thing")).schema["fields"][0]["name"] == "n"
            with pytest.raises(graveyard.SchemaViolationError) as violated:
                await db.append("things", EventData("thing", {"n": 0}))
            assert [(v.path, v.rule) for v in violated.value.violations] == [("n", "min")]
        with pytest.raises(graveyard.ClosedError):
            await db.append("order-1", ev("X", 0))
        await db.close()  # twice: harmless

    run(main())


def test_encryption_shred_and_rotate(tmp_path: Path) -> None:
    async def main() -> None:
        path, key, key2 = str(tmp_path / "enc"), os.urandom(32), os.urandom(32)
        db = await graveyard.open_async(path, durability="none", master_key=key)
        assert db.is_encrypted() is True
        await db.append("card-1", EventData("Card", {"pan": "4111"}))
        await db.append("card-2", EventData("Card", {"pan": "5500"}))
        await db.shred_stream("card-1")
        [shredded] = await db.read_stream_page("card-1")
        assert shredded.shredded is True
        with pytest.raises(graveyard.ShreddedError):
            shredded.json()
        await db.rotate_master_key(key2)
        await db.close()
        with pytest.raises(graveyard.EncryptionError):
            await graveyard.open_async(path, durability="none", master_key=key)
        async with await graveyard.open_async(path, durability="none", master_key=key2) as again:
            assert (await again.read_stream_page("card-2"))[0].json() == {"pan": "5500"}

    run(main())


def test_async_for_over_a_subscription(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            await db.append("s", [ev("E", i) for i in range(3)])
            async with await db.subscribe_to_stream("s", start=After(0)) as sub:
                seen: list[object] = []
                async for m in sub:
                    seen.append(m.revision if isinstance(m, RecordedEvent) else m)
                    if m is CAUGHT_UP:
                        break
                assert seen == [1, 2, CAUGHT_UP]

                async def write() -> None:
                    for i in range(3, 23):
                        await db.append("s", ev("E", i))

                writer = asyncio.create_task(write())
                live = []
                async for m in sub:
                    assert isinstance(m, RecordedEvent)
                    live.append(m.revision)
                    if len(live) == 20:
                        break
                await writer
                assert live == list(range(3, 23))
                assert await sub.poll(0.05) is TIMEOUT
            assert await sub.poll(1) is ENDED, "leaving `async with` ends it"
            assert [m async for m in sub] == []
            async with await db.subscribe_to_all(filter=Filter(event_types=["Other"])) as filtered:
                assert await anext_of(filtered) is CAUGHT_UP
                await db.append("t", [ev("E", 0), ev("Other", 1)])
                assert await aevent_of(filtered) == ("t", 1, "Other")

    run(main())


def test_the_event_loop_keeps_running_during_a_long_read(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            batch = [EventData("E", {"i": i, "pad": "x" * 200}) for i in range(1000)]
            for i in range(100):
                await db.append(f"s-{i % 7}", batch)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            # The ticker's rate while the loop has nothing else to do.
            before, started = ticks, time.perf_counter()
            await asyncio.sleep(0.1)
            baseline = (ticks - before) / (time.perf_counter() - started)
            try:
                before, started = ticks, time.perf_counter()
                page = await db.read_all_page(max_count=100_000)
                share = (ticks - before) / (time.perf_counter() - started) / baseline
            finally:
                task.cancel()
            assert len(page) == 100_000
            # A read done on the loop's thread would hold the loop: no tick at all until it returned.
            # The threshold leaves room for a loaded machine (the read and the loop share its CPUs).
            assert share > 0.05, f"the loop turned at {share:.3f} of its rate"

    run(main())


def test_cancelling_a_task_waiting_on_poll_loses_nothing(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            sub = await db.subscribe_to_stream("s", start="end")
            assert await anext_of(sub) is CAUGHT_UP
            for i in range(3):
                waiting = asyncio.create_task(sub.poll())
                await asyncio.sleep(0.05)
                assert not waiting.done()
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                # The native wait the cancelled poll started goes on; its event is not lost.
                await db.append("s", ev("E", i))
                assert await aevent_of(sub) == ("s", i, "E")
            # A poll cancelled by a timeout around it, too.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sub.poll(), 0.05)
            await db.append("s", [ev("E", 3), ev("E", 4)])
            assert [await aevent_of(sub), await aevent_of(sub)] == [("s", 3, "E"), ("s", 4, "E")]
            sub.cancel()
            assert await sub.poll(1) is ENDED

    run(main())


def test_a_poll_after_a_cancelled_one_keeps_its_own_timeout(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            sub = await db.subscribe_to_stream("quiet", start="end")
            assert await anext_of(sub) is CAUGHT_UP
            waiting = asyncio.create_task(sub.poll())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            try:
                result = await asyncio.wait_for(sub.poll(0.2), 2)
            except asyncio.TimeoutError:
                result = None
            sub.cancel()
            # Takes the result of the native wait left pending, so that none outlives the loop.
            assert await sub.poll(1) is ENDED
            assert result is TIMEOUT, "poll(0.2) did not return within 2 s"

    run(main())


def test_a_wait_left_pending_by_a_cancelled_poll_is_never_reported_unretrieved(store_path: str) -> None:
    reported: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context["message"]))
        db = await open_temp(store_path)
        sub = await db.subscribe_to_stream("quiet", start="end")
        assert await anext_of(sub) is CAUGHT_UP
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sub.poll(), 0.05)
        await db.close()  # the pending native wait ends with CLOSED
        await asyncio.sleep(0.1)
        del sub
        gc.collect()

    run(main())
    gc.collect()
    assert reported == []


def test_a_consumer_group_with_coroutines(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            await db.append("jobs", [ev("Job", n) for n in range(4)])
            created = await db.create_group("workers", StreamTarget("jobs"), settings=GroupSettings(max_retries=0))
            assert created.settings.max_retries == 0
            assert await db.list_groups() == ["workers"]
            a = await db.join_group("workers", "a")
            ds = [await adelivery_of(a) for _ in range(4)]
            assert [d.event.revision for d in ds] == [0, 1, 2, 3]
            await ds[0].ack()
            await a.ack([ds[1].id])
            await ds[2].nack("retry")  # max_retries 0: parked at once
            await ds[3].nack("park")
            info = await db.group_info("workers")
            assert (info.parked, info.checkpoint, info.in_flight) == (2, 4, 0)
            replay = await db.replay_parked("workers")
            assert (replay.from_, replay.to, replay.replaying) == (0, 2, 2)
            back = [await adelivery_of(a) for _ in range(2)]
            assert [(d.event.revision, d.parked_revision) for d in back] == [(2, 0), (3, 1)]
            await back[0].nack("skip")

            # A second member; the first leaves holding a delivery: the second gets it.
            b = await db.join_group("workers", "b")
            assert sorted((await db.group_info("workers")).members) == ["a", "b"]
            a.cancel()
            assert (await db.group_info("workers")).members == ("b",)
            with pytest.raises(graveyard.ClosedError):
                await back[1].ack()
            assert await a.poll(1) is ENDED
            handed = await adelivery_of(b)
            assert (handed.event.revision, handed.parked_revision, handed.id) == (3, 1, back[1].id)
            await handed.ack()
            assert await b.poll(0.05) is TIMEOUT
            info = await db.group_info("workers")
            assert (info.parked, info.replaying, info.in_flight) == (0, 0, 0)
            updated = await db.update_group("workers", GroupSettings(max_in_flight=4))
            assert updated.settings.max_in_flight == 4
            async with b:
                pass
            assert (await db.group_info("workers")).members == ()
            await db.delete_group("workers")
            assert await db.list_groups() == []

    run(main())


def test_a_closed_store_ends_a_waiting_poll_with_closed_error(store_path: str) -> None:
    async def main() -> None:
        db = await open_temp(store_path)
        sub = await db.subscribe_to_all()
        assert await anext_of(sub) is CAUGHT_UP
        waiting = asyncio.create_task(sub.poll())
        await asyncio.sleep(0.05)
        await db.close()
        with pytest.raises(graveyard.ClosedError):
            await asyncio.wait_for(waiting, 10)
        with pytest.raises(graveyard.ClosedError):
            await db.subscribe_to_all()

    run(main())


def test_a_panic_in_native_code_is_internal_error() -> None:
    async def main() -> None:
        with pytest.raises(graveyard.InternalError) as caught:
            await _client._mapped_async(_native.self_test_panic_submit)
        assert caught.value.code == "INTERNAL"

    run(main())


def test_connect_async_to_a_node(node: Node) -> None:
    async def main() -> None:
        async with await graveyard.connect_async(node.url, retries=1, retry_backoff=0.01) as c:
            assert c.embedded is False
            await c.append("s", [ev("E", 0), ev("E", 1)], expected_version="no_stream")
            assert [e.revision async for e in c.read_stream("s", page_size=1)] == [0, 1]
            assert await c.on_node("solo").head_position() == 2
            sub = await c.subscribe_to_stream("s", start=After(0))
            assert await aevent_of(sub) == ("s", 1, "E")
            assert await anext_of(sub) is CAUGHT_UP
            waiting = asyncio.create_task(sub.poll())
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await c.append("s", ev("E", 2))
            assert await aevent_of(sub) == ("s", 2, "E")
            sub.cancel()
            with pytest.raises(graveyard.UnsupportedError):
                c.is_encrypted()
        with pytest.raises(graveyard.ClosedError):
            await c.head_position()

    run(main())


def test_many_calls_in_flight_each_get_their_own_outcome(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            # 500 appends and reads at once, completed in batches through one queue.
            results = await asyncio.gather(
                *(db.append(f"s-{i}", ev("E", i), expected_version="no_stream") for i in range(500))
            )
            assert sorted(r.first_position for r in results) == list(range(500))
            assert all(r.first_revision == 0 for r in results)
            pages = await asyncio.gather(*(db.read_stream_page(f"s-{i}") for i in range(500)))
            assert [p[0].json() for p in pages] == [{"n": i} for i in range(500)]
            # Failures come back to their own callers among successes.
            outcomes = await asyncio.gather(
                *(db.append(f"s-{i}", ev("E", 0), expected_version="no_stream") for i in range(495, 505)),
                return_exceptions=True,
            )
            assert [type(o).__name__ for o in outcomes] == ["WrongExpectedVersionError"] * 5 + ["AppendResult"] * 5

    run(main())


def test_a_damaged_batch_is_refused_before_anything_runs(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            with pytest.raises(graveyard.InvalidArgumentError):
                await _client._mapped_async(lambda q, t: db._native.append_submit(q, t, "s", 0, 0, b"\x01\x00"))
            assert await db.head_position() == 0

    run(main())


def test_a_cancelled_call_still_happens_and_the_next_ones_work(store_path: str) -> None:
    async def main() -> None:
        async with await open_temp(store_path) as db:
            call = asyncio.ensure_future(db.append("s", ev("E", 0)))
            await asyncio.sleep(0)  # submitted
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            # The append was submitted: it commits; its outcome is dropped, and nothing is stuck.
            for _ in range(100):
                if await db.head_position() == 1:
                    break
                await asyncio.sleep(0.01)
            assert await db.head_position() == 1
            assert (await db.append("s", ev("E", 1), expected_version=0)).first_revision == 1

    run(main())


def test_one_client_on_several_event_loops_and_threads(store_path: str) -> None:
    async def opened() -> AsyncClient:
        return await open_temp(store_path)

    db = asyncio.run(opened())

    async def writer(n: int) -> None:
        for i in range(50):
            await db.append(f"t-{n}", ev("E", i))

    # A new loop after the first closed, then four loops at once in four threads: each loop
    # has its own queue.
    asyncio.run(writer(0))
    errors: list[BaseException] = []

    def in_thread(n: int) -> None:
        try:
            asyncio.run(writer(n))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    async def check() -> None:
        assert await db.head_position() == 250
        for n in range(5):
            assert [e.json()["n"] async for e in db.read_stream(f"t-{n}")] == list(range(50))
        await db.close()

    asyncio.run(check())
