"""Pictures for Home Assistant's MQTT ``image`` entities, read from the snapshot store.

Two per camera kind, both retained so HA shows them right after its own restart:

- ``<state>/<camera>/image``: the camera's latest frame with its objects' boxes, sent when
  an object starts or updates, at most once every ``image_interval_s`` per camera; a change
  inside the interval is sent when the interval is over (the ticker flushes it), so the
  picture never stays older than the last change.
- ``<state>/<camera>/<label>/snapshot``: the best sighting of the newest announced object of
  the label (cut out with ``snapshot_crop``), sent when it is announced, when its snapshot
  improves and when it ends (its best is final then).

Reading may decode and draw (``boxes``), so it runs in a worker thread; a store that fails
or has no picture yet sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from detektor.services.notifier.discovery import Topics
from detektor.services.notifier.snapshots import SnapshotSource

log = logging.getLogger(__name__)
Send = Callable[[str, str, bytes], "asyncio.Future[None]"]  # (kind, topic, payload)


class Images:
    def __init__(
        self,
        source: SnapshotSource | None,
        topics: Topics,
        send: Send,
        interval_s: float,
        crop: bool,
    ) -> None:
        self.source, self.topics, self.send = source, topics, send
        self.interval_s, self.crop = interval_s, crop
        self._next: dict[str, float] = {}  # camera -> earliest next latest-image
        self._due: set[str] = set()
        self._labels: dict[tuple[str, str], str] = {}  # (camera, label) -> object shown

    def want_latest(self, camera: str) -> None:
        """Something changed on ``camera``: its latest image is due."""
        if self.source is not None:
            self._due.add(camera)

    async def flush(self, now: float) -> list[asyncio.Future[None]]:
        """Send the latest images that are due and past their interval."""
        ready = [c for c in sorted(self._due) if now >= self._next.get(c, now)]
        futures = []
        for camera in ready:
            self._due.discard(camera)
            self._next[camera] = now + self.interval_s
            futures += await self._latest(camera)
        return futures

    async def label(self, camera: str, label: str, object_id: str) -> list[asyncio.Future[None]]:
        """Show ``object_id``'s best sighting as the label's snapshot."""
        if self.source is None:
            return []
        self._labels[(camera, label)] = object_id
        return await self._best(camera, label, object_id)

    async def republish(self, cameras: Iterable[str]) -> list[asyncio.Future[None]]:
        """After a (re)connect: every camera's latest image and every label's snapshot."""
        if self.source is None:
            return []
        futures = []
        for camera in cameras:
            futures += await self._latest(camera)
        for (camera, label), object_id in list(self._labels.items()):
            futures += await self._best(camera, label, object_id)
        return futures

    async def _latest(self, camera: str) -> list[asyncio.Future[None]]:
        assert self.source is not None
        data = await self._read(self.source.read_latest, camera, boxes=True)
        return [self.send("image", self.topics.image(camera), data)] if data else []

    async def _best(self, camera: str, label: str, object_id: str) -> list[asyncio.Future[None]]:
        assert self.source is not None
        data = await self._read(self.source.read_best, object_id, crop=self.crop, box=True)
        return [self.send("image", self.topics.snapshot(camera, label), data)] if data else []

    @staticmethod
    async def _read(read: Callable[..., bytes | None], key: str, **options: bool) -> bytes | None:
        try:
            return await asyncio.to_thread(read, key, **options)
        except Exception as exc:  # a snapshot is a nicety: never fail a frame for one
            log.warning("reading the snapshot of %s failed: %s", key, exc)
            return None
