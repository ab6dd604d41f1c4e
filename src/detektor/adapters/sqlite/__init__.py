"""The SQLite EventStore, the embedded twin of PostgreSQL: see `store` for how appends are
serialised and `schema` for the tables and their migrations."""

from detektor.adapters.sqlite.store import SqliteEventStore

__all__ = ["SqliteEventStore"]
