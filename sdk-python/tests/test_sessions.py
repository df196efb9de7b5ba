"""Subscriptions and consumer groups of the blocking Client on embedded stores: history,
CAUGHT_UP and live events in order (written by another thread); filters and starts; the end of
a session (cancel, ``with``, leaving a loop, a tombstone, a closed store); groups with ack,
nack (retry, park, skip), parked replay, members sharing the work, a member that leaves and
one dropped without cancel."""

from __future__ import annotations

import gc
import threading
from datetime import timedelta

import pytest
from helpers import delivery_of, ev, event_of, eventually, history, next_of

import graveyard
from graveyard import (
    CAUGHT_UP,
    ENDED,
    TIMEOUT,
    After,
    AllTarget,
    Client,
    Filter,
    GroupDelivery,
    GroupSettings,
    RecordedEvent,
    StreamTarget,
)


def test_a_stream_subscription_history_caught_up_then_live_events_in_order(store: Client) -> None:
    store.append("order-1", [ev("Placed", 0), ev("Paid", 1)])
    store.append("order-2", ev("Placed", 0))
    sub = store.subscribe_to_stream("order-1")
    assert event_of(sub) == ("order-1", 0, "Placed")
    assert event_of(sub) == ("order-1", 1, "Paid")
    assert next_of(sub) is CAUGHT_UP
    assert sub.poll(0.05) is TIMEOUT, "nothing new: the wait times out and the session goes on"
    assert sub.poll(0) is TIMEOUT

    # Live events, many, written by another thread while this one reads: once each, in order.
    def write() -> None:
        for i in range(50):
            store.append("order-1", [ev("Shipped", 2 * i), ev("Shipped", 2 * i + 1)])
            store.append("order-2", ev("Noise", i))

    writer = threading.Thread(target=write)
    writer.start()
    seen: list[int] = []
    for m in sub:
        assert isinstance(m, RecordedEvent)
        assert m.stream == "order-1"
        seen.append(m.revision)
        if len(seen) == 100:
            break
    writer.join()
    assert seen == list(range(2, 102))
    sub.cancel()
    assert sub.poll(1) is ENDED
    assert sub.poll() is ENDED
    assert list(sub) == [], "iterating an ended session stops at once"
    sub.cancel()  # twice: harmless


def test_starts_after_a_checkpoint_and_at_the_end(store: Client) -> None:
    store.append("s", [ev("E", i) for i in range(5)])
    with store.subscribe_to_stream("s", start=After(2), page_size=1) as after:
        assert [e.revision for e in history(after)] == [3, 4]
    assert after.poll(1) is ENDED, "leaving `with` ends it"
    with store.subscribe_to_stream("s", start=After(0)) as all_but_first:
        assert [e.revision for e in history(all_but_first)] == [1, 2, 3, 4], "After(0) is not 'start'"
    with store.subscribe_to_stream("s", start="end") as from_end:
        assert next_of(from_end) is CAUGHT_UP
        store.append("s", ev("Closed", 5))
        assert event_of(from_end) == ("s", 5, "Closed")
    with store.subscribe_to_stream("not-yet") as empty:
        assert next_of(empty) is CAUGHT_UP
        store.append("not-yet", ev("Born", 0))
        assert event_of(empty) == ("not-yet", 0, "Born")


def test_an_all_subscription_with_a_filter_and_from_a_position(store: Client) -> None:
    store.append("order-1", [ev("Placed", 0), ev("Paid", 1)])
    store.append("user-1", ev("Registered", 0))
    r = store.append("order-2", ev("Placed", 0))
    placed_orders = Filter(stream_prefixes=["order-"], event_types=["Placed"])
    with store.subscribe_to_all(filter=placed_orders) as filtered:
        assert event_of(filtered) == ("order-1", 0, "Placed")
        assert event_of(filtered) == ("order-2", 0, "Placed")
        assert next_of(filtered) is CAUGHT_UP
        store.append("user-2", ev("Placed", 0))
        store.append("order-3", [ev("Paid", 0), ev("Placed", 1)])
        assert event_of(filtered) == ("order-3", 1, "Placed"), "live events are filtered too"
        assert filtered.poll(0.05) is TIMEOUT
    with store.subscribe_to_all(start=After(r.last_position)) as later:
        assert event_of(later) == ("user-2", 0, "Placed")
        assert event_of(later) == ("order-3", 0, "Paid")
        assert event_of(later) == ("order-3", 1, "Placed")
        assert next_of(later) is CAUGHT_UP
    with store.subscribe_to_all(filter=Filter(event_types=["Registered"]), start="end") as at_end:
        assert next_of(at_end) is CAUGHT_UP
        store.append("user-3", [ev("Placed", 0), ev("Registered", 0)])
        m = next_of(at_end)
        assert isinstance(m, RecordedEvent)
        assert (m.stream, m.type, m.position) == ("user-3", "Registered", 8)


def test_a_tombstone_is_raised_once_then_the_subscription_is_ended(store: Client) -> None:
    store.append("doomed", ev("E", 0))
    sub = store.subscribe_to_stream("doomed")
    assert event_of(sub) == ("doomed", 0, "E")
    assert next_of(sub) is CAUGHT_UP
    store.tombstone_stream("doomed")
    with pytest.raises(graveyard.StreamDeletedError) as caught:
        sub.poll(10)
    assert caught.value.stream == "doomed"
    assert sub.poll(1) is ENDED
    assert sub.poll(1) is ENDED
    with pytest.raises(graveyard.StreamDeletedError):
        store.subscribe_to_stream("doomed")


def test_a_store_closed_under_a_waiting_subscription_raises_closed_error(store: Client) -> None:
    live = store.subscribe_to_all()
    assert next_of(live) is CAUGHT_UP
    closer = threading.Timer(0.2, store.close)
    closer.start()
    with pytest.raises(graveyard.ClosedError):
        live.poll(10)
    closer.join()
    with pytest.raises(graveyard.ClosedError):
        store.subscribe_to_all()
    with pytest.raises(graveyard.ClosedError):
        store.join_group("g", "m")


def test_a_closed_store_is_raised_once_then_the_subscription_is_ended(store: Client) -> None:
    live = store.subscribe_to_all()
    assert next_of(live) is CAUGHT_UP
    store.close()
    with pytest.raises(graveyard.ClosedError):
        live.poll(10)
    assert live.poll(1) is ENDED


def test_a_consumer_group_ack_nack_retry_park_skip_and_parked_replay(store: Client) -> None:
    store.append("jobs", [ev("Job", n) for n in range(5)])
    created = store.create_group(
        "workers", StreamTarget("jobs"), settings=GroupSettings(max_retries=1, ack_timeout=timedelta(seconds=60))
    )
    assert (created.name, created.target, created.lag) == ("workers", StreamTarget("jobs"), 5)
    assert (created.settings.max_retries, created.settings.strategy) == (1, "round_robin")
    assert created.settings.ack_timeout == timedelta(seconds=60)
    assert store.list_groups() == ["workers"]
    with pytest.raises(graveyard.GraveyardError):
        store.create_group("workers", StreamTarget("jobs"))
    with store.join_group("workers", "w1") as member:
        ds = [delivery_of(member) for _ in range(5)]
        assert [(d.event.revision, d.attempt, d.parked_revision) for d in ds] == [(r, 1, None) for r in range(5)]
        assert store.group_info("workers").members == ("w1",)
        assert store.group_info("workers").in_flight == 5
        member.ack([ds[0], ds[1].id])  # deliveries or their ids, in one commit
        ds[2].nack("retry")
        again = delivery_of(member)
        assert (again.event.revision, again.attempt, again.id) == (2, 2, ds[2].id), "a redelivery keeps its id"
        again.nack("retry")  # past max_retries: parked
        ds[3].nack("park")
        ds[4].nack("skip")
        info = store.group_info("workers")
        assert (info.parked, info.checkpoint, info.in_flight) == (2, 5, 0)
        assert info.parked_stream == "$parked-workers"
        parked = store.read_stream("$parked-workers").to_list()
        assert len(parked) == 2

        replay = store.replay_parked("workers", limit=1)
        assert (replay.from_, replay.to, replay.replaying) == (0, 1, 1)
        replayed = delivery_of(member)
        assert (replayed.event.stream, replayed.event.revision, replayed.parked_revision) == ("jobs", 2, 0)
        replayed.ack()
        store.replay_parked("workers")
        last = delivery_of(member)
        assert (last.event.revision, last.parked_revision) == (3, 1)
        last.ack()
        info = store.group_info("workers")
        assert (info.parked, info.replaying, info.in_flight) == (0, 0, 0)
        assert member.poll(0.05) is TIMEOUT

        with pytest.raises(graveyard.InvalidArgumentError):
            member.ack([123456789])
        with pytest.raises(TypeError):
            member.ack([True])  # a bool is an int to Python, never a delivery id
        with pytest.raises(ValueError, match="nack action"):
            member.nack([ds[0]], "drop")  # type: ignore[arg-type]
        ds[0].ack()  # settled already: harmless
    updated = store.update_group("workers", GroupSettings(max_in_flight=8))
    assert updated.settings.max_in_flight == 8
    assert updated.settings.max_retries == 10, "the settings are replaced: what is left out takes the default"
    assert store.group_info("workers").members == (), "leaving `with` left the group"
    store.delete_group("workers")
    assert store.list_groups() == []
    with pytest.raises(graveyard.NotFoundError):
        store.group_info("workers")


def test_members_share_the_work_and_a_member_that_leaves_hands_its_deliveries_back(store: Client) -> None:
    store.create_group("g", AllTarget(Filter(stream_prefixes=["task-"])))
    a = store.join_group("g", "a")
    b = store.join_group("g", "b")
    assert sorted(store.group_info("g").members) == ["a", "b"]
    for i in range(3):
        store.append(f"task-{i}", ev("Task", i))
    store.append("other", ev("Task", 99))
    got_b = [delivery_of(b) for _ in range(3)]
    for i in range(3, 6):
        store.append(f"task-{i}", ev("Task", i))
    got_a = [delivery_of(a) for _ in range(3)]
    assert [d.event.stream for d in got_b + got_a] == [f"task-{i}" for i in range(6)]
    assert store.group_info("g").in_flight == 6
    a.ack(got_a)
    # b leaves with three unsettled deliveries: a gets them again.
    b.cancel()
    assert store.group_info("g").members == ("a",), "leaving is at once"
    with pytest.raises(graveyard.ClosedError):
        b.ack(got_b)
    with pytest.raises(graveyard.ClosedError):
        got_b[0].nack("retry")
    assert b.poll(1) is ENDED
    redelivered = [delivery_of(a) for _ in got_b]
    assert sorted(d.event.stream for d in redelivered) == sorted(d.event.stream for d in got_b)
    assert all(d.attempt == 2 for d in redelivered)
    # Settling through another member of the group, by id.
    a.ack([d.id for d in redelivered])
    assert a.poll(0.05) is TIMEOUT
    assert store.group_info("g").in_flight == 0
    a.cancel()


def test_a_member_dropped_without_cancel_leaves_once_garbage_collected(store: Client) -> None:
    store.create_group("g", StreamTarget("jobs"))
    store.append("jobs", [ev("Job", i) for i in range(2)])
    keeper = store.join_group("g", "keeper")

    def join_and_drop() -> GroupDelivery:
        dropped = store.join_group("g", "dropped")
        assert sorted(store.group_info("g").members) == ["dropped", "keeper"]
        return delivery_of(dropped)

    held = join_and_drop()
    assert held.event.revision == 0
    # The delivery refers to its member: dropping both lets the member go.
    del held
    gc.collect()
    members = eventually(lambda: store.group_info("g").members, lambda m: m == ("keeper",))
    assert members == ("keeper",), "the dropped member was never released"
    revisions = sorted(delivery_of(keeper).event.revision for _ in range(2))
    assert revisions == [0, 1], "what the dropped member held is delivered again"
    keeper.cancel()
