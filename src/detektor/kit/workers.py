"""Long-running background workers of a service: stopping, pauses, and which errors are
transient.

Stopping is cooperative: ``join`` waits for the workers to finish what they hold within the
drain timeout, then cancels the rest. How a crash is handled is ``supervision.py``'s rule.
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


def is_connection_error(exc: BaseException) -> bool:
    """Errors that mean a backend is unreachable for now, worth a retry with backoff: the
    network, a restarted or overloaded server, a dropped or administratively terminated
    connection, a pool with no connection to give, a locked SQLite file."""
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    if str(getattr(exc, "sqlstate", None) or "").startswith(_SQLSTATE_NOT_TRANSIENT):
        return False
    for cls in type(exc).__mro__:
        if (cls.__module__.split(".")[0], cls.__name__) in _TRANSIENT:
            return True
    if type(exc).__module__ == "sqlite3" and type(exc).__name__ == "OperationalError":
        # Also the class of "no such table" and SQL syntax errors, which are bugs.
        return any(word in str(exc).lower() for word in _SQLITE_TRANSIENT)
    return False


# By (top-level module, class name), so that the kit imports none of these libraries.
_TRANSIENT = frozenset(
    {
        ("redis", "ConnectionError"),
        ("redis", "TimeoutError"),
        ("redis", "BusyLoadingError"),
        ("redis", "ReadOnlyError"),
        ("psycopg", "OperationalError"),  # lost connection, AdminShutdown, PoolTimeout
        ("psycopg", "InterfaceError"),  # "the connection is closed"
    }
)
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open")
# psycopg files "program limit exceeded" (a row or an index entry too large) under
# OperationalError, but the same statement fails the same way every time.
_SQLSTATE_NOT_TRANSIENT = ("54",)
