"""The Client over real ``graveyard serve`` nodes: one node (every operation over the wire,
errors with their typed fields, sessions, close), a node killed and restarted (what was
acknowledged survives; calls fail with UNAVAILABLE while it is down, within a bound, never
hanging), a node with a token and encryption at rest, and a 3-node cluster (streams spread over
their owners, node-scoped calls, a node dying while the others go on)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from helpers import Node, Nodes, delivery_of, ev, event_of, free_port, next_of

import graveyard
from graveyard import (
    CAUGHT_UP,
    ENDED,
    TIMEOUT,
    After,
    Client,
    EventData,
    GroupDelivery,
    GroupSettings,
    StreamMetadata,
    StreamTarget,
)

BOUND = 30.0
"""Seconds within which a call to a node that is down must fail."""


def outcome_of(what: str, call: Callable[[], object], bound: float = BOUND) -> tuple[object, BaseException | None]:
    """Runs ``call`` in a thread and waits at most ``bound`` seconds: its value or its error; a
    call still running then fails the test (a node down must never hang a caller)."""
    box: list[tuple[object, BaseException | None]] = []

    def target() -> None:
        try:
            box.append((call(), None))
        except BaseException as e:
            box.append((None, e))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"{what} still running after {bound} s"
    return box[0]


def failure_of(what: str, call: Callable[[], object]) -> graveyard.GraveyardError:
    """The GraveyardError of ``call``, which must fail within BOUND seconds."""
    value, error = outcome_of(what, call)
    assert error is not None, f"{what} succeeded: {value!r}"
    assert isinstance(error, graveyard.GraveyardError), f"{what}: {error!r} is not a GraveyardError"
    return error


def retry(call: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Runs ``call`` until it succeeds or ``timeout`` went by (a client finds a restarted node again)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except graveyard.UnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@graveyard.entity("Order")
@dataclass
class Order:
    qty: Annotated[int, graveyard.Field(min=1)]


def test_connect_errors_no_endpoint_nothing_listening() -> None:
    with pytest.raises(graveyard.InvalidArgumentError):
        graveyard.connect([])
    dead = f"http://127.0.0.1:{free_port()}"
    error = failure_of("connecting to nothing", lambda: graveyard.connect(dead, connect_timeout=2.0, retries=0))
    assert isinstance(error, graveyard.UnavailableError)
    with pytest.raises(ValueError, match="connect_timeout"):
        graveyard.connect(dead, connect_timeout=-1)


def test_one_node_every_operation_over_the_wire(node: Node, nodes: Nodes) -> None:
    c = nodes.connect([node])
    assert c.embedded is False

    r = c.append("order-1", [ev("Placed", n) for n in range(5)], expected_version="no_stream")
    assert (r.first_revision, r.last_revision, r.last_position - r.first_position) == (0, 4, 4)
    c.append("order-2", ev("Placed", 0), expected_version="no_stream")
    assert [e.revision for e in c.read_stream("order-1", page_size=2)] == [0, 1, 2, 3, 4]
    backwards = c.read_stream("order-1", direction="backwards", max_count=3, page_size=2).to_list()
    assert [e.revision for e in backwards] == [4, 3, 2]
    page = c.read_stream_page("order-1", from_revision=3)
    assert [(e.revision, e.type, e.json()) for e in page] == [(3, "Placed", {"n": 3}), (4, "Placed", {"n": 4})]
    with pytest.raises(graveyard.NotFoundError):
        c.read_stream_page("missing")
    assert c.read_stream("missing").to_list() == []
    assert len(c.read_all(page_size=4).to_list()) == 6
    assert c.head_position() == 6

    with pytest.raises(graveyard.WrongExpectedVersionError) as wrong:
        c.append("order-1", ev("X", 0), expected_version=1)
    assert (wrong.value.stream, wrong.value.expected, wrong.value.actual) == ("order-1", 1, 4)
    with pytest.raises(ValueError, match="expected version"):
        c.append("order-1", ev("X", 0), expected_version=-1)
    with pytest.raises(graveyard.InvalidArgumentError):
        c.append("", ev("X", 0))
    c.tombstone_stream("order-2")
    with pytest.raises(graveyard.StreamDeletedError) as deleted:
        c.read_stream_page("order-2")
    assert deleted.value.stream == "order-2"

    assert c.upsert_schema(Order).version == 1
    with pytest.raises(graveyard.SchemaViolationError) as violated:
        c.append("orders", Order(qty=0))
    assert [(v.path, v.rule, v.value) for v in violated.value.violations] == [("qty", "min", 0)]
    c.append("orders", Order(qty=2))
    assert c.read_stream_page("orders")[0].decode(Order) == Order(qty=2)

    c.append("meta-1", [ev("M", n) for n in range(3)])
    c.set_stream_metadata("meta-1", StreamMetadata(max_count=2))
    assert c.get_stream_metadata("meta-1").max_count == 2
    assert [e.revision for e in c.read_stream_page("meta-1")] == [1, 2]
    assert c.stream_info("order-1").current == 4
    c.save_snapshot("order-1", 4, "state at 4")
    snap = c.get_snapshot("order-1")
    assert snap is not None
    assert (snap.revision, snap.data) == (4, b"state at 4")

    # What a cluster cannot say, and a node that is not a member.
    with pytest.raises(graveyard.UnsupportedError):
        c.is_encrypted()
    with pytest.raises(graveyard.GraveyardError):
        c.on_node("no-such-node")
    # 6 events, the schema's first version (an event of $schema-Order), the order and meta-1's 3.
    assert c.on_node("solo").head_position() == 11

    # A subscription: history, the marker, a live event from another thread, a timeout, cancel of a waiting poll.
    sub = c.subscribe_to_stream("order-1", start=After(2))
    assert event_of(sub) == ("order-1", 3, "Placed")
    assert event_of(sub) == ("order-1", 4, "Placed")
    assert next_of(sub) is CAUGHT_UP
    writer = threading.Timer(0.01, lambda: c.append("order-1", ev("Placed", 5), expected_version=4))
    writer.start()
    assert event_of(sub) == ("order-1", 5, "Placed")
    writer.join()
    assert sub.poll(0.05) is TIMEOUT
    canceller = threading.Timer(0.05, sub.cancel)
    canceller.start()
    value, error = outcome_of("a poll cancelled from another thread", sub.poll)
    canceller.join()
    assert (value, error) == (ENDED, None)

    # A group: deliveries, a retry with the same id, settling, deletion.
    c.create_group("g", StreamTarget("order-1"), settings=GroupSettings(max_in_flight=4))
    assert c.list_groups() == ["g"]
    m = c.join_group("g", "m1")
    first, second = delivery_of(m), delivery_of(m)
    assert (first.event.revision, second.event.revision, second.attempt) == (0, 1, 1)
    first.ack()
    second.nack("retry")
    seen: dict[int, GroupDelivery] = {}
    while len(seen) < 5:
        d = delivery_of(m)
        assert d.event.revision not in seen, f"revision {d.event.revision} twice"
        seen[d.event.revision] = d
        d.ack()
    assert (seen[1].attempt, seen[1].id) == (2, second.id)
    assert c.group_info("g").checkpoint == 6
    assert c.group_info("g").members == ("m1",)
    c.delete_group("g")
    with pytest.raises(graveyard.NotFoundError):
        m.poll(5)
    m.cancel()

    # Closing the client ends a waiting subscription of a node-scoped view with ClosedError.
    on_sub = c.on_node("solo").subscribe_to_all(start="end")
    assert next_of(on_sub) is CAUGHT_UP
    closer = threading.Timer(0.1, c.close)
    closer.start()
    with pytest.raises(graveyard.ClosedError):
        on_sub.poll(10)
    closer.join()
    with pytest.raises(graveyard.ClosedError):
        c.append("order-1", ev("E", 0))
    c.close()


def test_a_node_killed_and_restarted(node: Node, nodes: Nodes) -> None:
    c = nodes.connect([node], request_timeout=10.0)
    for i in range(20):
        c.append("ledger", ev("Entry", i))
    sub = c.subscribe_to_stream("ledger", start=After(18))
    assert event_of(sub) == ("ledger", 19, "Entry")
    assert next_of(sub) is CAUGHT_UP

    node.kill()  # SIGKILL: no clean shutdown
    down = failure_of("append with the node down", lambda: c.append("ledger", ev("Entry", 20)))
    assert isinstance(down, graveyard.UnavailableError), down
    for what, call in [
        ("read_stream_page", lambda: c.read_stream_page("ledger")),
        ("read_stream", lambda: c.read_stream("ledger").to_list()),
        ("head_position", c.head_position),
        ("subscribe_to_stream", lambda: c.subscribe_to_stream("ledger")),
    ]:
        assert failure_of(f"{what} with the node down", call).code == "UNAVAILABLE", what
    # The subscription reports its end once, then is over.
    ended = failure_of("the subscription", lambda: sub.poll(BOUND - 5))
    assert ended.code == "UNAVAILABLE", ended
    assert sub.poll(0.1) is ENDED

    node.start()
    node.wait_ready()
    # The same client reconnects on its own.
    events = retry(lambda: c.read_stream("ledger").to_list())
    assert [e.revision for e in events] == list(range(20)), "every acknowledged event is there after a kill -9"
    assert [e.json()["n"] for e in events] == list(range(20))
    r = c.append("ledger", ev("Entry", 20), expected_version=19)
    assert r.first_revision == 20


def test_a_node_with_a_token_and_encryption_at_rest(nodes: Nodes) -> None:
    token = "s3cret-token"
    started = nodes.start(["vault"], token=token, master_key=bytes([7]) * 32)
    for wrong in (None, "wrong"):
        with pytest.raises(graveyard.UnauthenticatedError):
            graveyard.connect([n.url for n in started], token=wrong, retries=0)
    c = nodes.connect(started, token=token, request_timeout=20.0)
    c.append("card-1", EventData("Card", {"pan": "4111"}, metadata="m"), expected_version="no_stream")
    c.append("card-2", EventData("Card", {"pan": "5500"}))
    assert c.read_stream_page("card-1")[0].json() == {"pan": "4111"}
    c.shred_stream("card-1")
    [shredded] = c.read_stream_page("card-1")
    assert (shredded.shredded, shredded.data, shredded.metadata) == (True, b"", b"")
    with pytest.raises(graveyard.ShreddedError) as caught:
        shredded.json()
    assert (caught.value.stream, caught.value.revision) == ("card-1", 0)
    assert c.stream_info("card-1").shredded is True
    with pytest.raises(graveyard.StreamDeletedError):
        c.append("card-1", ev("Card", 0))
    assert c.read_stream_page("card-2")[0].json() == {"pan": "5500"}


def test_a_three_node_cluster(cluster: list[Node], nodes: Nodes) -> None:
    ids = [n.id for n in cluster]
    c = nodes.connect(cluster)
    streams = 30
    for i in range(streams):
        stream = f"account-{i}"
        c.append(stream, EventData("Opened", {"i": i}), expected_version="no_stream")
        c.append(stream, ev("Credited", 5), expected_version=0)
        with pytest.raises(graveyard.WrongExpectedVersionError) as wrong:
            c.append(stream, ev("Credited", 0), expected_version=0)
        assert wrong.value.actual == 1, f"{stream}: the owner checks the expected version"
    for i in range(streams):
        page = c.read_stream_page(f"account-{i}")
        assert [(e.revision, e.type) for e in page] == [(0, "Opened"), (1, "Credited")]
        assert page[0].json() == {"i": i}

    # Every stream lives on exactly one node, and every node has some.
    owners: dict[str, str] = {}
    for node_id in ids:
        for e in c.on_node(node_id).read_all(page_size=16):
            assert owners.get(e.stream, node_id) == node_id, f"{e.stream} on {owners.get(e.stream)} and {node_id}"
            owners[e.stream] = node_id
    assert len(owners) == streams
    per_node = {node_id: sorted(s for s, o in owners.items() if o == node_id) for node_id in ids}
    for node_id in ids:
        assert per_node[node_id], f"node {node_id} owns no stream"
    on_n2 = c.on_node("n2")
    assert on_n2.head_position() == 2 * len(per_node["n2"])

    of_n1, of_n2, of_n3 = (per_node[node_id][0] for node_id in ids)
    # A group on a stream of n3, a subscription to a stream of n2 and one of n3.
    c.create_group("billing", StreamTarget(of_n3))
    member = c.join_group("billing", "w1")
    for rev in (0, 1):
        d = delivery_of(member)
        assert (d.event.stream, d.event.revision) == (of_n3, rev)
        d.ack()
    sub_n2 = c.subscribe_to_stream(of_n2)
    sub_n3 = c.subscribe_to_stream(of_n3, start=After(1))
    assert event_of(sub_n2) == (of_n2, 0, "Opened")
    assert event_of(sub_n2) == (of_n2, 1, "Credited")
    assert next_of(sub_n2) is CAUGHT_UP
    assert next_of(sub_n3) is CAUGHT_UP

    # n2 dies (the client's home is n1, the first to answer).
    next(n for n in cluster if n.id == "n2").kill()
    calls: list[tuple[str, Callable[[], object]]] = [
        ("append", lambda: c.append(of_n2, ev("Credited", 0), expected_version=1)),
        ("read_stream_page", lambda: c.read_stream_page(of_n2)),
        ("read_stream", lambda: c.read_stream(of_n2).to_list()),
        ("stream_info", lambda: c.stream_info(of_n2)),
        ("subscribe_to_stream", lambda: c.subscribe_to_stream(of_n2)),
        ("head_position on n2", on_n2.head_position),
        ("read_all on n2", lambda: on_n2.read_all().to_list()),
    ]
    for what, call in calls:
        error = failure_of(f"{what} with n2 down", call)
        assert error.code == "UNAVAILABLE", f"{what}: {error}"
    assert "n2" in str(failure_of("append", lambda: c.append(of_n2, ev("E", 0)))), "the error names the owner"

    def until_failure() -> None:
        while True:
            next_of(sub_n2, BOUND - 5)

    ended = failure_of("a subscription to n2's stream", until_failure)
    assert ended.code == "UNAVAILABLE"
    assert sub_n2.poll(0.1) is ENDED

    # The other nodes' streams, the group on n3 and the home node's $all still work.
    c.append(of_n1, ev("Credited", 1), expected_version=1)
    c.append(of_n3, ev("Credited", 1), expected_version=1)
    assert len(c.read_stream_page(of_n1)) == 3
    assert event_of(sub_n3) == (of_n3, 2, "Credited")
    d = delivery_of(member)
    assert d.event.revision == 2
    d.ack()
    assert c.group_info("billing").checkpoint == 3
    assert len(c.read_all_page(max_count=1)) == 1
    sub_n3.cancel()
    member.cancel()


def test_many_threads_share_one_connection(node: Node, nodes: Nodes) -> None:
    c: Client = nodes.connect([node])
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(20):
                c.append(f"t-{t}", ev("E", i), expected_version=i - 1 if i else "no_stream")
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    assert c.head_position() == 120
    for t in range(6):
        assert [e.json()["n"] for e in c.read_stream(f"t-{t}")] == list(range(20))
