"""Frames the motion gate skipped, for ``serve objects``: read from the lifecycle-events stream.

Capture emits ``frame.skipped`` (reason ``no_motion`` or ``masked``) for frames it never sent
to a detector; for the objects stage such a frame shows the scene unchanged (``stage.py``).
``SkipWatcher`` follows the events stream without a group (plain XREAD from its end, like the
notifier's ``CaptureWatcher``) and tells the stage of the skips of the cameras this instance
owns. An entry it cannot read is ignored: the events stream is tracking's to judge, and its
dead letters are tracking's.
"""

from __future__ import annotations

import asyncio
import json
import logging

from redis.asyncio import Redis

from detektor.adapters.redis_streams import follow
from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope, EventType
from detektor.kit.health import Liveness
from detektor.services.objects.lease import CameraLeases
from detektor.services.objects.stage import UNCHANGED, ObjectsStage

log = logging.getLogger(__name__)
WORKER = "skip-watcher"


class SkipWatcher:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        stage: ObjectsStage,
        leases: CameraLeases,
        lock: asyncio.Lock,
        liveness: Liveness,
    ) -> None:
        self.redis, self.stream, self.stage, self.leases = redis, stream, stage, leases
        self.lock, self.liveness = lock, liveness
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        self.liveness.beat(WORKER, max_silence_s=90)
        async for entries in follow(self.redis, self.stream, self.stopping):
            self.liveness.beat(WORKER, max_silence_s=90)
            for _, fields in entries:
                raw = fields.get(b"envelope", b"")
                if b'"frame.skipped"' in raw:
                    await self._skipped(raw)

    async def _skipped(self, raw: bytes) -> None:
        try:
            event = Envelope.from_dict(json.loads(raw))
        except (ValueError, ValidationError, RecursionError):
            return
        if event.type is not EventType.SKIPPED or event.data.get("reason") not in UNCHANGED:
            return
        async with self.lock:  # owned() and the stage change under the consumer's lock
            if event.camera in self.leases.owned():
                trace = (event.trace_id, event.span_id)
                self.stage.skipped(event.frame_id, event.occurred_at, trace)
