"""What the SQLite store adds to the shared contract: a file that outlives the process,
versioned migrations, and several connections (processes) appending to one file."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detektor.adapters.sqlite import SqliteEventStore
from detektor.adapters.sqlite.schema import MIGRATIONS
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.ports import AppendStatus, Checkpoint

E = EventType
T0 = datetime(2025, 11, 27, 14, 3, 7, 123000, tzinfo=UTC)
DATA: dict[EventType, dict[str, object]] = {
    E.CAPTURED: {"width": 640, "height": 480, "pts": 9000, "source": "synthetic://"},
    E.QUEUED: {"stream": "detektor:frames"},
}


def frame(seq: int, camera: str = "porch") -> FrameId:
    return FrameId(camera, 1764252187123, seq)


def make_event(event_type: EventType, at_ms: int, *, frame: FrameId) -> Envelope:
    when = T0 + timedelta(milliseconds=at_ms)
    return Envelope.new(event_type, frame, DATA[event_type], occurred_at=when)


def events(seq: int, camera: str = "porch") -> list[Envelope]:
    f = frame(seq, camera)
    return [make_event(t, i, frame=f) for i, t in enumerate((E.CAPTURED, E.QUEUED))]


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "events.db")


def test_a_fresh_file_gets_every_migration_once(path: str) -> None:
    store = SqliteEventStore(path)
    try:
        assert store.migrate() == [m.version for m in MIGRATIONS]
        assert store.migrate() == []
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert rows.fetchall() == [(m.version, m.name) for m in MIGRATIONS]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_a_database_from_a_newer_build_is_refused(path: str) -> None:
    store = SqliteEventStore(path)
    try:
        store.migrate()
        with sqlite3.connect(path) as db:
            db.execute("INSERT INTO schema_migrations VALUES ('9999', 'future', 'x')")
        db.close()
        with pytest.raises(RuntimeError, match="9999"):
            store.migrate()
    finally:
        store.close()


def test_everything_survives_reopening_the_file(path: str) -> None:
    store = SqliteEventStore(path)
    store.migrate()
    stored = events(1)
    store.append(stored, checkpoint=Checkpoint("bus", "7-0"))
    before = store.accounting("porch", T0, timedelta(minutes=1))
    store.close()

    reopened = SqliteEventStore(path)
    try:
        assert reopened.migrate() == []
        assert [e for _, e in reopened.read_log(0, 10)] == stored
        assert reopened.checkpoint("bus") == "7-0"
        assert reopened.version(frame(1)) == 2
        assert reopened.accounting("porch", T0, timedelta(minutes=1)) == before
    finally:
        reopened.close()


def test_two_connections_to_one_file_append_without_losing_events(path: str) -> None:
    """As two processes would: each store has its own connection; SQLite serialises them."""
    first, second = SqliteEventStore(path), SqliteEventStore(path)
    first.migrate()
    errors: list[BaseException] = []

    def write(store: SqliteEventStore, camera: str) -> None:
        try:
            for seq in range(30):
                results = store.append(events(seq, camera))
                assert all(r.status is AppendStatus.APPENDED for r in results)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(first, "north")),
        threading.Thread(target=write, args=(second, "south")),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        log = first.read_log(0, 1000)
        assert [p for p, _ in log] == list(range(1, 121))
        for camera in ("north", "south"):
            acc = second.accounting(camera, T0, timedelta(minutes=1))
            assert (acc.captured, acc.in_flight, acc.balanced) == (30, 30, True)
    finally:
        first.close()
        second.close()


def test_the_anomaly_is_kept_beside_the_event(path: str) -> None:
    store = SqliteEventStore(path)
    try:
        store.migrate()
        result = store.append([make_event(E.QUEUED, 0, frame=frame(1))])[0]
        assert result.anomaly is not None
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT anomaly FROM events").fetchall() == [(result.anomaly,)]
    db.close()
