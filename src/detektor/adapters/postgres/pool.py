"""Opening the connection pool of a Detektor PostgreSQL adapter (the event store, the
recording index), the same way for each: autocommit connections whose search_path is the
store's schema and whose time zone is UTC, checked when lent, and a clear error at start when
the server cannot be reached."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool, PoolTimeout

from detektor.adapters.postgres.schema import SCHEMA_RE
from detektor.kit.redact import mask_url


def require_schema(schema: str) -> str:
    if not SCHEMA_RE.fullmatch(schema):
        raise ValueError(
            f"schema {schema!r} must be a lowercase SQL identifier (letters, digits and "
            "'_', at most 63 characters, not starting with a digit), e.g. 'detektor'"
        )
    return schema


def open_pool(
    url: str, schema: str, *, name: str, min_size: int, max_size: int, connect_timeout_s: float
) -> ConnectionPool[Connection[Any]]:
    """An open pool on `schema` (validated here); ConnectionError, with the URL's password
    masked, when no connection is made within `connect_timeout_s`."""
    require_schema(schema)

    def configure(conn: Connection[Any]) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("SET timezone TO 'UTC'")

    pool: ConnectionPool[Connection[Any]] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        configure=configure,
        # A connection the server dropped (restart, pg_terminate_backend) is found and
        # replaced when it is taken from the pool, not on the query that needs it.
        check=ConnectionPool.check_connection,
        name=f"{name}-{schema}",
        timeout=connect_timeout_s,  # to lend a connection: an outage shows in seconds
        open=False,
    )
    try:
        # Waiting here makes a wrong URL or a down server fail at start, with a message,
        # instead of on first use after the pool's 30 s timeout.
        pool.open(wait=True, timeout=connect_timeout_s)
    except PoolTimeout as exc:
        pool.close()
        raise ConnectionError(
            f"cannot connect to PostgreSQL at {mask_url(url)} within {connect_timeout_s:g}s; "
            "check DETEKTOR_DATABASE_URL and that the server is up"
        ) from exc
    return pool
