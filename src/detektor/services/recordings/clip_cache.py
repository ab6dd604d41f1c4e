"""Exported clips kept for a while, so the Range requests of one ``<video>`` (a player asks for
the same file many times, in pieces) cut the clip once.

A clip is named by a hash of what it is made of: the camera, the range, and each segment's
path and size, so a new segment in the range (the footage grew) or a deleted one makes a new
clip, never a stale one. Clips are written to a temporary name and renamed, so a reader never
sees half of one; one export runs per clip at a time (others wait for it). Clips older than
``ttl_s`` are deleted by ``sweep`` (called on every export), and a clip that is handed out is
touched first, so the one being served is never the oldest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from detektor.domain.recordings import Segment
from detektor.services.recordings.clips import Clip, export_clip

log = logging.getLogger(__name__)


class ClipCache:
    def __init__(
        self,
        recordings: Path,
        folder: Path,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recordings, self.folder, self.ttl_s, self._clock = recordings, folder, ttl_s, clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._made: dict[str, Clip] = {}

    def clip(
        self, camera: str, start: datetime, end: datetime, segments: Sequence[Segment]
    ) -> Clip:
        """The clip of ``[start, end)`` from ``segments``, exported now or earlier
        (``clips.NoFootage`` when there is none). Blocking: run it in a worker thread."""
        key = _key(camera, start, end, segments)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            made = self._made.get(key)
            if made is not None and made.path.is_file():
                os.utime(made.path)
                return made
            self.sweep()
            self.folder.mkdir(parents=True, exist_ok=True)
            final = self.folder / f"{key}.mp4"
            tmp = self.folder / f".{key}.{secrets.token_hex(4)}.mp4"
            try:
                clip = export_clip(self.recordings, segments, start, end, tmp)
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            clip.path = final
            self._made[key] = clip
            return clip

    def sweep(self) -> int:
        """Delete the clips (and leftover temporary files) older than ``ttl_s``."""
        if not self.folder.is_dir():
            return 0
        cutoff = self._clock() - self.ttl_s
        deleted = 0
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:
                continue
        with self._guard:
            gone = [k for k, c in self._made.items() if not c.path.exists()]
            for k in gone:
                self._made.pop(k, None)
                self._locks.pop(k, None)
        return deleted


def _key(camera: str, start: datetime, end: datetime, segments: Sequence[Segment]) -> str:
    parts = [camera, start.isoformat(), end.isoformat()]
    parts += [f"{s.path}:{s.bytes}" for s in segments]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
