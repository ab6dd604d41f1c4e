"""The PostgreSQL EventStore (psycopg 3 with a connection pool), TimescaleDB when present.

Modules: `store` (the EventStore and its reads), `batch` (one append's transaction),
`schema` (tables and versioned migrations), `codec` (rows to domain objects and back),
`timescale` (hypertable, compression and retention, used only when the extension exists).
"""

from detektor.adapters.postgres.store import PostgresEventStore

__all__ = ["PostgresEventStore"]
