"""Every EventStore adapter, so the one contract suite runs against each of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
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
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], EventStore]]:
    """Opens migrated handles on one empty store of each kind; each call another handle (as
    another process would), except for memory, which nothing outside its process reaches."""
    kind: str = request.param
    opened: list[EventStore] = []

    def open_one() -> EventStore:
        handle: EventStore
        if kind == "memory":
            from detektor.adapters.memory import MemoryEventStore

            if opened:
                return opened[0]
            handle = MemoryEventStore()
        elif kind == "sqlite":
            from detektor.adapters.sqlite import SqliteEventStore

            handle = SqliteEventStore(str(tmp_path / "events.db"))
        else:
            from detektor.adapters.postgres import PostgresEventStore

            handle = PostgresEventStore(url, schema=schema)
        handle.migrate()
        opened.append(handle)
        return handle

    if kind == "postgres":
        # One database per run, one schema per test: isolated and cheap to create.
        url = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield open_one
    finally:
        for handle in opened:
            handle.close()


@pytest.fixture
def store(opener: Callable[[], EventStore]) -> EventStore:
    """A migrated, empty store of each kind."""
    return opener()
