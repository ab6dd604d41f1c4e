"""The objects stage: processed frames in, object events out (stored), snapshots kept.

``detektor run`` calls it in process from the processor's publish hook, before the notifier,
so Home Assistant hears of a frame's objects together with the frame. Per frame it runs that
camera's tracker and lifecycle (``camera.py``), appends the object events to the event store
through the sink with the frame's trace context, keeps the best snapshot of every object whose
best sighting this frame is, and the camera's latest frame. Tracking and JPEG encoding are CPU
work: each batch runs in a worker thread, one batch at a time, so frames stay in order.
``serve objects`` hands it detections, and the frame's JPEG when the detector kept one,
through ``observe_detections`` (``pictures.py``).

Frames skipped for no motion reach it through ``skipped`` (the scene is unchanged); a camera
from which nothing arrives for a while has its objects ended by ``tick``, with the time moved
on from its last frame by the wall-clock time since that frame came.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.object_events import ObjectEvent
from detektor.objects.model import Detection
from detektor.pipeline.decoding import Frame
from detektor.pipeline.processing import Result
from detektor.ports import EventSink
from detektor.services.objects.camera import CameraObjects, Observed, trace_ids, usable
from detektor.services.objects.metrics import ObjectMetrics
from detektor.services.objects.pictures import Pictures, SnapshotKeeper
from detektor.services.objects.settings import ObjectsSettings

log = logging.getLogger(__name__)
# A skipped frame waits this long for frames captured before it that are still in the detector.
SKIP_GRACE_S = 1.0
# Skipped frames that show the scene as the last processed frame did (for detection).
UNCHANGED = frozenset({"no_motion", "masked"})
Trace = tuple[str | None, str | None]  # trace id, span id


@dataclass(frozen=True, slots=True)
class _Skip:
    frame_id: FrameId
    at: datetime
    trace: Trace
    arrived: float


class ObjectsStage:
    def __init__(
        self,
        settings: ObjectsSettings,
        sink: EventSink,
        metrics: ObjectMetrics,
        snapshots: SnapshotKeeper | None = None,
    ) -> None:
        self.settings, self.sink, self.metrics = settings, sink, metrics
        on = snapshots is not None and settings.snapshots.enabled
        self.pictures = Pictures(snapshots, metrics) if snapshots is not None and on else None
        self.cameras: dict[str, CameraObjects] = {}
        self._arrived: dict[str, float] = {}  # camera -> monotonic time its last frame came
        self._skips: dict[str, list[_Skip]] = {}
        # Events that come with no processed frame (skips, ticks, close): Home Assistant's.
        self.on_events: Callable[[Sequence[Envelope]], Awaitable[None]] | None = None
        self._lock = asyncio.Lock()

    def camera(self, name: str) -> CameraObjects:
        found = self.cameras.get(name)
        if found is None:
            found = self.cameras[name] = CameraObjects(name, self.settings)
        return found

    async def frames(
        self, frames: Sequence[Frame], results: Sequence[Result]
    ) -> list[list[Envelope]]:
        """Observe a batch; returns each frame's object events, already emitted to the sink."""
        async with self._lock:
            skips = self._skips_before([(f.message.camera, f.message.captured_at) for f in frames])
            per_frame, from_skips = await to_thread.run_sync(
                self._observe_batch, frames, results, skips
            )
            await self._emit(from_skips)
            await self._emit([e for events in per_frame for e in events], notify=False)
        return per_frame

    async def observe_detections(
        self,
        frame_id: FrameId,
        at: datetime,
        detections: Sequence[object],
        frame_size: tuple[int, int] | None = None,
        traceparent: str | None = None,
        picture: bytes | None = None,
    ) -> list[Envelope]:
        """One processed frame as ``serve objects`` gets it: the detector's dicts and, when
        the detector kept it, the frame's JPEG (for snapshots) in; the frame's object events
        out, already emitted."""
        async with self._lock:
            skips = self._skips_before([(frame_id.camera, at)])
            events, from_skips = await to_thread.run_sync(
                self._observe_pictured,
                frame_id,
                at,
                usable(detections),
                frame_size,
                traceparent,
                skips.get(frame_id.camera, []),
                picture,
            )
            await self._emit(from_skips)
            await self._emit(events, notify=False)
        return events

    def forget(self, camera: str) -> None:
        """Drop a camera's tracker, objects and waiting skips (another instance owns it now);
        its objects get no ``object.ended`` from here."""
        self.cameras.pop(camera, None)
        self._skips.pop(camera, None)
        self._arrived.pop(camera, None)

    def observe(self, sink: EventSink) -> EventSink:
        """``sink``, also telling this stage about every frame skipped for no motion."""
        return _SkipObserver(sink, self)

    def skipped(self, frame_id: FrameId, at: datetime, trace: Trace = (None, None)) -> None:
        """A frame the motion gate skipped: nothing moved, the objects are still there.

        It is applied later, in capture order: before the next processed frame of its
        camera captured after it, or by ``tick`` once no such frame came for a while (frames
        captured before it may still be in the detector; applied first, it would make them
        late).
        """
        self._skips.setdefault(frame_id.camera, []).append(
            _Skip(frame_id, at, trace, time.monotonic())
        )

    async def tick(self) -> None:
        """Apply skips that waited long enough, and end the objects of cameras that sent
        nothing for longer than an object may hide."""
        quiet = min(self.settings.max_disappeared_s, self.settings.stationary_max_disappeared_s)
        grace = max(self.settings.reorder_window_ms / 1000, SKIP_GRACE_S)
        now = time.monotonic()
        async with self._lock:
            events: list[Envelope] = []
            for name in list(self._skips):
                due = [k for k in self._skips[name] if now - k.arrived >= grace]
                self._skips[name] = self._skips[name][len(due) :]
                for skip in due:
                    events += self._apply_skip(self.camera(name), skip)
            for name, cam in self.cameras.items():
                came, last = self._arrived.get(name), cam.last_at
                if came is None or last is None or now - came < quiet:
                    continue
                ended = cam.expire(last + timedelta(seconds=now - came))
                events += self._envelopes(Observed(ended))
            await self._emit(events)

    async def close(self, at: datetime) -> list[Envelope]:
        """End every object (the run stops); returns the events, already emitted."""
        async with self._lock:
            events = [
                e for cam in self.cameras.values() for e in self._envelopes(Observed(cam.close(at)))
            ]
            await self._emit(events)
        return events

    def _skips_before(self, frames: Sequence[tuple[str, datetime]]) -> dict[str, list[_Skip]]:
        """Per camera, the waiting skips captured before the batch's first frame of it (each
        one a frame for the tracker's counts); skips captured after stay waiting."""
        first: dict[str, datetime] = {}
        for camera, at in frames:
            first[camera] = min(at, first.get(camera, at))
        out = {}
        for camera, at in first.items():
            waiting = self._skips.get(camera, [])
            before = [k for k in waiting if k.at < at]
            if before:
                self._skips[camera] = [k for k in waiting if k.at >= at]
                out[camera] = before
        return out

    def _apply_skip(self, cam: CameraObjects, skip: _Skip) -> list[Envelope]:
        observed = cam.unchanged(skip.frame_id, skip.at)
        self._arrived[cam.camera] = time.monotonic()
        return self._envelopes(observed, *skip.trace)

    def _observe_batch(
        self, frames: Sequence[Frame], results: Sequence[Result], skips: dict[str, list[_Skip]]
    ) -> tuple[list[list[Envelope]], list[Envelope]]:
        out = []
        from_skips = []
        for frame, result in zip(frames, results, strict=True):
            msg = frame.message
            detections = usable(result.detections)
            observed, events, skipped = self._observe_one(
                msg.frame_id,
                msg.captured_at,
                detections,
                (msg.width, msg.height),
                msg.traceparent,
                skips.pop(msg.camera, []),
            )
            from_skips += skipped
            if self.pictures is not None:
                self.pictures.keep(msg.camera, frame.image, detections, observed)
            out.append(events)
        return out, from_skips

    def _observe_pictured(
        self,
        frame_id: FrameId,
        at: datetime,
        detections: Sequence[Detection],
        frame_size: tuple[int, int] | None,
        traceparent: str | None,
        skips: Sequence[_Skip],
        picture: bytes | None,
    ) -> tuple[list[Envelope], list[Envelope]]:
        image = None
        if picture is not None and self.pictures is not None:
            image = self.pictures.decode(frame_id, picture)
        if image is not None and frame_size is None:
            frame_size = (image.shape[1], image.shape[0])
        observed, events, from_skips = self._observe_one(
            frame_id, at, detections, frame_size, traceparent, skips
        )
        if image is not None and self.pictures is not None:
            self.pictures.keep(frame_id.camera, image, detections, observed)
        return events, from_skips

    def _observe_one(
        self,
        frame_id: FrameId,
        at: datetime,
        detections: Sequence[Detection],
        frame_size: tuple[int, int] | None,
        traceparent: str | None,
        skips: Sequence[_Skip],
    ) -> tuple[Observed, list[Envelope], list[Envelope]]:
        """One frame, after the skips captured before it: (observed, its events, the skips')."""
        cam = self.camera(frame_id.camera)
        from_skips = [e for skip in skips for e in self._apply_skip(cam, skip)]
        self._arrived[cam.camera] = time.monotonic()
        observed = cam.observe(frame_id, at, detections, frame_size)
        if observed.stale:
            self.metrics.stale_frames.labels(cam.camera).inc()
            log.warning("objects: %s came after a later frame; not tracked", frame_id)
        return observed, self._envelopes(observed, *trace_ids(traceparent)), from_skips

    def _envelopes(
        self, observed: Observed, trace_id: str | None = None, span_id: str | None = None
    ) -> list[Envelope]:
        out = []
        for event in observed.events:
            self.metrics.events.labels(event.camera, event.type.value).inc()
            out.append(envelope_of(event, trace_id, span_id))
        return out

    async def _emit(self, events: list[Envelope], *, notify: bool = True) -> None:
        """Store the events; those not handed on with their frame also go to ``on_events``."""
        if events:
            await self.sink.emit(events)
            if notify and self.on_events is not None:
                await self.on_events(events)
        self.metrics.refresh(self.cameras)


def envelope_of(event: ObjectEvent, trace_id: str | None, span_id: str | None) -> Envelope:
    """The envelope of an object event, with the trace context of the frame that made it."""
    return Envelope.new(
        EventType(event.type.value),
        event.frame_id,
        event.to_data(),
        event.at,
        trace_id=trace_id,
        span_id=span_id,
    )


class _SkipObserver:
    def __init__(self, inner: EventSink, stage: ObjectsStage) -> None:
        self.inner, self.stage = inner, stage

    async def emit(self, events: Sequence[Envelope]) -> None:
        await self.inner.emit(events)
        for event in events:
            if event.type is EventType.SKIPPED and event.data.get("reason") in UNCHANGED:
                trace = (event.trace_id, event.span_id)
                self.stage.skipped(event.frame_id, event.occurred_at, trace)

    async def close(self) -> None:
        await self.inner.close()
