# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""The PostgreSQL EventStore's maintenance writes: replacing projection rows with rebuilt
ones (replay) and purging old frames (ADR 13). `store` validates the arguments and lends a
pooled connection; the transactions are opened here.

Both take the schema's append lock, so per-camera counts never drift from the rows they
summarise; a purge also takes the service lock's key in shared mode, so it waits while a
replay holds it (`service_lock`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import Connection

from detektor.adapters.postgres import codec, objects, timescale
from detektor.adapters.postgres.schema import IS_FINISHED, IS_IN_FLIGHT
from detektor.domain.projection import FrameRow

_RECOUNT = (
    "INSERT INTO camera_counts (camera, state, reason, has_captured, n) "
    "SELECT camera, state, coalesce(reason, ''), has_captured, count(*) FROM frames "
    "WHERE camera = ANY(%b) GROUP BY 1, 2, 3, 4"
)
# Finished and in-flight frames each through their partial index on last_event_at.
_DELETE_OLD_FRAMES = (
    "DELETE FROM frames WHERE frame_id = ANY(ARRAY("
    f"(SELECT frame_id FROM frames WHERE {IS_FINISHED} AND last_event_at < %s) UNION ALL "
    f"(SELECT frame_id FROM frames WHERE {IS_IN_FLIGHT} AND last_event_at < %s) LIMIT %s)) "
    "RETURNING frame_id, camera, state, coalesce(reason, ''), has_captured"
)
_SUBTRACT_COUNTS = (
    "UPDATE camera_counts c SET n = c.n - d.n FROM unnest("
    "%b::text[], %b::text[], %b::text[], %b::bool[], %b::int8[]) AS d(camera, state, reason, "
    "has_captured, n) WHERE (c.camera, c.state, c.reason, c.has_captured) = "
    "(d.camera, d.state, d.reason, d.has_captured)"
)


def replace_rows(conn: Connection[Any], lock: int, rows: Sequence[FrameRow]) -> None:
    """Overwrite the rows and recount their cameras, in one transaction."""
    latest = {row.frame_id: row for row in rows}  # the last of repeated ids wins
    ordered = [latest[frame_id] for frame_id in sorted(latest)]
    cameras = sorted({row.camera for row in ordered})
    with conn.transaction(), conn.pipeline():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        conn.execute(codec.UPSERT_FRAMES, codec.frame_columns(ordered))
        conn.execute("DELETE FROM camera_counts WHERE camera = ANY(%b)", (cameras,))
        conn.execute(_RECOUNT, (cameras,))


def purge(
    conn: Connection[Any],
    service_key: int,
    lock: int,
    timescale_schema: str | None,
    older_than: datetime,
    batch_size: int,
) -> int:
    """Delete whole frames last touched before the cutoff, `batch_size` at a time, and then
    the TimescaleDB chunks they emptied (`timescale_schema` is None without a hypertable).
    Returns the number of events deleted."""
    deleted = 0
    # Whole frames (ADR 13); each batch commits on its own, so a large purge never
    # holds the append lock for long.
    while True:
        frames, events = _purge_frames(conn, service_key, lock, older_than, batch_size)
        deleted += events
        if frames < batch_size:
            break
    if timescale_schema is not None:
        # Only chunks before the oldest event still kept: those are empty by now.
        row = conn.execute("SELECT min(occurred_at) FROM events").fetchone()
        oldest = row[0] if row and row[0] is not None else older_than
        timescale.drop_chunks(conn, timescale_schema, min(oldest, older_than))
    return deleted


def _purge_frames(
    conn: Connection[Any], service_key: int, lock: int, older_than: datetime, limit: int
) -> tuple[int, int]:
    """Delete up to `limit` frames last touched before the cutoff, with their events and
    counts; returns (frames, events) deleted."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (service_key,))
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        gone = conn.execute(_DELETE_OLD_FRAMES, (older_than, older_than, limit)).fetchall()
        if not gone:
            return 0, 0
        deleted = conn.execute(objects.DELETE_EVENTS, ([g[0] for g in gone],)).fetchone()
        assert deleted is not None
        events, touched = int(deleted[0]), list(deleted[1])
        if touched:
            objects.resync(conn, touched)
        counts = Counter(tuple(record[1:]) for record in gone)
        keys = sorted(counts)
        conn.execute(
            _SUBTRACT_COUNTS,
            [[key[i] for key in keys] for i in range(4)] + [[counts[k] for k in keys]],
        )
    return len(gone), events
