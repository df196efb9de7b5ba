"""A program that returns right after its last AsyncClient call exits cleanly. With uniffi's
own coroutines a runtime thread took the GIL to complete each call, and a program exiting at
that moment aborted in 15-75% of runs; the AsyncClient now completes calls without any
runtime thread calling into Python (graveyard/_completions.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import asyncio, sys, graveyard
async def main():
    c = await graveyard.open_async(sys.argv[1], durability="none")
    await c.append("s", graveyard.EventData("E", {}))
    await c.close()
asyncio.run(main())
"""


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
