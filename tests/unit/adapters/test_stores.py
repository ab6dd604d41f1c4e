from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from detektor.adapters.memory import MemoryEventStore
from detektor.adapters.sqlite import SqliteEventStore
from detektor.adapters.stores import open_event_store


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
    with pytest.raises(ValueError, match=message) as caught:
        open_event_store(url)
    assert "secret" not in str(caught.value)


def test_the_refusal_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"sqlite:///data/events\.db") as caught:
        open_event_store("redis://localhost")
    assert "postgresql://" in str(caught.value)
    assert "memory://" in str(caught.value)
    assert "DETEKTOR_DATABASE_URL" in str(caught.value)
