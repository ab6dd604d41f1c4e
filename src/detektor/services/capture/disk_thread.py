"""The recorder's disk thread: the blocking half of writing segment files, off capture's thread.

A camera's demuxing thread muxes packets; the bytes the muxer writes, the fsync and the rename
of a closed segment are what can block for long (an SD card, a USB disk that spins up, a busy
NAS), and a demuxing thread that blocks loses the camera's packets. So ``SegmentFile.write``
only queues bytes, and ``finish`` queues fsync, close and rename; ``DiskThread`` (one per
recorder, started on first use) does them in order. Creating the file is queued too: a
syscall in the demuxing thread while the disk thread works costs a handover of the GIL each,
and the disk thread, which alone renames ``.part`` files, picks a name no other segment has.

Errors come back, never silently: a failed create or write is raised by the file's next
``write`` (or ``finish``), and the outcome of each ``finish`` (the file's size, or the
error) is collected by the caller with ``results()``. When more than ``max_bytes`` wait,
``write`` raises ``DiskBehind`` (an ``OSError``): the disk is slower than the camera, and
the recorder handles it as any write error (the segment is given up and recording stalls)
instead of holding packets it cannot write. ``drain`` waits until all queued work is done.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from detektor.services.capture.segments import part_of, segment_path

log = logging.getLogger(__name__)
QUEUE_BYTES = 32 << 20  # about a minute of a 4 Mbit/s camera


class DiskBehind(OSError):
    def __init__(self, queued: int) -> None:
        super().__init__(
            errno.EAGAIN, f"the disk is behind: {queued} bytes still wait to be written"
        )


class DiskThread:
    """See the module docstring."""

    def __init__(self, name: str, max_bytes: int = QUEUE_BYTES) -> None:
        self.name, self.max_bytes = name, max_bytes
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...], int]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._queued = 0  # bytes
        self._results: list[tuple[Any, int | OSError]] = []
        self.has_results = False  # read without the lock, on every packet
        self._thread: threading.Thread | None = None

    def put(self, work: Callable[..., None], args: tuple[Any, ...], size: int = 0) -> None:
        with self._lock:
            if size and self._queued + size > self.max_bytes:
                raise DiskBehind(self._queued)
            self._queued += size
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put((work, args, size))

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far is done; False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put((done.set, (), 0))
        return done.wait(timeout_s)

    def results(self) -> list[tuple[Any, int | OSError]]:
        """(what ``finish`` was given, the file's size or the error) for each finish done."""
        with self._lock:
            done, self._results, self.has_results = self._results, [], False
        return done

    def report(self, tag: Any, outcome: int | OSError) -> None:
        with self._lock:
            self._results.append((tag, outcome))
            self.has_results = True

    def _run(self) -> None:
        while True:
            work, args, size = self._queue.get()
            try:
                work(*args)
            except Exception:  # a bug must not end the thread: later work would never run
                log.exception("%s: disk work failed", self.name)
            finally:
                if size:
                    with self._lock:
                        self._queued -= size


class SegmentFile:
    """A segment's ``.part`` file for PyAV to write to, through a ``DiskThread``; created
    there at ``segment_path(root, camera, start)``, which is ``path`` once it is done."""

    def __init__(self, disk: DiskThread, root: Path, camera: str, start: datetime) -> None:
        self._disk = disk
        self.path: Path | None = None  # the final .mp4 path, set by the disk thread
        self._fd = -1
        self._pos = 0
        self._error: OSError | None = None  # the disk thread's first failure on this file
        disk.put(self._create, (root, camera, start))

    def write(self, data: bytes) -> int:
        self._raise()
        self._disk.put(self._write, (data,), len(data))
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._disk.drain()
        self._raise()
        self._pos = os.lseek(self._fd, offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def finish(self, tag: Any, *, fsync: bool) -> None:
        """Queue fsync, close and rename to the final path; the outcome goes to ``results``."""
        self._raise()
        self._disk.put(self._finish, (tag, fsync))

    def abandon(self) -> None:
        """Queue closing and deleting the ``.part``: the segment is given up."""
        self._disk.put(self._abandon, ())

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    # --- in the disk thread -----------------------------------------------------------

    def _create(self, root: Path, camera: str, start: datetime) -> None:
        path = segment_path(root, camera, start)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            try:
                self._fd = os.open(part_of(path), flags, 0o644)
            except FileNotFoundError:  # the day's first segment (or its folder was removed)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(part_of(path), flags, 0o644)
        except OSError as exc:
            self._error = exc
            return
        self.path = path

    def _write(self, data: bytes) -> None:
        if self._error is not None or self._fd < 0:
            return
        view = memoryview(data)
        try:
            while view:  # a short write, as at a file size limit, is retried until it fails
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self._error = exc

    def _close(self, fsync: bool) -> None:
        fd, self._fd = self._fd, -1
        if fd < 0:
            return
        try:
            if fsync and self._error is None:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _finish(self, tag: Any, fsync: bool) -> None:
        try:
            self._close(fsync)
            if self._error is not None:
                raise self._error
            assert self.path is not None  # created, as there was no error
            os.replace(part_of(self.path), self.path)
            outcome: int | OSError = self.path.stat().st_size
        except OSError as exc:
            self._unlink()
            outcome = exc
        self._disk.report(tag, outcome)

    def _abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._close(False)
        self._unlink()

    def _unlink(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                part_of(self.path).unlink(missing_ok=True)
