"""Long-running background workers of a service: stopping and pauses.

Stopping is cooperative: ``join`` waits for the workers to finish what they hold within the
drain timeout, then cancels the rest. How a crash is handled is ``supervision.py``'s rule,
and which errors are transient ``transient.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

log = logging.getLogger(__name__)


async def join(tasks: list[asyncio.Task[None]], grace_s: float) -> None:
    """Wait for stopped workers to finish, cancelling those still busy after grace_s."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        log.warning("worker %s did not stop within %ss; cancelling", task.get_name(), grace_s)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for ``seconds``, or less if ``stop`` is set meanwhile."""
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
