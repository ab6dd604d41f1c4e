"""A store that is down answers 503 with Retry-After, never 500, and the API recovers when the
store is back: PostgreSQL with its connections terminated and new ones refused, SQLite with
its file locked by another writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from detektor.services.tracking.service import build
from detektor.settings import Settings
from support.postgres import cut_off, reopen, temporary_database
from support.tracking_app import TEST_LINK_SECRET, captured, error_of
from support.waiting import wait_for

# The jobs loop runs once at start and then sleeps, so only the test's requests use the pool.
QUIET = {"consume": False, "metrics_interval_s": 3600, "purge_interval_s": 3600}


def client_on(url: str) -> TestClient:
    return TestClient(
        build(Settings(database_url=url, tracking=QUIET, link_secret=TEST_LINK_SECRET)),
        raise_server_exceptions=False,
    )


def assert_unavailable(reply: object, name: str) -> str:
    assert getattr(reply, "status_code", None) == 503, getattr(reply, "text", reply)
    headers = getattr(reply, "headers", {})
    assert headers.get("retry-after") == "5"
    message = error_of(reply)["message"]
    assert message.startswith(f"{name} unavailable: ")
    return message


@pytest.fixture
def postgres_db() -> Iterator[tuple[str, str]]:
    with temporary_database("detektor_down") as url:
        yield url, url.rsplit("/", 1)[1]


def test_postgresql_connections_terminated_answer_503_then_recover(
    postgres_db: tuple[str, str],
) -> None:
    url, name = postgres_db
    with client_on(url) as client:
        assert client.post("/v1/events", json={"events": [captured(1)]}).status_code == 200
        cut_off(name)
        message = assert_unavailable(client.get("/v1/events"), "PostgreSQL")
        assert "terminat" in message or "closed" in message or "connection" in message

        reopen(name)

        def answers() -> bool:
            reply = client.get("/v1/events")
            assert reply.status_code in (200, 503), reply.text
            return reply.status_code == 200

        wait_for(answers, 30, "the API to answer 200 once PostgreSQL takes connections again")
        assert len(client.get("/v1/events").json()["events"]) == 1


def test_a_locked_sqlite_file_answers_503_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with client_on(f"sqlite:///{path}") as client:
        assert client.post("/v1/events", json={"events": [captured(1)]}).status_code == 200
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            # The store waits out its busy timeout (5 s), then SQLite says the file is locked.
            reply = client.post("/v1/events", json={"events": [captured(2)]})
            assert "database is locked" in assert_unavailable(reply, "SQLite")
        finally:
            other.execute("ROLLBACK")
            other.close()
        reply = client.post("/v1/events", json={"events": [captured(2)]})
        assert reply.status_code == 200
        assert [r["status"] for r in reply.json()["results"]] == ["appended"]
