"""Finding the events a store refuses by splitting the batch, on the real SQLite store
(``support.refusing_store``: a trigger refuses any event whose data holds ``poison``)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from detektor.adapters.sqlite import SqliteEventStore
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.kit.metrics import Metrics
from detektor.ports import Checkpoint
from detektor.services.tracking.ingest import Ingestor, is_rejection
from detektor.services.tracking.metrics import TrackingMetrics
from support.refusing_store import refusing_sqlite_store

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def captured(seq: int, **extra: object) -> Envelope:
    data = {"width": 640, "height": 480, "pts": seq, "source": "synthetic://", **extra}
    at = T0 + timedelta(seconds=seq)
    frame = FrameId("cam", int(at.timestamp() * 1000), seq)
    return Envelope.new(EventType.CAPTURED, frame, data, occurred_at=at)


@pytest.fixture
def store(tmp_path: Path) -> SqliteEventStore:
    return refusing_sqlite_store(tmp_path / "events.db")


def test_refused_events_are_found_and_every_other_event_is_stored_in_order(
    store: SqliteEventStore,
) -> None:
    ingestor = Ingestor(store, TrackingMetrics(Metrics("unit", "0")))
    batch = [captured(n, poison=True) if n in (1, 6, 7) else captured(n) for n in range(10)]
    checkpoint = Checkpoint("tracking:c1", "1764252187123-9")
    outcomes = asyncio.run(ingestor.ingest([e.to_dict() for e in batch], "stream", checkpoint))
    assert [o.status for o in outcomes] == [
        "rejected" if n in (1, 6, 7) else "appended" for n in range(10)
    ]
    refused = [o for o in outcomes if o.status == "rejected"]
    assert all(o.reason and "poison refused" in o.reason and o.field is None for o in refused)
    stored = [e.frame_id for _, e in store.read_log(after=0, limit=100)]
    assert stored == [e.frame_id for n, e in enumerate(batch) if n not in (1, 6, 7)]
    assert store.checkpoint("tracking:c1") == "1764252187123-9"  # committed with the rest


def test_a_refused_last_event_still_commits_the_checkpoint(store: SqliteEventStore) -> None:
    ingestor = Ingestor(store, TrackingMetrics(Metrics("unit", "0")))
    batch = [captured(0), captured(1, poison=True)]
    checkpoint = Checkpoint("tracking:c1", "5-0")
    outcomes = asyncio.run(ingestor.ingest([e.to_dict() for e in batch], "stream", checkpoint))
    assert [o.status for o in outcomes] == ["appended", "rejected"]
    assert store.checkpoint("tracking:c1") == "5-0"


def test_connection_errors_are_not_rejections_and_data_errors_are() -> None:
    assert not is_rejection(ConnectionRefusedError("down"))
    assert not is_rejection(sqlite3.OperationalError("database is locked"))
    assert not is_rejection(psycopg.errors.AdminShutdown("terminating connection"))
    assert not is_rejection(psycopg.errors.SerializationFailure("could not serialize"))
    assert not is_rejection(psycopg.OperationalError("the connection is lost"))
    assert is_rejection(sqlite3.IntegrityError("CHECK constraint failed"))
    assert is_rejection(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert is_rejection(psycopg.errors.UntranslatableCharacter("unsupported escape"))
    assert is_rejection(psycopg.DataError("PostgreSQL text fields cannot contain NUL"))
    # An OperationalError by class, yet about the data: a value too big for an index.
    assert is_rejection(psycopg.errors.ProgramLimitExceeded("index row size exceeds"))
