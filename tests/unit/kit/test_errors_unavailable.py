"""Which errors mean "a dependency is down, retry" (503 with Retry-After; a worker retried,
not crashed) and which are bugs (500): the kit decides once for every service."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from psycopg import errors as pg
from psycopg_pool import PoolTimeout
from redis import exceptions as redis_errors

from detektor.kit.app import ServiceKit, create_app
from detektor.kit.transient import unavailable
from detektor.settings import Settings


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (pg.AdminShutdown("terminating connection due to administrator command"), "PostgreSQL"),
        (psycopg.OperationalError("server closed the connection unexpectedly"), "PostgreSQL"),
        (PoolTimeout("couldn't get a connection after 30.00 sec"), "PostgreSQL"),
        (pg.TooManyConnections("sorry, too many clients already"), "PostgreSQL"),
        (pg.LockNotAvailable("could not obtain lock"), "PostgreSQL"),
        (pg.CannotConnectNow("the database system is starting up"), "PostgreSQL"),
        (psycopg.InterfaceError("the connection is closed"), "PostgreSQL"),
        (pg.SerializationFailure("could not serialize access"), "PostgreSQL"),
        (pg.SyntaxError("syntax error at or near"), None),
        (pg.DataError("invalid byte sequence for encoding"), None),
        (pg.ProgramLimitExceeded("index row size exceeds maximum"), None),
        (pg.UniqueViolation("duplicate key"), None),
        (sqlite3.OperationalError("database is locked"), "SQLite"),
        (sqlite3.OperationalError("unable to open database file"), "SQLite"),
        (sqlite3.OperationalError("disk I/O error"), "SQLite"),
        (sqlite3.OperationalError("no such table: events"), None),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), None),
        (redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379"), "Redis"),
        (redis_errors.TimeoutError("Timeout reading from socket"), "Redis"),
        (redis_errors.BusyLoadingError("Redis is loading the dataset in memory"), "Redis"),
        (redis_errors.ResponseError("WRONGTYPE"), None),
        (ConnectionRefusedError(111, "Connection refused"), "a dependency"),
        (RuntimeError("boom"), None),
        (ValueError("bad"), None),
    ],
)
def test_outages_are_told_from_bugs(error: Exception, name: str | None) -> None:
    assert unavailable(error) == name


def client_raising(error: Exception) -> TestClient:
    router = APIRouter()

    @router.get("/v1/fails")
    async def fails() -> None:
        raise error

    app = create_app(ServiceKit("unit", Settings()), routers=[router])
    return TestClient(app, raise_server_exceptions=False)


def test_an_outage_is_a_503_with_retry_after_and_the_kit_error_shape() -> None:
    reply = client_raising(redis_errors.ConnectionError("Error 111 connecting")).get("/v1/fails")
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "5"
    assert reply.json() == {
        "error": {"message": "Redis unavailable: Error 111 connecting; retry in 5 s"}
    }


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("no such table: events"), pg.SyntaxError("near x")]
)
def test_a_bug_in_an_outage_class_is_still_a_500(error: Exception) -> None:
    reply = client_raising(error).get("/v1/fails")
    assert reply.status_code == 500
    assert "retry-after" not in reply.headers
    assert reply.json()["error"]["message"].startswith("internal error")
