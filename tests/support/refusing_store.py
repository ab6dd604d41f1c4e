"""A real SQLite event store that refuses, by a trigger, any event whose data holds
``poison``: a refusal by the database itself, which validation at the door cannot foresee."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from detektor.adapters.sqlite import SqliteEventStore


def refusing_sqlite_store(path: Path) -> SqliteEventStore:
    store = SqliteEventStore(str(path))
    store.migrate()
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER no_poison BEFORE INSERT ON events "
            "WHEN json_extract(NEW.data, '$.poison') IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
        )
    return store
