"""The PostgreSQL event store's tables, their versioned migrations, and the advisory-lock keys.

Migrations are an ordered list recorded in `schema_migrations (version, name, applied_at)`.
`migrate` runs every pending one in a single transaction that first takes a database-wide
`pg_advisory_xact_lock`, so two processes starting at once apply each migration exactly once:
the second waits, then (READ COMMITTED takes a fresh snapshot per statement) sees the first
one's rows and applies nothing. The lock also covers `CREATE SCHEMA IF NOT EXISTS` and
`CREATE EXTENSION`, which race on catalog unique indexes when run concurrently. Released
migrations are never edited: a change is a new migration at the end of the list.

A migration may run code after its statements (`run`). One that has only code may be
conditional (TimescaleDB): when its condition does not hold it is not recorded, so it is
reconsidered on every start and applies once the server supports it. 0005 creates the object
projection and folds the object events already stored into it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from detektor.adapters.postgres import objects, timescale
from detektor.adapters.storekit import FINISHED

DEFAULT_RETENTION_DAYS = 7.0  # of events, when no event store says otherwise
SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Spelled out once: the partial indexes' predicates must match the queries' text exactly for
# the planner to use them.
FINISHED_SQL = ", ".join(f"'{state}'" for state in FINISHED)
IS_FINISHED = f"state IN ({FINISHED_SQL})"
IS_IN_FLIGHT = f"state NOT IN ({FINISHED_SQL})"


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key (Python's hash() changes between runs)."""
    digest = hashlib.blake2b("\0".join(("detektor", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# Database-wide rather than per schema: CREATE EXTENSION is per database.
MIGRATION_LOCK = lock_key("migrate")


def append_lock(schema: str) -> int:
    """The key every append (and every projection rewrite) in `schema` serialises on."""
    return lock_key("append", schema)


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    statements: tuple[str, ...] = ()
    # After the statements: runs code of the migration and says whether it applied; False
    # (only for a migration without statements) leaves it unrecorded, to be tried again.
    run: Callable[[Connection[Any], float], bool] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001",
        "event log",
        (
            # GENERATED ALWAYS: only the store assigns positions (COPY writes the ones it
            # allocated under the append lock). COLLATE "C" makes text order byte order, the
            # order the other stores and the cursors use, whatever the database's locale.
            """CREATE TABLE events (
                position bigint GENERATED ALWAYS AS IDENTITY
                    (SEQUENCE NAME events_position_seq) PRIMARY KEY,
                event_id uuid NOT NULL,
                frame_id text COLLATE "C" NOT NULL,
                camera text COLLATE "C" NOT NULL,
                type text NOT NULL,
                occurred_at timestamptz NOT NULL,
                trace_id text,
                span_id text,
                schema_version smallint NOT NULL,
                data jsonb NOT NULL,
                anomaly text,
                CONSTRAINT events_event_id_key UNIQUE (event_id)
            )""",
            "CREATE INDEX events_frame ON events (frame_id, position)",
            # For purge. BRIN: the log is appended roughly in time order, so a few bytes per
            # block range do, and appends do not pay for another B-tree.
            "CREATE INDEX events_occurred ON events USING brin (occurred_at)",
        ),
    ),
    Migration(
        "0002",
        "frame projection and per-camera counts",
        (
            """CREATE TABLE frames (
                frame_id text COLLATE "C" PRIMARY KEY,
                camera text COLLATE "C" NOT NULL,
                state text NOT NULL,
                captured_at timestamptz NOT NULL,
                last_event_at timestamptz NOT NULL,
                last_position bigint NOT NULL,
                version integer NOT NULL,
                has_captured boolean NOT NULL,
                reason text,
                terminal_at timestamptz,
                trace_id text,
                anomalies integer NOT NULL
            )""",
            # The frame list's orders: newest first, overall, per camera, per state.
            "CREATE INDEX frames_captured ON frames (captured_at DESC, frame_id DESC)",
            "CREATE INDEX frames_camera ON frames (camera, captured_at DESC, frame_id DESC)",
            "CREATE INDEX frames_state ON frames (state, captured_at DESC, frame_id DESC)",
            # Accounting's stale count reads only in-flight frames; purge only finished ones.
            f"CREATE INDEX frames_in_flight ON frames (camera, last_event_at) WHERE {IS_IN_FLIGHT}",
            f"CREATE INDEX frames_finished ON frames (last_event_at) WHERE {IS_FINISHED}",
            # One row per accounting bucket, moved in step with `frames` in each transaction,
            # so accounting reads a handful of rows however many frames a camera has.
            # has_captured is part of the bucket: frames without it are accounting's orphans.
            """CREATE TABLE camera_counts (
                camera text COLLATE "C" NOT NULL,
                state text NOT NULL,
                reason text NOT NULL DEFAULT '',
                has_captured boolean NOT NULL,
                n bigint NOT NULL,
                PRIMARY KEY (camera, state, reason, has_captured)
            )""",
        ),
    ),
    Migration(
        "0003",
        "consumer checkpoints",
        (
            """CREATE TABLE checkpoints (
                consumer text PRIMARY KEY,
                position text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            )""",
        ),
    ),
    Migration("0004", "timescaledb hypertable, compression and retention", run=timescale.convert),
    Migration(
        "0005",
        "object projection",
        (
            # The filter and order columns, written from `body` (the whole row as JSON:
            # view, event positions, fold key; adapters.objectkit), which reads return.
            """CREATE TABLE objects (
                object_id text COLLATE "C" PRIMARY KEY,
                camera text COLLATE "C" NOT NULL,
                label text COLLATE "C" NOT NULL,
                state text NOT NULL,
                started_at timestamptz NOT NULL,
                zones_entered text[] NOT NULL,
                body jsonb NOT NULL
            )""",
            # The object list's orders: newest first, overall, per camera, label and state;
            # and the zone filter (`zones_entered @> ARRAY[zone]`).
            "CREATE INDEX objects_started ON objects (started_at DESC, object_id DESC)",
            "CREATE INDEX objects_camera ON objects (camera, started_at DESC, object_id DESC)",
            "CREATE INDEX objects_label ON objects (label, started_at DESC, object_id DESC)",
            "CREATE INDEX objects_state ON objects (state, started_at DESC, object_id DESC)",
            "CREATE INDEX objects_zones ON objects USING gin (zones_entered)",
        ),
        run=objects.backfill,
    ),
    Migration(
        "0006",
        "recording segments",
        (
            # The recording index (adapters.recordingkit): one row per closed segment file.
            # The primary key is the per-camera order; the path is unique as well, since
            # retention removes by path.
            """CREATE TABLE recording_segments (
                camera text COLLATE "C" NOT NULL,
                start_at timestamptz NOT NULL,
                end_at timestamptz NOT NULL,
                path text COLLATE "C" NOT NULL,
                bytes bigint NOT NULL CHECK (bytes >= 0),
                codec text NOT NULL,
                keyframes bigint NOT NULL CHECK (keyframes >= 0),
                audio boolean NOT NULL,
                PRIMARY KEY (camera, start_at),
                CONSTRAINT recording_segments_path_key UNIQUE (path),
                CHECK (end_at >= start_at)
            )""",
            # All cameras in start order: the unfiltered list and retention's walk.
            "CREATE INDEX recording_segments_start ON recording_segments (start_at, camera)",
        ),
    ),
    Migration(
        "0007",
        "recording spans",
        (
            # Gaps in a camera's recording and the motion in it (adapters.recording_spans).
            """CREATE TABLE recording_spans (
                camera text COLLATE "C" NOT NULL,
                kind text NOT NULL,
                start_at timestamptz NOT NULL,
                end_at timestamptz NOT NULL,
                reason text NOT NULL,
                PRIMARY KEY (camera, kind, start_at),
                CHECK (end_at > start_at)
            )""",
            "CREATE INDEX recording_spans_start ON recording_spans (kind, start_at)",
        ),
    ),
    Migration(
        "0008",
        "recording totals index",
        (
            # Retention's totals per camera from the index alone, every sweep (ADR 35).
            "CREATE INDEX recording_segments_totals ON recording_segments (camera, bytes)",
        ),
    ),
)


def _require_utf8(conn: Connection[Any]) -> None:
    """Refuse a database that is not UTF8. initdb without a UTF-8 locale makes SQL_ASCII
    databases, where psycopg reads text as bytes and jsonb refuses any non-ASCII escape:
    every event would be dead-lettered, so say so once, at start, with the fix."""
    row = conn.execute("SHOW server_encoding").fetchone()
    value = row[0] if row else ""
    encoding = value.decode() if isinstance(value, bytes) else str(value)
    if encoding.upper() not in ("UTF8", "UTF-8"):
        name = conn.info.dbname
        raise RuntimeError(
            f"database {name!r} uses the {encoding} encoding; Detektor needs UTF8. Create it "
            f"with: CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0 (or run "
            "initdb with --encoding=UTF8 or a UTF-8 locale)"
        )


def migrate(
    conn: Connection[Any],
    schema: str,
    retention_days: float | None,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[str]:
    """Apply the pending migrations to `schema` (created if missing); returns their versions.

    `conn` must be in autocommit mode with its search_path set to `schema`. Raises
    RuntimeError for a schema migrated by a newer build. (`migrations`: a prefix of
    MIGRATIONS, for tests that build a schema of an earlier version.) `retention_days` is the
    event store's; None, from an adapter that does not own the events (the recording index),
    leaves the retention as it is and takes DEFAULT_RETENTION_DAYS if it creates it.
    """
    _require_utf8(conn)
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        recorded = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        unknown = sorted(recorded - {m.version for m in MIGRATIONS})
        if unknown:
            raise RuntimeError(
                f"schema {schema!r} has migrations {', '.join(unknown)} that this build does "
                "not know; it was migrated by a newer detektor, so upgrade this one"
            )
        for migration in migrations:
            if migration.version in recorded:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            days = DEFAULT_RETENTION_DAYS if retention_days is None else retention_days
            if migration.run is not None and not migration.run(conn, days):
                continue
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
        if "0004" in recorded and retention_days is not None:
            # Retention follows the configured days on every start, not only the first.
            timescale.update_retention(conn, retention_days)
    return applied
