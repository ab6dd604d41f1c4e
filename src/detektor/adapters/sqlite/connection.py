"""Opening a connection to a Detektor SQLite database, the same way for every adapter on it
(the event store, the recording index): WAL, a busy timeout and durable commits."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (the module opens no transactions of its own; the
    adapters' are explicit), usable from any thread behind the adapter's own lock.

    WAL lets readers in other processes read while one process writes; `busy_timeout` makes
    a writer wait for another process's write lock instead of failing at once."""
    db = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        # FULL, not WAL's usual NORMAL: a committed checkpoint lets a consumer acknowledge
        # upstream, and an indexed segment is one retention may count on, so a commit must
        # survive a power cut, not only a process crash.
        db.execute("PRAGMA synchronous = FULL")
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(
    db: sqlite3.Connection, lock: threading.Lock, mode: str = "IMMEDIATE"
) -> Iterator[sqlite3.Connection]:
    """One explicit transaction under the adapter's lock. IMMEDIATE takes SQLite's write lock
    before anything is read; DEFERRED, for reads of several statements, gives one snapshot
    and no write lock."""
    with lock:
        db.execute(f"BEGIN {mode}")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            # Also after a failed COMMIT, so the connection is never left mid-transaction.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
