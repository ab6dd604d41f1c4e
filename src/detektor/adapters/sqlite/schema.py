"""The SQLite event store's tables and their versioned migrations.

Migrations are an ordered list; each one runs in its own transaction together with its row in
`schema_migrations`, so a crash leaves the schema at a known version, and running `migrate`
again (or in two processes at once) applies only what is missing. Released migrations are
never edited: a change is a new migration at the end of the list.

A migration may also run code after its statements (`run`), in the same transaction: 0004
folds the object events already stored into the new object projection.

Timestamps are stored as `domain.fields.format_timestamp` text, fixed-width UTC, so comparing
and ordering the text is comparing and ordering the instants.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from detektor.adapters.sqlite import objects
from detektor.domain.fields import format_timestamp


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    statements: tuple[str, ...]
    run: Callable[[sqlite3.Connection], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001",
        "event log",
        (
            # AUTOINCREMENT, unlike a plain rowid, never reuses a position after the newest
            # events are purged, so a catch-up reader's `after` can never skip a new event.
            """CREATE TABLE events (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                event_id TEXT NOT NULL UNIQUE,
                frame_id TEXT NOT NULL,
                camera TEXT NOT NULL,
                type TEXT NOT NULL,
                occurred_at TEXT NOT NULL,
                trace_id TEXT,
                span_id TEXT,
                schema_version INTEGER NOT NULL,
                data TEXT NOT NULL,
                anomaly TEXT
            )""",
            "CREATE INDEX events_frame ON events (frame_id, position)",
            "CREATE INDEX events_occurred ON events (occurred_at)",  # for purge
        ),
    ),
    Migration(
        "0002",
        "frame projection and per-camera counts",
        (
            """CREATE TABLE frames (
                frame_id TEXT PRIMARY KEY,
                camera TEXT NOT NULL,
                state TEXT NOT NULL,
                captured_at TEXT NOT NULL,
                last_event_at TEXT NOT NULL,
                last_position INTEGER NOT NULL,
                version INTEGER NOT NULL,
                has_captured INTEGER NOT NULL,
                reason TEXT,
                terminal_at TEXT,
                trace_id TEXT,
                anomalies INTEGER NOT NULL
            )""",
            # The frame list's orders: newest first, per camera, per state.
            "CREATE INDEX frames_captured ON frames (captured_at, frame_id)",
            "CREATE INDEX frames_camera ON frames (camera, captured_at, frame_id)",
            "CREATE INDEX frames_state ON frames (state, captured_at, frame_id)",
            # Accounting's stale count, and purge's search for old finished frames.
            "CREATE INDEX frames_camera_state ON frames (camera, state, last_event_at)",
            "CREATE INDEX frames_last_event ON frames (last_event_at)",
            # One row per accounting bucket, kept in step with `frames` in each transaction,
            # so accounting reads a handful of rows however many frames a camera has.
            # has_captured is part of the bucket: frames without it are accounting's orphans.
            """CREATE TABLE camera_counts (
                camera TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                has_captured INTEGER NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (camera, state, reason, has_captured)
            )""",
        ),
    ),
    Migration(
        "0003",
        "consumer checkpoints",
        ("CREATE TABLE checkpoints (consumer TEXT PRIMARY KEY, position TEXT NOT NULL)",),
    ),
    Migration(
        "0004",
        "object projection",
        (
            # The filter and order columns, and the whole row (view, positions, fold key) as
            # JSON in `body`, which is what reads return (adapters.objectkit).
            """CREATE TABLE objects (
                object_id TEXT PRIMARY KEY,
                camera TEXT NOT NULL,
                label TEXT NOT NULL,
                state TEXT NOT NULL,
                started_at TEXT NOT NULL,
                body TEXT NOT NULL
            )""",
            # The object list's orders: newest first, per camera, label and state.
            "CREATE INDEX objects_started ON objects (started_at, object_id)",
            "CREATE INDEX objects_camera ON objects (camera, started_at, object_id)",
            "CREATE INDEX objects_label ON objects (label, started_at, object_id)",
            "CREATE INDEX objects_state ON objects (state, started_at, object_id)",
            # Every zone each object ever entered, for the zone filter.
            """CREATE TABLE object_zones (
                zone TEXT NOT NULL,
                object_id TEXT NOT NULL,
                PRIMARY KEY (zone, object_id)
            )""",
            "CREATE INDEX object_zones_object ON object_zones (object_id)",
        ),
        run=objects.backfill,
    ),
    Migration(
        "0005",
        "recording segments",
        (
            # The recording index (adapters.recordingkit): one row per closed segment file.
            # The primary key is the per-camera order; the path is unique as well, since
            # retention removes by path.
            """CREATE TABLE recording_segments (
                camera TEXT NOT NULL,
                start_at TEXT NOT NULL,
                end_at TEXT NOT NULL,
                path TEXT NOT NULL UNIQUE,
                bytes INTEGER NOT NULL CHECK (bytes >= 0),
                codec TEXT NOT NULL,
                keyframes INTEGER NOT NULL CHECK (keyframes >= 0),
                audio INTEGER NOT NULL,
                PRIMARY KEY (camera, start_at),
                CHECK (end_at >= start_at)
            )""",
            # All cameras in start order: the unfiltered list and retention's walk.
            "CREATE INDEX recording_segments_start ON recording_segments (start_at, camera)",
        ),
    ),
    Migration(
        "0006",
        "recording spans",
        (
            # Gaps in a camera's recording and the motion in it (adapters.recording_spans).
            """CREATE TABLE recording_spans (
                camera TEXT NOT NULL,
                kind TEXT NOT NULL,
                start_at TEXT NOT NULL,
                end_at TEXT NOT NULL,
                reason TEXT NOT NULL,
                PRIMARY KEY (camera, kind, start_at),
                CHECK (end_at > start_at)
            )""",
            "CREATE INDEX recording_spans_start ON recording_spans (kind, start_at)",
        ),
    ),
    Migration(
        "0007",
        "recording totals index",
        (
            # Retention's totals per camera from the index alone, every sweep (ADR 35).
            "CREATE INDEX recording_segments_totals ON recording_segments (camera, bytes)",
        ),
    ),
)


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the pending migrations on a connection in autocommit mode; returns their
    versions. Raises RuntimeError for a database migrated by a newer build. (`migrations`:
    a prefix of MIGRATIONS, for tests that build a database of an earlier version.)"""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    known = {m.version for m in MIGRATIONS}
    unknown = sorted(
        version
        for (version,) in db.execute("SELECT version FROM schema_migrations")
        if version not in known
    )
    if unknown:
        raise RuntimeError(
            f"the database has schema versions {', '.join(unknown)} that this build does not "
            "know; it was migrated by a newer detektor, so upgrade this one"
        )
    applied: list[str] = []
    for migration in migrations:
        # IMMEDIATE takes the write lock before the check, so two processes migrating at
        # once cannot both decide to apply the same migration.
        db.execute("BEGIN IMMEDIATE")
        try:
            done = db.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if done is None:
                for statement in migration.statements:
                    db.execute(statement)
                if migration.run is not None:
                    migration.run(db)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, format_timestamp(datetime.now(UTC))),
                )
                applied.append(migration.version)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return applied
