"""The objects stage's pictures: where a frame's pixels come from, and where they are kept.

In ``detektor run`` the stage gets each frame decoded. In ``serve objects`` the detector left
the frame's JPEG in Redis beside the detections stream for a while
(``adapters.detections.picture_key``); ``FramePictures`` fetches a batch of them in one round
trip. A picture that expired, or a Redis that does not answer, costs the snapshot, never the
tracking: the frame is tracked without it, and the miss is counted.

``Pictures`` keeps, for a frame, the best sighting of each object whose best it is and the
camera's latest frame (``SnapshotKeeper``, i.e. ``objects.snapshots.SnapshotStore``). A write
that fails (a full disk) or a JPEG that does not decode is counted and logged, and tracking
goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis

from detektor.adapters.detections import picture_key
from detektor.domain.frames import FrameId
from detektor.domain.geometry import Box
from detektor.kit.transient import is_transient
from detektor.objects.model import Detection
from detektor.pipeline.decoding import Image, decode_jpeg
from detektor.services.objects.camera import Observed
from detektor.services.objects.metrics import ObjectMetrics

log = logging.getLogger(__name__)


class SnapshotKeeper(Protocol):
    """Where pictures go (``detektor.objects.snapshots.SnapshotStore``)."""

    def keep_best(
        self, object_id: str, camera: str, image: Image, box: Box, label: str, score: float
    ) -> None: ...

    def keep_latest(
        self, camera: str, image: Image, detections: Sequence[tuple[str, float, Box]]
    ) -> bool: ...


class Pictures:
    def __init__(self, keeper: SnapshotKeeper, metrics: ObjectMetrics) -> None:
        self.keeper, self.metrics = keeper, metrics

    def keep(
        self, camera: str, image: Image, detections: Sequence[Detection], observed: Observed
    ) -> None:
        try:
            for best in observed.best:
                self.keeper.keep_best(
                    best.object_id, camera, image, best.box, best.label, best.score
                )
            self.keeper.keep_latest(camera, image, [(d.label, d.score, d.box) for d in detections])
        except OSError as exc:  # a full disk must not stop tracking
            self.metrics.snapshot_errors.labels(camera).inc()
            log.warning("objects: cannot write a snapshot of %s: %s", camera, exc)

    def decode(self, frame_id: FrameId, jpeg: bytes) -> Image | None:
        """The picture of a frame, or None (counted) when it is not a usable JPEG."""
        image = decode_jpeg(jpeg)
        if isinstance(image, str):
            self.metrics.snapshot_errors.labels(frame_id.camera).inc()
            log.warning("objects: no snapshot from the picture of %s: %s", frame_id, image)
            return None
        return image


class FramePictures:
    """The JPEGs the detector kept beside ``stream`` (ADR 25)."""

    def __init__(self, redis: Redis, stream: str, metrics: ObjectMetrics) -> None:
        self.redis, self.stream, self.metrics = redis, stream, metrics

    async def fetch(self, frame_ids: Sequence[FrameId]) -> dict[FrameId, bytes]:
        """The pictures still kept, by frame; missing ones are counted."""
        if not frame_ids:
            return {}
        try:
            found = await self.redis.mget([picture_key(self.stream, f) for f in frame_ids])
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("objects: frame pictures unavailable (%s); no snapshots for now", exc)
            found = [None] * len(frame_ids)
        out = {}
        for frame_id, value in zip(frame_ids, found, strict=True):
            if isinstance(value, bytes) and value:
                out[frame_id] = value
            else:
                self.metrics.pictures_missing.labels(frame_id.camera).inc()
        return out
