"""Subscriptions and consumer-group members, as iterators (``Client``) and async iterators
(``AsyncClient``). The native session hands out batches (every message ready at once crosses
in one call); cancelling a session, leaving a ``with`` block or dropping the object ends it."""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from ._errors import ClosedError
from ._model import NackAction, nack_action_code
from ._packed import RecordedEvent, SubscriptionMessage, decode_delivery_batch, decode_message_batch

T = TypeVar("T")

BATCH = 512
"""How many messages one native call may hand out."""

# A blocking wait is cut into slices this long, so that Ctrl-C (KeyboardInterrupt, which
# Python only raises between calls) stops a program waiting on a quiet session.
_SLICE_MS = 250


class Poll(enum.Enum):
    """What ``poll`` gives when it has no message: nothing came in time, or the session is over."""

    TIMEOUT = "timeout"
    ENDED = "ended"

    def __repr__(self) -> str:
        return self.name


TIMEOUT = Poll.TIMEOUT
ENDED = Poll.ENDED

Mapped = Callable[[Callable[[], Any]], Any]
MappedAsync = Callable[[Callable[[int, int], object]], Awaitable[Any]]


class _Queue(Generic[T]):
    """The items of the last batch not handed out yet, and whether the session is over."""

    def __init__(self, decode: Callable[[bytes], list[T]]) -> None:
        self._decode = decode
        self.items: deque[T] = deque()
        self.ended = False

    def end(self) -> None:
        # What a cancelled session fetched but did not hand out is not handed out: a member's
        # deliveries went back to its group when it left.
        self.items.clear()
        self.ended = True

    def take(self, batch: Any) -> T | Poll:
        if self.ended:
            return ENDED
        if batch.is_items():
            self.items.extend(self._decode(batch.packed))
            return self.items.popleft()
        if batch.is_timeout():
            return TIMEOUT
        self.ended = True
        return ENDED


class _Session(Generic[T]):
    def __init__(self, native: Any, mapped: Mapped, decode: Callable[[bytes], list[T]]) -> None:
        self._native = native
        self._mapped = mapped
        self._queue = _Queue(decode)

    def poll(self, timeout: float | None = None) -> T | Poll:
        """The next message, waiting at most ``timeout`` seconds (None: as long as it takes):
        ``TIMEOUT`` when nothing came in time (the session goes on), ``ENDED`` once it is over.
        A failure that ended the session (a tombstoned stream, a closed store, a node gone) is
        raised once; then it is ``ENDED``. Other Python threads run while it waits."""
        if self._queue.items:
            return self._queue.items.popleft()
        if self._queue.ended:
            return ENDED
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = (
                _SLICE_MS if deadline is None else max(0, min(_SLICE_MS, round((deadline - time.monotonic()) * 1000)))
            )
            try:
                batch = self._mapped(lambda: self._native.next(BATCH, left))  # noqa: B023
            except ClosedError:
                self._queue.ended = True
                raise
            result = self._queue.take(batch)
            if result is TIMEOUT and (deadline is None or time.monotonic() < deadline):
                continue
            return result

    def cancel(self) -> None:
        """Ends the session: a waiting and every later ``poll`` gives ``ENDED``."""
        self._queue.end()
        self._native.cancel()

    close = cancel

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        item = self.poll()
        if item is ENDED or item is TIMEOUT:
            raise StopIteration
        return item  # type: ignore[return-value]

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.cancel()


_S = TypeVar("_S", bound="_Session[Any]")


class Subscription(_Session[SubscriptionMessage]):
    """A subscription: history, ``CAUGHT_UP``, then live events, in order, never silently
    stopping (a failure is raised). Iterate over it; ``with`` ends it."""

    def __init__(self, native: Any, mapped: Mapped) -> None:
        super().__init__(native, mapped, decode_message_batch)


class GroupDelivery:
    """An event handed to one member of a consumer group, to settle with ``ack`` or ``nack``."""

    __slots__ = ("attempt", "event", "id", "member", "parked_revision")

    def __init__(
        self, member: Any, delivery_id: int, attempt: int, parked_revision: int | None, event: RecordedEvent
    ) -> None:
        self.member = member
        self.id = delivery_id
        """Names the delivery in acks and nacks (through any member of the group on this store)."""
        self.attempt = attempt
        """1 for the first delivery, more for redeliveries."""
        self.parked_revision = parked_revision
        """The revision of the parked copy, for an event a replay handed back."""
        self.event = event

    def ack(self) -> Any:
        """Acknowledges it (a coroutine for an ``AsyncGroupMember``'s deliveries)."""
        return self.member.ack([self])

    def nack(self, action: NackAction) -> Any:
        """Settles it with ``"retry"``, ``"park"`` or ``"skip"``."""
        return self.member.nack([self], action)

    def __repr__(self) -> str:
        return (
            f"GroupDelivery(id={self.id}, attempt={self.attempt}, parked_revision={self.parked_revision}, "
            f"event={self.event!r})"
        )


def _ids(deliveries: Sequence[GroupDelivery | int]) -> list[int]:
    ids = []
    for d in deliveries:
        if isinstance(d, GroupDelivery):
            ids.append(d.id)
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 64:
            ids.append(d)
        else:
            raise TypeError(f"a delivery or its id (an int from 0 to 2**64-1), not {d!r}")
    return ids


class GroupMember(_Session[GroupDelivery]):
    """A member of a consumer group: its deliveries as an iterator. Settle each with ``ack`` or
    ``nack``; ``cancel`` (or leaving ``with``) leaves the group, and what this member held
    unsettled is delivered again."""

    def __init__(self, native: Any, mapped: Mapped) -> None:
        super().__init__(native, mapped, lambda b: decode_delivery_batch(b, self._delivery))
        self._left = False

    def _delivery(self, delivery_id: int, attempt: int, parked: int | None, event: RecordedEvent) -> GroupDelivery:
        return GroupDelivery(self, delivery_id, attempt, parked, event)

    def ack(self, deliveries: Sequence[GroupDelivery | int]) -> None:
        """Acknowledges deliveries (or their ids), in one commit."""
        self._require_joined()
        ids = _ids(deliveries)
        self._mapped(lambda: self._native.ack(ids))

    def nack(self, deliveries: Sequence[GroupDelivery | int], action: NackAction) -> None:
        """Settles deliveries (or their ids) with ``"retry"``, ``"park"`` or ``"skip"``, in one commit."""
        self._require_joined()
        ids, code = _ids(deliveries), nack_action_code(action)
        self._mapped(lambda: self._native.nack(ids, code))

    def cancel(self) -> None:
        """Leaves the group: what this member held unsettled is delivered again."""
        self._left = True
        self._queue.end()
        self._native.cancel()

    close = cancel

    def _require_joined(self) -> None:
        if self._left:
            raise ClosedError("this member left its group: settle through another member of the group, or join again")


class _AsyncSession(Generic[T]):
    def __init__(self, native: Any, mapped: MappedAsync, decode: Callable[[bytes], list[T]]) -> None:
        self._native = native
        self._mapped = mapped
        self._queue = _Queue(decode)
        # A native wait started by a poll that was cancelled: the next poll takes its result,
        # so that a batch it brings is never lost.
        self._pending: asyncio.Future[Any] | None = None

    async def poll(self, timeout: float | None = None) -> T | Poll:
        """The next message, waiting at most ``timeout`` seconds: ``TIMEOUT``, ``ENDED`` or
        the message, as ``Subscription.poll``. Cancelling the awaiting task loses nothing."""
        if self._queue.items:
            return self._queue.items.popleft()
        if self._queue.ended:
            return ENDED
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._pending is None:
                left = None if deadline is None else max(0, round((deadline - loop.time()) * 1000))
                self._pending = asyncio.ensure_future(
                    self._mapped(lambda q, t: self._native.next_submit(q, t, BATCH, left))  # noqa: B023 - called as the task starts, before left changes
                )
                self._pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            pending = self._pending
            if deadline is not None and not pending.done():
                await asyncio.wait({pending}, timeout=max(0.0, deadline - loop.time()))
                if not pending.done():
                    return TIMEOUT
            try:
                batch = await asyncio.shield(pending)
            except ClosedError:
                self._queue.ended = True
                raise
            finally:
                if pending.done():
                    self._pending = None
            result = self._queue.take(batch)
            if result is TIMEOUT and (deadline is None or loop.time() < deadline):
                continue
            return result

    def cancel(self) -> None:
        """Ends the session: a waiting and every later ``poll`` gives ``ENDED``."""
        self._queue.end()
        self._native.cancel()

    async def aclose(self) -> None:
        self.cancel()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        item = await self.poll()
        if item is ENDED or item is TIMEOUT:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cancel()


_A = TypeVar("_A", bound="_AsyncSession[Any]")


class AsyncSubscription(_AsyncSession[SubscriptionMessage]):
    """``Subscription`` for asyncio: ``async for``, ``await poll(timeout)``, ``async with``."""

    def __init__(self, native: Any, mapped: MappedAsync) -> None:
        super().__init__(native, mapped, decode_message_batch)


class AsyncGroupMember(_AsyncSession[GroupDelivery]):
    """``GroupMember`` for asyncio; its deliveries' ``ack()`` and ``nack()`` are coroutines."""

    def __init__(self, native: Any, mapped: MappedAsync) -> None:
        super().__init__(native, mapped, lambda b: decode_delivery_batch(b, self._delivery))
        self._left = False

    def _delivery(self, delivery_id: int, attempt: int, parked: int | None, event: RecordedEvent) -> GroupDelivery:
        return GroupDelivery(self, delivery_id, attempt, parked, event)

    async def ack(self, deliveries: Sequence[GroupDelivery | int]) -> None:
        self._require_joined()
        ids = _ids(deliveries)
        await self._mapped(lambda q, t: self._native.ack_submit(q, t, ids))

    async def nack(self, deliveries: Sequence[GroupDelivery | int], action: NackAction) -> None:
        self._require_joined()
        ids, code = _ids(deliveries), nack_action_code(action)
        await self._mapped(lambda q, t: self._native.nack_submit(q, t, ids, code))

    def cancel(self) -> None:
        """Leaves the group: what this member held unsettled is delivered again."""
        self._left = True
        self._queue.end()
        self._native.cancel()

    def _require_joined(self) -> None:
        if self._left:
            raise ClosedError("this member left its group: settle through another member of the group, or join again")
