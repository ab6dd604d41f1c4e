"""The EventStore contract, part: a live service and a maintenance run (replay) never write
at once. The service holds its lock; maintenance is refused meanwhile, and the other way
round; appends from elsewhere wait while maintenance holds the store.

Each store is opened twice, as two processes would (memory: the one instance)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from detektor.adapters.stores import open_event_store
from detektor.cli import EXIT_LOCKED, main
from detektor.domain.lifecycle import FrameState
from detektor.ports import EventStore, StoreLocked

from .builders import E, all_rows, event, frame, lifecycle


def test_maintenance_is_refused_while_a_service_holds_the_store(
    opener: Callable[[], EventStore],
) -> None:
    service, replay_side = opener(), opener()
    service.append(lifecycle(frame(1, camera="lock")))
    service.hold_service_lock()
    service.hold_service_lock()  # idempotent: the jobs loop calls it again and again
    with pytest.raises(StoreLocked, match="tracking service is running"), replay_side.maintenance():
        pytest.fail("maintenance got the store while a service held it")
    if replay_side is service:
        return  # memory: one instance, no second process to let go of the lock
    service.close()  # the service stops (a crash frees the lock the same way)
    with replay_side.maintenance():
        pass


def test_a_service_cannot_start_during_maintenance(opener: Callable[[], EventStore]) -> None:
    replay_side, service = opener(), opener()
    with replay_side.maintenance(), pytest.raises(StoreLocked, match="replay"):
        service.hold_service_lock()
    service.hold_service_lock()  # once maintenance is over
    with pytest.raises(StoreLocked), replay_side.maintenance():
        pass


def test_appends_from_elsewhere_wait_for_maintenance(opener: Callable[[], EventStore]) -> None:
    replay_side, writer = opener(), opener()
    if replay_side is writer:
        pytest.skip("memory: one instance, reached only from its own process")
    f = frame(1, camera="waits")
    done = threading.Event()

    def append() -> None:
        writer.append([event(E.CAPTURED, f)])
        done.set()

    with replay_side.maintenance():
        thread = threading.Thread(target=append)
        thread.start()
        assert not done.wait(0.5), "an append went in while maintenance held the store"
        assert all_rows(replay_side) == []
    assert done.wait(10)
    thread.join()
    assert [r.frame_id for r in all_rows(replay_side)] == [f]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL `detektor tracking replay` can open (PostgreSQL: the default schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS detektor CASCADE")


def test_replay_refuses_to_run_against_a_live_service(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = open_event_store(database_url)
    service.migrate()
    f = frame(1, camera="live")
    service.append(lifecycle(f))
    (row,) = all_rows(service)
    drifted = replace(row, state=FrameState.QUEUED, reason=None, terminal_at=None)
    service.replace_rows([drifted])  # a difference replay would repair
    service.hold_service_lock()
    monkeypatch.setenv("DETEKTOR_DATABASE_URL", database_url)
    try:
        assert main(["tracking", "replay"]) == EXIT_LOCKED
        err = capsys.readouterr().err
        assert "refused" in err
        assert "tracking service is running" in err
        assert all_rows(service) == [drifted]  # nothing rewritten
        assert main(["tracking", "replay", "--dry-run"]) == 0  # reading is allowed
        assert "1 differ" in capsys.readouterr().out
    finally:
        service.close()
    assert main(["tracking", "replay"]) == 0  # the service has stopped
    again = open_event_store(database_url)
    try:
        assert all_rows(again) == [row]
    finally:
        again.close()
