"""Every EventStore adapter, so the one contract suite runs against each of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from detektor.ports import EventStore
from support.postgres import temporary_database

ADAPTERS = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database("detektor_contract") as url:
        yield url


@pytest.fixture(params=ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """A migrated, empty store of each kind."""
    kind: str = request.param
    opened: EventStore
    if kind == "memory":
        from detektor.adapters.memory import MemoryEventStore

        opened = MemoryEventStore()
    elif kind == "sqlite":
        from detektor.adapters.sqlite import SqliteEventStore

        opened = SqliteEventStore(str(tmp_path / "events.db"))
    else:
        from detektor.adapters.postgres import PostgresEventStore

        # One database per run, one schema per test: isolated and cheap to create.
        url = request.getfixturevalue("postgres_url")
        opened = PostgresEventStore(url, schema=f"t_{uuid.uuid4().hex[:12]}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()
