"""Long-running background workers of a service: supervision, stopping and pauses.

A worker that crashes must not vanish silently: ``supervise`` logs it and marks the process
unhealthy (``/healthz`` then answers 503). Stopping is cooperative: ``join`` waits for the
workers to finish what they hold within the drain timeout, then cancels the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

from detektor.kit.health import Liveness

log = logging.getLogger(__name__)


def supervise(
    liveness: Liveness, name: str, run: Callable[[], Awaitable[None]]
) -> asyncio.Task[None]:
    """Run a worker as a task; if it crashes, log the traceback and fail liveness."""

    async def guard() -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("worker %s crashed", name)
            liveness.died(name, f"{type(exc).__name__}: {exc}")

    return asyncio.create_task(guard(), name=name)


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


def is_connection_error(exc: BaseException) -> bool:
    """Errors that mean a backend is unreachable for now, worth a retry with backoff."""
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    return type(exc).__module__.startswith("redis") and type(exc).__name__ in (
        "ConnectionError",
        "TimeoutError",
        "BusyLoadingError",
        "ReadOnlyError",
    )
