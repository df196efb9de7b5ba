"""A program that returns right after its last AsyncClient call exits cleanly (see
graveyard/_exit.py: without it, the process aborted in 15-75% of such runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import graveyard._exit

PROGRAM = """
import asyncio, sys, graveyard
async def main():
    c = await graveyard.open_async(sys.argv[1], durability="none")
    await c.append("s", graveyard.EventData("E", {}))
    await c.close()
asyncio.run(main())
"""


def test_the_continuation_callback_is_counted() -> None:
    assert graveyard._exit.installed, "uniffi's generated names changed: graveyard/_exit.py wraps nothing"


def test_exiting_right_after_async_calls_never_aborts(tmp_path: Path) -> None:
    for i in range(20):
        run = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(tmp_path / f"s{i}")],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, f"run {i}: exit status {run.returncode}\n{run.stderr[-2000:]}"
