"""Which errors mean "a dependency does not answer now" and which are bugs, decided once.

The supervisor retries a worker after the first kind (and restarts it, counted as a crash,
after the second); the HTTP error handler answers the first kind with 503 and
``Retry-After``, the second with a logged 500. Classes are matched by module and name, so the
kit imports none of the client libraries.

- PostgreSQL (psycopg, psycopg_pool): an ``OperationalError`` with no SQLSTATE (the client
  lost, or never had, its connection; the pool timed out) or with a SQLSTATE of a server that
  cannot serve now; an ``InterfaceError`` (a connection already closed). psycopg also files
  "program limit exceeded" under ``OperationalError``, but that fails the same way every time.
- SQLite: ``OperationalError`` says "locked" and "no such table" alike; only a locked or busy
  file and I/O trouble pass by themselves.
- Redis: connection and timeout errors, a server still loading its data or a read-only one.
- Anything else that is a ``ConnectionError``, ``TimeoutError`` or ``OSError``.
"""

from __future__ import annotations

import re

# Connection exception, serialization failure and deadlock, insufficient resources, operator
# intervention (shutdown, cancel), system error; and lock_not_available.
_PG_UNAVAILABLE = ("08", "40", "53", "57", "58", "55P03")
_SQLITE_UNAVAILABLE = re.compile(r"locked|busy|unable to open|disk i/o|disk is full", re.I)
_REDIS_UNAVAILABLE = frozenset(
    {"ConnectionError", "TimeoutError", "BusyLoadingError", "ReadOnlyError"}
)


def unavailable(exc: BaseException) -> str | None:
    """The dependency ``exc`` says is down for now (worth a retry), or None for a bug."""
    module = type(exc).__module__.partition(".")[0]
    names = {cls.__name__ for cls in type(exc).__mro__}
    if module in ("psycopg", "psycopg_pool"):
        state: str | None = getattr(exc, "sqlstate", None)
        if "InterfaceError" in names:
            return "PostgreSQL"
        if "OperationalError" in names and (state is None or state.startswith(_PG_UNAVAILABLE)):
            return "PostgreSQL"
        return None
    if module == "sqlite3":
        down = "OperationalError" in names and _SQLITE_UNAVAILABLE.search(str(exc))
        return "SQLite" if down else None
    if module == "redis":
        return "Redis" if names & _REDIS_UNAVAILABLE else None
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return "a dependency"
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a retry with backoff can succeed without anyone changing anything."""
    return unavailable(exc) is not None
