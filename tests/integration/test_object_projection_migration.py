"""Upgrading a store made by the migrations before the object projection (SQLite 0001-0003,
PostgreSQL 0001-0004): the new migration (SQLite 0004, PostgreSQL 0005) creates the tables and
folds the object events already stored, and the store keeps them up to date from then on."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from contract.builders import E, event, folded, frame, life, lifecycle, oid
from detektor.adapters.postgres import PostgresEventStore
from detektor.adapters.postgres import codec as pg_codec
from detektor.adapters.postgres import schema as pg_schema
from detektor.adapters.sqlite import SqliteEventStore
from detektor.adapters.sqlite import codec as sqlite_codec
from detektor.adapters.sqlite import schema as sqlite_schema
from detektor.domain.events import Envelope
from detektor.ports import EventStore, ObjectQuery
from support.postgres import temporary_database

# Stored by the old build: a frame's lifecycle and two objects, one of them still active.
OLD_FRAME = frame(1)
FIRST, SECOND = life(1), life(2, 500, label="car", ended=False)
BEFORE = [*lifecycle(OLD_FRAME), *FIRST, *SECOND]


def sqlite_before(tmp_path: Path) -> str:
    """A database at SQLite schema 0003 holding BEFORE, written as that build wrote it."""
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        assert sqlite_schema.migrate(db, sqlite_schema.MIGRATIONS[:3]) == ["0001", "0002", "0003"]
        db.executemany(sqlite_codec.INSERT_EVENT, [sqlite_codec.event_params(e) for e in BEFORE])
    finally:
        db.close()
    return path


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with temporary_database("detektor_obj_migration") as url:
        yield url


def postgres_before(url: str) -> str:
    """A schema at PostgreSQL 0001-0004 (0004 is skipped without TimescaleDB) with BEFORE."""
    schema = f"m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        applied = pg_schema.migrate(conn, schema, 7.0, pg_schema.MIGRATIONS[:4])
        assert applied[:3] == ["0001", "0002", "0003"]
        columns = ", ".join(pg_codec.EVENT_INSERT_COLUMNS[1:-1])
        for e in BEFORE:
            conn.execute(
                f"INSERT INTO events ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                (
                    e.event_id,
                    str(e.frame_id),
                    e.camera,
                    e.type.value,
                    e.occurred_at,
                    e.trace_id,
                    e.span_id,
                    e.schema_version,
                    pg_codec.dumps(e.data),
                ),
            )
    return schema


@pytest.fixture(params=["sqlite", "postgres"])
def upgrade(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Callable[[], EventStore], str]]:
    """(open the old store with this build, the version its migration will apply)."""
    opened: list[EventStore] = []
    if request.param == "sqlite":
        path = sqlite_before(tmp_path)

        def open_one() -> EventStore:
            opened.append(SqliteEventStore(path))
            return opened[-1]

        version = "0004"
    else:
        url: str = request.getfixturevalue("pg_database")
        schema = postgres_before(url)

        def open_one() -> EventStore:
            opened.append(PostgresEventStore(url, schema=schema))
            return opened[-1]

        version = "0005"
    try:
        yield open_one, version
    finally:
        for store in opened:
            store.close()


def objects_of(events: list[Envelope]) -> list[Envelope]:
    return [e for e in events if e.is_object_event]


def test_migrating_an_old_store_folds_the_objects_it_already_holds(
    upgrade: tuple[Callable[[], EventStore], str],
) -> None:
    open_store, version = upgrade
    store = open_store()
    # The object projection's migration, then every one that came after it (recordings).
    applied = store.migrate()
    schema = sqlite_schema if isinstance(store, SqliteEventStore) else pg_schema
    assert applied[0] == version
    assert applied == [m.version for m in schema.MIGRATIONS if m.version >= version]
    assert store.migrate() == []
    first, second = FIRST, SECOND
    page = store.objects(ObjectQuery())
    assert [v.object_id for v in page.objects] == [oid(second), oid(first)]
    assert page.objects == [folded(second), folded(first)]
    assert store.object(oid(first)) == (folded(first), first)
    # The frame's projection is untouched by the upgrade.
    view = store.frame(OLD_FRAME)
    assert view is not None
    assert view.state.value == "completed"


def test_after_the_upgrade_appends_keep_the_objects_current(
    upgrade: tuple[Callable[[], EventStore], str],
) -> None:
    open_store, _ = upgrade
    store = open_store()
    store.migrate()
    second = SECOND
    last = second[-1]
    ended = event(
        E.OBJECT_ENDED,
        last.frame_id,
        (last.occurred_at - OLD_FRAME.captured_at).total_seconds() * 1000 + 900,
        data={**dict(last.data), "state": "ended", "changes": []},
    )
    store.append([ended])
    found = store.object(oid(second))
    assert found == (folded([*second, ended]), [*second, ended])
    # Another handle (another process) reads the same.
    other = open_store()
    assert other.object(oid(second)) == found
    assert len(objects_of([e for _, e in other.read_log(0, 1000)])) == len(objects_of(BEFORE)) + 1
