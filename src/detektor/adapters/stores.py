"""Choosing an EventStore or RecordingIndex adapter from a database URL (`DETEKTOR_DATABASE_URL`).

- `postgresql://…` or `postgres://…`: PostgreSQL (psycopg is imported only then);
- `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`: SQLite, the embedded twin;
- `memory://`: the in-memory twin, for tests and throwaway runs.

The store is returned unmigrated; callers run `migrate()` when they start.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from detektor.ports import EventStore, RecordingIndex

_EXAMPLES = (
    "postgresql://user:password@host:5432/detektor, sqlite:///data/events.db "
    "(relative path), sqlite:////var/lib/detektor/events.db (absolute path) or memory://"
)


def sqlite_path(url: str) -> str:
    """The file path in a `sqlite:///path` URL; three slashes, then the path as written."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or not url[len(prefix) :]:
        raise ValueError(
            f"SQLite URL {url!r} needs a path after 'sqlite:///', e.g. sqlite:///data/events.db "
            "for a path relative to the working directory or sqlite:////var/lib/detektor/"
            "events.db for an absolute one"
        )
    path = url[len(prefix) :]
    if "?" in path or "#" in path:
        raise ValueError(f"SQLite URL {url!r} takes no query or fragment; give only the path")
    return path


def backend(url: str) -> tuple[str, str]:
    """("postgres", url), ("sqlite", file path) or ("memory", ""); ValueError, naming the
    accepted forms, for anything else."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return "postgres", url
    if scheme == "sqlite":
        return "sqlite", sqlite_path(url)
    if scheme == "memory":
        if url.lower() != "memory://":
            raise ValueError(f"in-memory store URL {url!r} takes nothing after 'memory://'")
        return "memory", ""
    shown = f"scheme {scheme!r}" if scheme else "no scheme"
    raise ValueError(
        f"database URL {_redact(url)!r} has {shown}; use one of: {_EXAMPLES} "
        "(set DETEKTOR_DATABASE_URL)"
    )


# Adapters are imported lazily, so SQLite and memory users need neither psycopg nor a server.


def open_event_store(url: str) -> EventStore:
    """The EventStore for `url`; ValueError, naming the accepted forms, for anything else."""
    kind, where = backend(url)
    if kind == "postgres":
        from detektor.adapters.postgres import PostgresEventStore

        store: EventStore = PostgresEventStore(where)
        return store
    if kind == "sqlite":
        from detektor.adapters.sqlite import SqliteEventStore

        return SqliteEventStore(where)
    from detektor.adapters.memory import MemoryEventStore

    return MemoryEventStore()


def open_recording_index(url: str) -> RecordingIndex:
    """The RecordingIndex for `url`, in the same database as the event store; ValueError,
    naming the accepted forms, for anything else. A `memory://` index is private to the
    process, like a `memory://` event store."""
    kind, where = backend(url)
    if kind == "postgres":
        from detektor.adapters.postgres.recordings import PostgresRecordingIndex

        index: RecordingIndex = PostgresRecordingIndex(where)
        return index
    if kind == "sqlite":
        from detektor.adapters.sqlite.recordings import SqliteRecordingIndex

        return SqliteRecordingIndex(where)
    from detektor.adapters.memory_recordings import MemoryRecordingIndex

    return MemoryRecordingIndex()


def _redact(url: str) -> str:
    # The URL may carry a password; an error message must not.
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
