"""Reading the detections stream for ``serve objects``: ownership, order, processing.

Every instance reads every entry with plain XREAD (no consumer group: a group would hand one
camera's frames to several instances), starting at the stream's end on start. Per entry:

- its camera is leased by another instance: skipped;
- the camera is free: this instance takes its lease, then re-reads the camera's entries from
  its checkpoint to the stream's end (the previous owner's unfinished work; ``output.py``);
- the entry is unusable: dead-lettered with the reason (``<detections>:objects-dead``);
- otherwise it waits in the ``ReorderBuffer`` and, in capture order, goes through the objects
  stage; the frame's objects entry and the checkpoint are written fenced by the lease, and
  only then are its object events handed to the events stream. A frame that came after a
  later one of its camera is written too (``late``, no objects) and counted.

A camera whose lease is lost is dropped at once: its tracker, its buffered entries (the new
owner re-reads them from the checkpoint) and its pending events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.redis_streams import stream_id_key
from detektor.domain.events import Envelope
from detektor.domain.frames import CAMERA_RE, FrameId
from detektor.kit.transient import is_transient
from detektor.ports import EventSink
from detektor.services.notifier.entries import DetectionEntry, parse_entry
from detektor.services.objects.announce import Announcer
from detektor.services.objects.lease import CameraLeases
from detektor.services.objects.metrics import ObjectServiceMetrics
from detektor.services.objects.output import Checkpoint, ObjectsOutput
from detektor.services.objects.pictures import FramePictures
from detektor.services.objects.reorder import ReorderBuffer
from detektor.services.objects.stage import ObjectsStage

log = logging.getLogger(__name__)
Key = tuple[int, int]
PAGE = 500


@dataclass(frozen=True, slots=True)
class Pending:
    eid: bytes
    entry: DetectionEntry
    detections: str  # the entry's JSON, handed on as it came
    picture: bool = False  # the detector kept the frame's JPEG beside the stream

    @property
    def key(self) -> Key:
        return _key(self.entry)


class Collecting(MemoryEventSink):
    """The stage's sink: events wait here until their frame is written (or are dropped)."""

    def take(self) -> list[Envelope]:
        out, self.events = self.events, []
        return out


class ObjectsConsumer:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        stage: ObjectsStage,
        collected: Collecting,
        leases: CameraLeases,
        output: ObjectsOutput,
        events: EventSink,
        metrics: ObjectServiceMetrics,
        clock: Callable[[], float] = time.monotonic,
        pictures: FramePictures | None = None,
    ) -> None:
        self.redis, self.stream, self.stage, self.collected = redis, stream, stage, collected
        self.leases, self.output, self.events, self.metrics = leases, output, events, metrics
        self.pictures = pictures  # None: no snapshots (they are off)
        self.announcer = Announcer(events, output, leases)
        self.clock = clock
        self.buffer: ReorderBuffer[Pending] = ReorderBuffer(stage.settings.reorder_window_ms / 1000)
        self.lock = asyncio.Lock()
        self._seen: dict[str, Key] = {}  # camera -> the last entry id handled
        self._done: dict[str, Key | None] = {}  # camera -> the last frame written
        self._next_try: dict[str, float] = {}  # camera -> when to ask for its lease again

    async def start_id(self) -> str:
        """Where reading starts: the stream's last entry now (``$``, made concrete)."""
        last = await self.redis.xrevrange(self.stream, count=1)
        return last[0][0].decode() if last else "0-0"

    async def handle(self, eid: bytes, fields: dict[bytes, bytes]) -> None:
        raw = fields.get(b"camera", b"").decode("utf-8", "replace")
        camera = raw if CAMERA_RE.fullmatch(raw) else None
        if camera is None:
            reason = parse_entry(fields)
            await self._dead(eid, fields, reason if isinstance(reason, str) else "bad camera")
            return
        if self.leases.holds(camera):
            await self._accept(camera, eid, fields)
            return
        if camera in self._seen:
            self.drop(camera)  # ran out unnoticed (Redis away): start again from the checkpoint
        if self.clock() >= self._next_try.get(camera, 0.0):
            await self._take(camera, eid)

    async def _take(self, camera: str, eid: bytes) -> None:
        if not await self.leases.acquire(camera):
            self._next_try[camera] = self.clock() + min(1.0, self.leases.renew_interval_s)
            return
        self.metrics.takeovers.inc()
        cp = await self.output.checkpoint(camera, eid.decode())
        await self.announcer.end_left_open(camera, cp)
        start = cp.resume_from if cp is not None else eid.decode()
        done = cp.key if cp is not None else None
        self._done[camera] = done
        if done is not None:
            self.buffer.mark_released(camera, done)
        log.info("objects: resuming camera %s from entry %s", camera, start)
        # Up to the stream's end, not just this entry: the previous owner may have read further
        # than this instance has, and what it wrote there is recognised only here (by ``done``).
        while True:
            page = await self.redis.xrange(self.stream, min=start, max="+", count=PAGE)
            for item_id, item in page:
                if item.get(b"camera") != camera.encode():
                    continue
                entry = parse_entry(item)
                if not isinstance(entry, str) and done is not None and _key(entry) <= done:
                    self._seen[camera] = stream_id_key(item_id)  # written by the previous owner
                    continue
                await self._accept(camera, item_id, item)
            if len(page) < PAGE:
                break
            start = f"({page[-1][0].decode()}"
        self._seen[camera] = max(self._seen.get(camera, (-1, -1)), stream_id_key(eid))

    async def _accept(self, camera: str, eid: bytes, fields: dict[bytes, bytes]) -> None:
        key = stream_id_key(eid)
        if key <= self._seen.get(camera, (-1, -1)):
            return  # read again while catching up
        self._seen[camera] = key
        entry = parse_entry(fields)
        if isinstance(entry, str):
            await self._dead(eid, fields, entry)
            return
        picture = fields.get(b"picture") == b"1"
        pending = Pending(eid, entry, fields[b"detections"].decode(), picture)
        released = self.buffer.push(camera, pending.key, pending, self.clock())
        await self.process(released)

    async def process(self, released: list[Pending]) -> None:
        """Write the late frames, then track the released ones, in order."""
        for late in self.buffer.take_late():
            self.stage.metrics.stale_frames.labels(late.entry.camera).inc()
            await self._write(late, [], late=True)
        pictures = await self._pictures(released)
        for i, item in enumerate(released):
            camera = item.entry.camera
            if not self.leases.holds(camera):
                self.drop(camera)
                continue
            entry = item.entry
            events = await self.stage.observe_detections(
                entry.frame_id,
                entry.captured_at,
                json.loads(item.detections),
                None,
                entry.traceparent,
                pictures.get(entry.frame_id),
            )
            later = [r for r in released[i + 1 :] if r.entry.camera == camera]
            if await self._write(item, events, later=later):
                self._done[camera] = item.key

    async def _pictures(self, released: Sequence[Pending]) -> dict[FrameId, bytes]:
        if self.pictures is None:
            return {}
        wanted = [p.entry.frame_id for p in released if p.picture]
        return await self.pictures.fetch(wanted)

    async def _write(
        self,
        item: Pending,
        events: list[Envelope],
        *,
        late: bool = False,
        later: Sequence[Pending] = (),
    ) -> bool:
        camera = item.entry.camera
        fields = {
            "frame_id": str(item.entry.frame_id),
            "camera": camera,
            "captured_ms": str(item.entry.frame_id.captured_ms),
            "detections": item.detections,
            "objects": json.dumps([e.to_dict() for e in events]),
        }
        if item.entry.traceparent:
            fields["traceparent"] = item.entry.traceparent
        if late:
            fields["late"] = "1"
        done = self._done.get(camera) if late else item.key
        cp = Checkpoint(self._resume_from(item, later), done)
        delay = 0.5
        while True:
            try:
                written = await self.output.write_frame(camera, item.eid, fields, cp, events)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if not self.leases.holds(camera):  # out of time: the next owner writes it
                    written = False
                    break
                log.warning("objects: cannot write %s yet (%s)", item.entry.frame_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        pending = self.collected.take()
        if not written:
            self.drop(camera)
            pending = [e for e in pending if e.camera != camera]
        if pending:
            await self.events.emit(pending)
        return written

    def _resume_from(self, item: Pending, later: Sequence[Pending]) -> str:
        """The first entry id not written yet: the oldest still waiting or released after
        this one; else the one after the last seen."""
        camera = item.entry.camera
        waiting = [stream_id_key(p.eid) for p in [*later, *self.buffer.waiting(camera)]]
        if waiting:
            ms, seq = min(waiting)
            return f"{ms}-{seq}"
        ms, seq = self._seen.get(camera, stream_id_key(item.eid))
        return f"{ms}-{seq + 1}"

    async def tick(self) -> None:
        """Release what waited long enough; let the stage end objects of quiet cameras."""
        async with self.lock:
            await self.process(self.buffer.due(self.clock()))
            await self.stage.tick()
            await self.announcer.hand_on(self.collected.take())

    async def renew(self) -> None:
        """Renew outside the lock (a long catch-up must not make us lose a lease)."""
        lost = await self.leases.renew_all()
        async with self.lock:
            for camera in lost:
                self.drop(camera)
            self.metrics.owned.set(len(self.leases.owned()))

    async def finish(self, at: datetime) -> None:
        """A clean stop: track what is buffered, end every object, give the leases back."""
        async with self.lock:
            await self.process(self.buffer.flush())
            await self.stage.close(at)
            await self.announcer.hand_on(self.collected.take())
            await self.leases.release_all()

    def drop(self, camera: str) -> None:
        """Forget a camera we no longer own; its new owner starts from the checkpoint."""
        if camera not in self._seen and not self.buffer.waiting(camera):
            self.leases.forget(camera)
            return
        lost = self.buffer.forget(camera)
        self.stage.forget(camera)
        self.leases.forget(camera)
        self._seen.pop(camera, None)
        self._done.pop(camera, None)
        self.collected.events = [e for e in self.collected.events if e.camera != camera]
        log.warning("objects: dropped camera %s (%d entries left to its owner)", camera, len(lost))

    async def _dead(self, eid: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        if await self.output.dead_letter(eid, fields, reason):
            self.metrics.dead_letters.inc()


def _key(entry: DetectionEntry) -> Key:
    return (entry.frame_id.captured_ms, entry.frame_id.seq)
