"""The SQLite store's service and maintenance locks: `flock` on a file beside the database.

A live service holds a shared lock on its own descriptor for as long as its store is open;
`detektor tracking replay` takes the exclusive lock without waiting, so it is refused while
any service runs, and a service starting during a replay is refused in turn. Every append and
purge also takes the shared lock for its transaction, on a second descriptor (flock locks
belong to an open file, so the two never release each other): a writer that never announced
itself waits for a replay to finish instead of slipping an event between replay's read and
its rewrite of the frame's row. The kernel drops the locks of a process that dies, so a crash
never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from detektor.adapters.storekit import MAINTENANCE_RUNNING, SERVICE_RUNNING
from detektor.ports import StoreLocked


class LockFile:
    def __init__(self, database: str) -> None:
        # In-memory and URI databases have no file of their own, and nothing else reaches them.
        self.path = None if database == ":memory:" or database.startswith("file:") else database
        self._service: int | None = None
        self._writer: int | None = None

    def _open(self) -> int:
        assert self.path is not None
        return os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)

    def hold_shared(self) -> None:
        if self.path is None or self._service is not None:
            return
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(MAINTENANCE_RUNNING) from None
        self._service = fd

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The shared lock for one write transaction; waits while a replay holds the store."""
        if self.path is None:
            yield
            return
        if self._writer is None:
            self._writer = self._open()
        fcntl.flock(self._writer, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._writer, fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreLocked(SERVICE_RUNNING) from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases its lock

    def close(self) -> None:
        for fd in (self._service, self._writer):
            if fd is not None:
                os.close(fd)
        self._service = self._writer = None
