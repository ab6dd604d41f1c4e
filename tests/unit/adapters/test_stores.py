from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from detektor.adapters.memory import MemoryEventStore
from detektor.adapters.memory_recordings import MemoryRecordingIndex
from detektor.adapters.sqlite import SqliteEventStore
from detektor.adapters.sqlite.recordings import SqliteRecordingIndex
from detektor.adapters.sqlite.schema import MIGRATIONS
from detektor.adapters.stores import open_event_store, open_recording_index


def test_memory_url() -> None:
    store = open_event_store("memory://")
    assert isinstance(store, MemoryEventStore)
    store.close()


def test_sqlite_url_with_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    store = open_event_store("sqlite:///data/events.db")
    try:
        assert isinstance(store, SqliteEventStore)
        store.migrate()
    finally:
        store.close()
    assert (tmp_path / "data" / "events.db").is_file()


def test_sqlite_url_with_an_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "abs.db"
    assert str(target).startswith("/")
    store = open_event_store(f"sqlite:///{target}")  # four slashes in all
    try:
        store.migrate()
    finally:
        store.close()
    assert target.is_file()


def test_postgres_urls_open_the_postgres_adapter_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    class FakePostgres:
        def __init__(self, url: str) -> None:
            opened.append(url)

    fake = types.ModuleType("detektor.adapters.postgres")
    fake.PostgresEventStore = FakePostgres  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "detektor.adapters.postgres", fake)
    for url in ("postgresql://u:p@db:5432/detektor", "postgres://db/detektor"):
        assert isinstance(open_event_store(url), FakePostgres)
    assert opened == ["postgresql://u:p@db:5432/detektor", "postgres://db/detektor"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:secret@db/detektor", "scheme 'mysql'"),
        ("events.db", "no scheme"),
        ("sqlite:///", "needs a path"),
        ("sqlite://host/events.db", "needs a path"),
        ("sqlite:///events.db?mode=ro", "no query"),
        ("memory://somewhere", "nothing after"),
    ],
)
def test_unusable_urls_are_refused_with_a_hint(url: str, message: str) -> None:
    for opener in (open_event_store, open_recording_index):
        with pytest.raises(ValueError, match=message) as caught:
            opener(url)
        assert "secret" not in str(caught.value)


def test_the_refusal_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"sqlite:///data/events\.db") as caught:
        open_event_store("redis://localhost")
    assert "postgresql://" in str(caught.value)
    assert "memory://" in str(caught.value)
    assert "DETEKTOR_DATABASE_URL" in str(caught.value)


def test_recording_index_urls_open_the_same_kinds_of_adapter(tmp_path: Path) -> None:
    memory = open_recording_index("memory://")
    assert isinstance(memory, MemoryRecordingIndex)
    memory.close()
    index = open_recording_index(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        assert isinstance(index, SqliteRecordingIndex)
    finally:
        index.close()


def test_the_recording_index_lives_in_the_event_stores_database(tmp_path: Path) -> None:
    """One migration list for both: whichever opens the database first migrates it whole."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    index = open_recording_index(url)
    try:
        assert index.migrate() == [m.version for m in MIGRATIONS]
        store = open_event_store(url)
        try:
            assert store.migrate() == []
        finally:
            store.close()
    finally:
        index.close()
