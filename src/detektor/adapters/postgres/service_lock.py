"""The PostgreSQL store's service and maintenance locks: session advisory locks on one key
per schema, each on a connection of its own outside the pool.

A live service holds the key in shared mode for as long as its store is open; `detektor
tracking replay` takes it in exclusive mode without waiting, so it is refused while any
service runs (and a service starting during a replay is refused in turn). Every append and
purge transaction also takes the key in shared transaction mode before the append lock: if a
service's lock connection was lost (a terminated backend) and a replay got in, writers wait
for it to finish instead of slipping an event between replay's read and its rewrite of the
frame's row. The server releases a session lock when its connection ends, so a crashed
process never leaves the store locked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import Connection

from detektor.adapters.postgres.schema import lock_key
from detektor.adapters.storekit import MAINTENANCE_RUNNING, SERVICE_RUNNING
from detektor.ports import StoreLocked


def maintenance_lock(schema: str) -> int:
    """The key of `schema`'s service (shared) / maintenance (exclusive) lock."""
    return lock_key("maintenance", schema)


class ServiceLock:
    def __init__(self, url: str, schema: str, connect_timeout_s: float) -> None:
        self.key = maintenance_lock(schema)
        self._url = url
        self._timeout = max(1, round(connect_timeout_s))
        self._held: Connection[Any] | None = None

    def _connect(self) -> Connection[Any]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)

    def hold_shared(self) -> None:
        """Take (or, after its connection died, take again) the service's shared lock."""
        if self._held is not None:
            try:
                self._held.execute("SELECT 1")  # a terminated backend shows only when used
                return
            except psycopg.OperationalError:
                self._drop()
        conn = self._connect()
        row = conn.execute("SELECT pg_try_advisory_lock_shared(%s)", (self.key,)).fetchone()
        if not (row and row[0]):
            conn.close()
            raise StoreLocked(MAINTENANCE_RUNNING)
        self._held = conn

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._connect() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if not (row and row[0]):
                raise StoreLocked(SERVICE_RUNNING)
            yield  # the lock goes with the connection, closed on the way out

    def _drop(self) -> None:
        if self._held is not None:
            with suppress(psycopg.Error):
                self._held.close()
            self._held = None

    def close(self) -> None:
        self._drop()
