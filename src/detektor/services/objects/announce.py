"""Object events that come with no frame, handed on by ``serve objects``: a still scene (skipped
frames), a camera gone quiet (the ticker), a clean stop, and the objects a dead owner left open
(ended by the new owner, ``takeover.py``).

Each batch goes, per camera still owned, to the lifecycle-events stream (tracking stores it)
and, as an entry of its own (``kind`` = ``objects``), to the objects stream, so the notifier
announces it as it does a frame's. The entry is fenced by the lease like a frame's and moves
the camera's open objects; Redis being away is waited out while the lease holds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from detektor.domain.events import Envelope
from detektor.kit.transient import is_transient
from detektor.ports import EventSink
from detektor.services.objects.lease import CameraLeases
from detektor.services.objects.output import Checkpoint, ObjectsOutput
from detektor.services.objects.takeover import end_left_open

log = logging.getLogger(__name__)


class Announcer:
    def __init__(self, events: EventSink, output: ObjectsOutput, leases: CameraLeases) -> None:
        self.events, self.output, self.leases = events, output, leases

    async def hand_on(self, events: list[Envelope]) -> None:
        for camera in sorted({e.camera for e in events}):
            mine = [e for e in events if e.camera == camera]
            if not self.leases.holds(camera):
                continue
            await self.events.emit(mine)
            delay = 0.5
            while True:
                try:
                    await self.output.write_events(camera, mine)
                    break
                except Exception as exc:
                    if not is_transient(exc) or not self.leases.holds(camera):
                        raise
                    log.warning("objects: cannot announce %s's events yet (%s)", camera, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def end_left_open(self, camera: str, cp: Checkpoint | None) -> None:
        """End the objects the previous owner started and never ended (it died), at the
        time of the last frame it wrote."""
        left = await self.output.open_objects(camera)
        if not left:
            return
        at = datetime.fromtimestamp(cp.key[0] / 1000, UTC) if cp and cp.key else datetime.now(UTC)
        ended, unreadable = end_left_open(left, at)
        if unreadable:
            await self.output.forget_open(camera, unreadable)
        if ended:
            log.info("objects: ending %d object(s) of %s left open", len(ended), camera)
            await self.hand_on(ended)
