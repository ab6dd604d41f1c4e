"""The SQLite RecordingIndex: the `recording_segments` table in the event store's database
file, migrated with it (adapters.sqlite.schema), on a connection of its own opened the same
way as the store's (WAL, so the recorder adds while the API reads)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from detektor.adapters.recordingkit import SqlRecordingIndex
from detektor.adapters.sqlite import connection, schema


class SqliteRecordingIndex(SqlRecordingIndex):
    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self._lock = threading.Lock()
        self._db = connection.connect(path, busy_timeout_ms)

    def migrate(self) -> list[str]:
        with self._lock:
            return schema.migrate(self._db)

    def _fetch(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(statement, params).fetchall()

    def _change(self, statement: str, batches: Sequence[Sequence[object]]) -> int:
        with connection.transaction(self._db, self._lock) as db:
            return sum(db.execute(statement, params).rowcount for params in batches)

    def close(self) -> None:
        with self._lock:
            self._db.close()
