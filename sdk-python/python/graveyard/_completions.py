"""How the ``AsyncClient``'s calls complete.

A call starts with a plain native call (``*_submit``, a few µs, the GIL released) that checks
the arguments, spawns the work on the core's runtime and returns. Each event loop has one
native queue of ended calls (``NativeCompletions``); the first outcome queued since the loop
last looked writes one byte to a socket the loop watches (``loop.add_reader``), and the loop
then settles every ended call's future at once. No runtime thread ever calls into Python.

uniffi's own coroutines did call in: a runtime thread took the GIL to wake the loop, once per
call, and every call was polled twice. That cost 212 µs an awaited call and 115 µs each with
1,000 in flight, and its callbacks could abort the process at exit (a thread needing the GIL
while CPython finalized).
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import Callable
from typing import Any

from . import _native
from ._errors import GraveyardError, error_from

_generated: Any = _native  # the uniffi module is untyped

Start = Callable[[int, int], object]
"""Starts one native call: given the number of the loop's queue and the call's token."""


def _value(outcome: Any) -> Any:
    """An ended native call's value, or the GraveyardError of its failure raised."""
    if isinstance(outcome, _generated.NativeOutcome.FAILED):
        raise error_from(outcome.code, outcome.message, outcome.details)
    return getattr(outcome, "value", None)


class _Completions:
    """One event loop's queue of ended native calls, and the futures waiting on them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.native: Any = _generated.NativeCompletions()
        # Calls name the queue by number: an object argument costs uniffi a crossing per call.
        self.id: int = self.native.id()
        self.loop = loop
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.next_token = 0
        loop.add_reader(self.native.fd(), self._drain)

    def submit(self, start: Start) -> asyncio.Future[Any]:
        token = self.next_token
        self.next_token += 1
        future = self.loop.create_future()
        self.waiting[token] = future
        try:
            start(self.id, token)
        except BaseException:
            del self.waiting[token]
            raise
        return future

    def _drain(self) -> None:
        for done in self.native.drain():
            future = self.waiting.pop(done.token, None)
            # A cancelled future's caller is gone: what it asked for is dropped (a session keeps
            # its pending poll shielded for this reason, see _sessions.py).
            if future is None or future.cancelled():
                continue
            try:
                value = _value(done.outcome)
            except GraveyardError as error:
                future.set_exception(error)
            else:
                future.set_result(value)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Completions] = weakref.WeakKeyDictionary()


def submit(start: Start) -> asyncio.Future[Any]:
    """Starts a native call from a coroutine; the future settles with its outcome (a value, or
    the GraveyardError of its failure). A failure to start (bad arguments) raises here."""
    loop = asyncio.get_running_loop()
    completions = _by_loop.get(loop)
    if completions is None:
        completions = _by_loop[loop] = _Completions(loop)
    return completions.submit(start)


class Blocking:
    """A queue of ended native calls for blocking code: ``start`` a call (its ``*_submit``
    returns at once, the core works on its own threads), then ``wait`` for its outcome with the
    GIL released. The blocking iterators read their next page this way while the caller's loop
    decodes the current one. A read on a Python thread of its own did not overlap: that thread
    needed the GIL, held by the decoding loop, both to start the call and to return its page
    (measured: a scan 3-6% slower than with no read ahead)."""

    def __init__(self) -> None:
        self._native: Any = _generated.NativeCompletions()
        self._id: int = self._native.id()
        self._poll = select.poll()
        self._poll.register(self._native.fd(), select.POLLIN)
        self._ended: dict[int, Any] = {}
        self._next = 0

    def start(self, start: Start) -> int:
        """Starts a call; its token for ``wait``. A failure to start raises here."""
        token = self._next
        self._next += 1
        start(self._id, token)
        return token

    def wait(self, token: int) -> Any:
        """The value of the call ``token`` names, or its GraveyardError raised."""
        while token not in self._ended:
            self._poll.poll()
            for done in self._native.drain():
                self._ended[done.token] = done.outcome
        return _value(self._ended.pop(token))
