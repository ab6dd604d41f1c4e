"""A PostgreSQL database created for one test run on the real server, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from support.services import missing

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def temporary_database(prefix: str = "detektor_test", encoding: str = "") -> Iterator[str]:
    """Yield the URL of a fresh, empty database; skip (or fail under CI) without a server.
    ``encoding`` (e.g. SQL_ASCII, as initdb makes without a UTF-8 locale) sets its encoding."""
    import psycopg

    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL at {ADMIN_URL}", str(exc).strip().splitlines()[0])
        raise AssertionError("unreachable") from exc
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin:
        options = f" ENCODING '{encoding}' TEMPLATE template0 LOCALE 'C'" if encoding else ""
        admin.execute(f'CREATE DATABASE "{name}"{options}')
        try:
            yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(sql: str, *params: object) -> None:
    """Run one statement as the server's superuser (outside any test database), as the
    outage tests do to refuse and cut a database's connections."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql, params)


def cut_off(name: str) -> None:
    """Database ``name`` goes away: new connections are refused, open ones terminated."""
    admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        name,
    )


def reopen(name: str) -> None:
    """Database ``name`` takes connections again (after ``cut_off``)."""
    admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
