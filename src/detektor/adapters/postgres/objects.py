# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""The PostgreSQL store's object projection: one `objects` row per object, its filter
columns derived server-side from `body` (the whole row as JSON, `adapters.objectkit`), the
zones it ever entered in a GIN-indexed array. Every function runs on the caller's connection,
in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from psycopg import Connection

from detektor.adapters.object_json import row_from_json, row_to_json
from detektor.adapters.objectkit import (
    ObjectFilter,
    ObjectRow,
    object_id_of,
    refold,
)
from detektor.adapters.postgres import codec
from detektor.domain.events import OBJECT_EVENT_TYPES, Envelope

Stream = list[tuple[int, Envelope]]

OBJECT_TYPES = ", ".join(sorted(f"'{t.value}'" for t in OBJECT_EVENT_TYPES))
SELECT_ROWS = "SELECT body FROM objects WHERE object_id = ANY(%b)"
# Any number of rows in one statement, so it rides in the append's write pipeline.
UPSERT_ROWS = (
    "INSERT INTO objects (object_id, camera, label, state, started_at, zones_entered, body) "
    "SELECT b->>'object_id', b->>'camera', b->>'label', b->>'state', "
    "(b->>'first_seen')::timestamptz, "
    "ARRAY(SELECT jsonb_array_elements_text(b->'zones_entered')), b "
    "FROM (SELECT t::jsonb AS b FROM unnest(%b::text[]) AS u(t)) AS rows "
    "ON CONFLICT (object_id) DO UPDATE SET camera = EXCLUDED.camera, label = EXCLUDED.label, "
    "state = EXCLUDED.state, started_at = EXCLUDED.started_at, "
    "zones_entered = EXCLUDED.zones_entered, body = EXCLUDED.body"
)
_EVENTS_AT = f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE position = ANY(%b) ORDER BY position"
# Purge's delete of a batch of frames' events: how many, and the objects they reported.
DELETE_EVENTS = (
    "WITH gone AS (DELETE FROM events WHERE frame_id = ANY(%b) RETURNING type, data) "
    "SELECT count(*), coalesce(array_agg(DISTINCT data->>'object_id') "
    f"FILTER (WHERE type IN ({OBJECT_TYPES})), '{{}}') FROM gone"
)


def upsert_params(rows: Iterable[ObjectRow]) -> tuple[list[str]]:
    return ([row_to_json(row) for row in rows],)


def load(conn: Connection[Any], object_ids: Sequence[str]) -> dict[str, ObjectRow]:
    if not object_ids:
        return {}
    rows = (row_from_json(body) for (body,) in conn.execute(SELECT_ROWS, (list(object_ids),)))
    return {row.object_id: row for row in rows}


def events_at(conn: Connection[Any], positions: Sequence[int]) -> Stream:
    """The stored events at `positions` (those still stored), in position order."""
    if not positions:
        return []
    return [codec.event_from(r) for r in conn.execute(_EVENTS_AT, (list(positions),))]


def streams(
    conn: Connection[Any], object_ids: Iterable[str], rows: Mapping[str, ObjectRow]
) -> dict[str, Stream]:
    """The stored events of each object (none for one without a row), in one query."""
    found: dict[str, Stream] = {object_id: [] for object_id in object_ids}
    positions = sorted(p for o in found if o in rows for p in rows[o].positions)
    for position, envelope in events_at(conn, positions):
        found[object_id_of(envelope)].append((position, envelope))
    return found


def resync(conn: Connection[Any], object_ids: Sequence[str]) -> None:
    """After some of their events were purged: re-fold each object from the events left, or
    delete it when none are."""
    rows = load(conn, sorted(object_ids))
    kept: list[ObjectRow] = []
    gone: list[str] = []
    for object_id, stream in sorted(streams(conn, rows, rows).items()):
        row = refold(stream)
        if row is None:
            gone.append(object_id)
        else:
            kept.append(row)
    if gone:
        conn.execute("DELETE FROM objects WHERE object_id = ANY(%b)", (gone,))
    if kept:
        conn.execute(UPSERT_ROWS, upsert_params(kept))


def select(conn: Connection[Any], chosen: ObjectFilter) -> list[ObjectRow]:
    """Up to `limit` + 1 rows of the list, newest first."""
    where, params = chosen.columns("%s", row_compare=True)
    if chosen.query.zone is not None:
        where.append("zones_entered @> ARRAY[%s]::text[]")
        params.append(chosen.query.zone)
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    records = conn.execute(
        f"SELECT body FROM objects {condition} ORDER BY started_at DESC, object_id DESC LIMIT %s",
        (*params, chosen.limit + 1),
    ).fetchall()
    return [row_from_json(body) for (body,) in records]


def backfill(conn: Connection[Any], _retention_days: float) -> bool:
    """Migration 0005: fold the object events stored before the projection existed."""
    found: dict[str, Stream] = {}
    records = conn.execute(
        f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE type IN ({OBJECT_TYPES}) ORDER BY position"
    )
    for record in records:
        position, envelope = codec.event_from(record)
        found.setdefault(object_id_of(envelope), []).append((position, envelope))
    rows = [refold(stream) for stream in found.values()]
    if rows:
        conn.execute(UPSERT_ROWS, upsert_params(row for row in rows if row is not None))
    return True
