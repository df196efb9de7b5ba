"""Keeps a program that used the ``AsyncClient`` from aborting as it exits.

uniffi wakes an awaiting coroutine from one of the core's runtime threads: its generated
continuation callback takes the GIL and calls ``loop.call_soon_threadsafe``, whose write to the
loop's wake-up socket lets the GIL go for a moment. A program that returns from ``asyncio.run``
right after its last native call can start finalizing in that moment; the runtime thread then
cannot take the GIL back, CPython ends the thread, and the process aborts (SIGABRT, "FATAL:
exception not rethrown"; measured 15-75% of runs of open_async + close on Python 3.11). Counting
the callbacks in flight and letting them finish in an ``atexit`` hook (which runs before CPython
marks itself finalizing) removes it (0 of 130 runs).

This wraps names private to the module uniffi 0.32 generates (the workspace pins that version);
if a later uniffi renames them, nothing is wrapped and the test of exiting after async calls
says so.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

from ._native import graveyard_native as _generated

_lock = threading.Lock()
_in_flight = 0
installed = False


def _install() -> bool:
    callback_type: Any = getattr(_generated, "_UNIFFI_RUST_FUTURE_CONTINUATION_CALLBACK", None)
    handles: Any = getattr(_generated, "_UniffiContinuationHandleMap", None)
    set_result: Any = getattr(_generated, "_uniffi_set_future_result", None)
    if callback_type is None or handles is None or set_result is None:
        return False

    @callback_type  # type: ignore[untyped-decorator]
    def counted(future_ptr: int, poll_code: int) -> None:
        global _in_flight  # noqa: PLW0603 - one counter for the process
        with _lock:
            _in_flight += 1
        try:
            eventloop, future = handles.remove(future_ptr)
            eventloop.call_soon_threadsafe(set_result, future, poll_code)
        finally:
            with _lock:
                _in_flight -= 1

    # The generated code looks the callback up by this name each time it polls a future; the
    # ctypes object must stay referenced for as long as Rust may call it: the module keeps it.
    _generated._uniffi_continuation_callback = counted
    atexit.register(_drain)
    return True


def _drain() -> None:
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with _lock:
            if _in_flight == 0:
                return
        time.sleep(0.001)


installed = _install()
