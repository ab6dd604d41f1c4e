"""Every EventStore and RecordingIndex adapter, so each contract suite runs against all of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from detektor.ports import EventStore, RecordingIndex
from support.postgres import temporary_database

ADAPTERS = ["memory", "sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database("detektor_contract") as url:
        yield url


class Handle(Protocol):
    def migrate(self) -> list[str]: ...

    def close(self) -> None: ...


H = TypeVar("H", bound=Handle)


def handles(
    request: pytest.FixtureRequest, tmp_path: Path, make: Callable[[str, str, str], H]
) -> Iterator[Callable[[], H]]:
    """Opens migrated handles on one empty store of the kind `request.param` names; each call
    another handle (as another process would), except for memory, which nothing outside its
    process reaches. `make(kind, where, schema)`: where is the file or URL, "" for memory."""
    kind: str = request.param
    opened: list[H] = []
    where, schema = "", ""
    if kind == "sqlite":
        where = str(tmp_path / "events.db")
    elif kind == "postgres":
        # One database per run, one schema per test: isolated and cheap to create.
        where = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"

    def open_one() -> H:
        if kind == "memory" and opened:
            return opened[0]
        handle = make(kind, where, schema)
        handle.migrate()
        opened.append(handle)
        return handle

    try:
        yield open_one
    finally:
        for handle in opened:
            handle.close()


def event_store(kind: str, where: str, schema: str) -> EventStore:
    if kind == "memory":
        from detektor.adapters.memory import MemoryEventStore

        return MemoryEventStore()
    if kind == "sqlite":
        from detektor.adapters.sqlite import SqliteEventStore

        return SqliteEventStore(where)
    from detektor.adapters.postgres import PostgresEventStore

    return PostgresEventStore(where, schema=schema)


@pytest.fixture(params=ADAPTERS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], EventStore]]:
    """Opens migrated handles on one empty event store of each kind."""
    yield from handles(request, tmp_path, event_store)


@pytest.fixture
def store(opener: Callable[[], EventStore]) -> EventStore:
    """A migrated, empty store of each kind."""
    return opener()


def recording_index(kind: str, where: str, schema: str) -> RecordingIndex:
    if kind == "memory":
        from detektor.adapters.memory_recordings import MemoryRecordingIndex

        return MemoryRecordingIndex()
    if kind == "sqlite":
        from detektor.adapters.sqlite.recordings import SqliteRecordingIndex

        return SqliteRecordingIndex(where)
    from detektor.adapters.postgres.recordings import PostgresRecordingIndex

    return PostgresRecordingIndex(where, schema=schema)


@pytest.fixture(params=ADAPTERS)
def index_opener(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], RecordingIndex]]:
    """Opens migrated handles on one empty recording index of each kind, in the database
    (file, schema) an event store of that kind uses."""
    yield from handles(request, tmp_path, recording_index)


@pytest.fixture
def recordings(index_opener: Callable[[], RecordingIndex]) -> RecordingIndex:
    """A migrated, empty recording index of each kind."""
    return index_opener()
