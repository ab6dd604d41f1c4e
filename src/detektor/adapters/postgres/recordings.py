"""The PostgreSQL RecordingIndex: the `recording_segments` table in the event store's schema,
migrated with it (adapters.postgres.schema), through a pool of its own opened the same way
as the store's. It leaves the events' retention to the event store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detektor.adapters.postgres.pool import open_pool
from detektor.adapters.postgres.schema import migrate
from detektor.adapters.recordingkit import SqlRecordingIndex


class PostgresRecordingIndex(SqlRecordingIndex):
    _mark = "%s"
    _ts = "%s::timestamptz"

    def __init__(
        self,
        url: str,
        *,
        schema: str = "detektor",
        min_size: int = 1,
        max_size: int = 2,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._schema = schema
        self._pool = open_pool(
            url,
            schema,
            name="detektor-recordings",
            min_size=min_size,
            max_size=max_size,
            connect_timeout_s=connect_timeout_s,
        )

    def migrate(self) -> list[str]:
        with self._pool.connection() as conn:
            return migrate(conn, self._schema, None)

    def _fetch(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(statement.encode(), params).fetchall()

    def _change(self, statement: str, batches: Sequence[Sequence[object]]) -> int:
        with self._pool.connection() as conn, conn.transaction():
            return sum(conn.execute(statement.encode(), params).rowcount for params in batches)

    def close(self) -> None:
        self._pool.close()
