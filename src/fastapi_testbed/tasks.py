"""Tasks a test started and left running: cancelled when it ends (no httpx needed here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["tasks_left_behind_cancelled"]

LEFTOVER_TIMEOUT = 5.0


@asynccontextmanager
async def tasks_left_behind_cancelled() -> AsyncIterator[None]:
    """Cancel the tasks started inside the block that are still running when it ends.

    asyncio.gather() keeps the other requests running after one fails; left alone they would
    wake up in the next test, on a connection that is gone, holding locks that test waits for.
    """
    before = asyncio.all_tasks()
    try:
        yield
    finally:
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=LEFTOVER_TIMEOUT)
