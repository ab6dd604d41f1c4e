# ruff: noqa: S608
# The statements below are assembled from constant column lists; every value is bound.
"""The SQLite store's object projection: one `objects` row per object (filter columns and
the whole row as JSON) and `object_zones`, the zones each ever entered, which the zone filter
reads through its primary key. Every function runs in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from detektor.adapters.object_json import row_from_json, row_to_json
from detektor.adapters.objectkit import (
    ObjectFilter,
    ObjectRow,
    advance_row,
    object_id_of,
    refold,
)
from detektor.adapters.sqlite import codec
from detektor.domain.events import OBJECT_EVENT_TYPES, Envelope
from detektor.domain.fields import format_timestamp

_UPSERT = (
    "INSERT INTO objects (object_id, camera, label, state, started_at, body) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (object_id) DO UPDATE SET camera = excluded.camera, "
    "label = excluded.label, state = excluded.state, started_at = excluded.started_at, "
    "body = excluded.body"
)
_OBJECT_TYPES = ", ".join(sorted(f"'{t.value}'" for t in OBJECT_EVENT_TYPES))
# The object ids of a frame's object events: what purging the frame touches.
_TOUCHED = (
    "SELECT DISTINCT json_extract(data, '$.object_id') FROM events "
    f"WHERE frame_id = ? AND type IN ({_OBJECT_TYPES})"
)


def load(db: sqlite3.Connection, object_id: str) -> ObjectRow | None:
    found = db.execute("SELECT body FROM objects WHERE object_id = ?", (object_id,)).fetchone()
    return None if found is None else row_from_json(found[0])


def save(db: sqlite3.Connection, old: ObjectRow | None, new: ObjectRow) -> None:
    view = new.view
    db.execute(
        _UPSERT,
        (
            view.object_id,
            view.camera,
            view.label,
            view.state.value,
            format_timestamp(view.first_seen),
            row_to_json(new),
        ),
    )
    if old is not None and old.view.zones_entered == view.zones_entered:
        return
    db.execute("DELETE FROM object_zones WHERE object_id = ?", (view.object_id,))
    db.executemany(
        "INSERT INTO object_zones (zone, object_id) VALUES (?, ?)",
        [(zone, view.object_id) for zone in view.zones_entered],
    )


def delete(db: sqlite3.Connection, object_id: str) -> None:
    db.execute("DELETE FROM object_zones WHERE object_id = ?", (object_id,))
    db.execute("DELETE FROM objects WHERE object_id = ?", (object_id,))


def events_at(db: sqlite3.Connection, positions: Sequence[int]) -> list[tuple[int, Envelope]]:
    """The stored events at `positions` (those still stored), in position order."""
    if not positions:
        return []
    records = db.execute(
        f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE position IN "
        "(SELECT value FROM json_each(?)) ORDER BY position",
        (f"[{','.join(str(p) for p in positions)}]",),
    ).fetchall()
    return [codec.event_from(record) for record in records]


def advance(db: sqlite3.Connection, position: int, envelope: Envelope) -> None:
    """Move the object's row by its event, just inserted at `position`."""
    old = load(db, object_id_of(envelope))
    new = advance_row(old, position, envelope, lambda: events_at(db, old.positions if old else ()))
    save(db, old, new)


def touched(db: sqlite3.Connection, frame_id: str) -> set[str]:
    return {str(object_id) for (object_id,) in db.execute(_TOUCHED, (frame_id,))}


def resync(db: sqlite3.Connection, object_ids: Iterable[str]) -> None:
    """After some of their events were purged: re-fold each object from the events left, or
    delete it when none are."""
    for object_id in sorted(object_ids):
        old = load(db, object_id)
        if old is None:
            continue
        new = refold(events_at(db, old.positions))
        if new is None:
            delete(db, object_id)
        else:
            save(db, old, new)


def select(db: sqlite3.Connection, chosen: ObjectFilter) -> list[ObjectRow]:
    """Up to `limit` + 1 rows of the list, newest first."""
    where, params = chosen.columns("?", row_compare=False)
    if chosen.query.zone is not None:
        where.append("object_id IN (SELECT object_id FROM object_zones WHERE zone = ?)")
        params.append(chosen.query.zone)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    records = db.execute(
        f"SELECT body FROM objects{condition} ORDER BY started_at DESC, object_id DESC LIMIT ?",
        (*params, chosen.limit + 1),
    ).fetchall()
    return [row_from_json(body) for (body,) in records]


def backfill(db: sqlite3.Connection) -> None:
    """Migration 0004: fold the object events stored before the projection existed."""
    streams: dict[str, list[tuple[int, Envelope]]] = {}
    records = db.execute(
        f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE type IN ({_OBJECT_TYPES}) "
        "ORDER BY position"
    )
    for record in records:
        position, envelope = codec.event_from(record)
        streams.setdefault(object_id_of(envelope), []).append((position, envelope))
    for stream in streams.values():
        row = refold(stream)
        assert row is not None
        save(db, None, row)
