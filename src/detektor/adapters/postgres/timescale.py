"""TimescaleDB, used when the server has it: `events` becomes a hypertable on occurred_at,
compressed after a day and dropped after `retention_days` by a retention policy.

UNTESTED HERE: TimescaleDB cannot be installed in the development environment. Only the
decision (`Support.usable`) and the generated SQL are unit-tested; the statements follow the
TimescaleDB 2.x documentation. Plain PostgreSQL is the tested path, where `purge()` deletes in
batches. Everything Timescale-specific lives in this module so the two paths stay apart.

Unique keys on a hypertable must include the partitioning column, so the log's two unique
keys become (position, occurred_at) and (event_id, occurred_at). Event ids stay unique on
their own without a side table of ids (which retention would not trim, and which would cost
every append another index write): appends are serialised by the append lock and look the
batch's ids up before inserting, so the unique index is only a backstop. It still catches a
redelivered envelope, which carries the same occurred_at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Connection

log = logging.getLogger(__name__)

EXTENSION = "timescaledb"
CHUNK_INTERVAL = "INTERVAL '1 day'"
_COMPRESS_AFTER_S = 86_400  # a day: lookups of a frame's timeline are mostly of recent ones


@dataclass(frozen=True, slots=True)
class Support:
    """What the server offers; `probe` reads it."""

    available: bool  # pg_available_extensions lists it
    preloaded: bool  # in shared_preload_libraries, without which CREATE EXTENSION fails
    installed_in: str | None  # the schema holding the extension's functions, once created
    hypertable: bool  # `events` in the current schema already is one

    @property
    def usable(self) -> bool:
        return self.installed_in is not None or (self.available and self.preloaded)


def probe(conn: Connection[Any]) -> Support:
    available, preloaded, installed_in = _one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = %(x)s), "
        "%(x)s = ANY (string_to_array(replace("
        "current_setting('shared_preload_libraries'), ' ', ''), ',')), "
        "(SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = %(x)s)",
        {"x": EXTENSION},
    )
    hypertable = False
    if installed_in is not None:
        (hypertable,) = _one(
            conn,
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = current_schema() AND hypertable_name = 'events')",
        )
    return Support(bool(available), bool(preloaded), installed_in, bool(hypertable))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def interval(seconds: float) -> str:
    return f"INTERVAL '{round(seconds)} seconds'"


def conversion_statements(ext_schema: str, retention_days: float) -> list[str]:
    """Turn the plain `events` table of migration 0001 into a compressed hypertable."""
    ts = quote(ext_schema)
    retention_s = retention_days * 86_400
    return [
        "ALTER TABLE events DROP CONSTRAINT events_pkey",
        "ALTER TABLE events DROP CONSTRAINT events_event_id_key",
        "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (position, occurred_at)",
        "ALTER TABLE events ADD CONSTRAINT events_event_id_key UNIQUE (event_id, occurred_at)",
        # The hypertable gets its own B-tree on occurred_at, which purge then uses.
        "DROP INDEX events_occurred",
        f"SELECT {ts}.create_hypertable('events', 'occurred_at', "
        f"chunk_time_interval => {CHUNK_INTERVAL}, migrate_data => true)",
        # By camera: a frame's events stay in one segment, and there are few cameras.
        "ALTER TABLE events SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'camera', "
        "timescaledb.compress_orderby = 'occurred_at, position')",
        f"SELECT {ts}.add_compression_policy('events', "
        f"compress_after => {interval(min(_COMPRESS_AFTER_S, retention_s / 2))}, "
        "if_not_exists => true)",
        *retention_statements(ext_schema, retention_days),
    ]


def retention_statements(ext_schema: str, retention_days: float) -> list[str]:
    """Replace the retention policy, so a changed `retention_days` takes effect."""
    ts = quote(ext_schema)
    return [
        f"SELECT {ts}.remove_retention_policy('events', if_exists => true)",
        f"SELECT {ts}.add_retention_policy('events', "
        f"drop_after => {interval(retention_days * 86_400)})",
    ]


def convert(conn: Connection[Any], retention_days: float) -> bool:
    """Migration 0004: convert when the server can; False (not recorded) when it cannot."""
    support = probe(conn)
    if not support.usable:
        return False
    try:
        # A savepoint: without the rights to create the extension, the store still works on
        # plain PostgreSQL instead of failing the whole migration.
        with conn.transaction():
            ext_schema = support.installed_in
            if ext_schema is None:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {EXTENSION} WITH SCHEMA public")
                ext_schema = "public"
            for statement in conversion_statements(ext_schema, retention_days):
                conn.execute(statement)
    except psycopg.Error as exc:
        log.warning("TimescaleDB is available but events could not be converted: %s", exc)
        return False
    return True


def update_retention(conn: Connection[Any], retention_days: float) -> None:
    support = probe(conn)
    if support.hypertable and support.installed_in is not None:
        for statement in retention_statements(support.installed_in, retention_days):
            conn.execute(statement)


def drop_chunks(conn: Connection[Any], ext_schema: str, older_than: datetime) -> int:
    """Drop whole chunks before the cutoff; returns how many events were older than it. The
    caller's batched DELETE removes those left in the chunk that straddles the cutoff."""
    (older,) = _one(conn, "SELECT count(*) FROM events WHERE occurred_at < %s", (older_than,))
    conn.execute(
        f"SELECT {quote(ext_schema)}.drop_chunks('events', older_than => %s)",
        (older_than,),
    )
    return int(older)


def _one(conn: Connection[Any], query: Any, params: Any = None) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)
