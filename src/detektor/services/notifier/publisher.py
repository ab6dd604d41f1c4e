"""The notifier's core: one frame's object events in, MQTT messages and lifecycle events out.

For each frame the notifier gets the object events the objects stage produced with it (none
for most frames: the lifecycle speaks only when something matters). Each event goes through
the camera's ``ObjectBook``: at most one message (``new``/``update``/``end`` with
``before``/``after``) on ``<state>/events`` and ``<state>/<camera>/events``, carrying the
event's trace context as the MQTT ``traceparent``. The objects present then set occupancy
and counts (``CameraState``), and the pictures follow (``Images``). Raw detections publish
nothing. Once the broker has acknowledged everything the frame caused, the frame gets
``frame.published`` (target ``mqtt``; only when at least one event message went out) and
then ``frame.completed``, whose data lists the object events not sent and why. So each
camera's accounting balances.

It serves ``detektor serve notifier`` (the stream consumer) and ``detektor run`` (the
processor; ``embedded.py``). The messages go out through its ``Outbox`` (``outbox.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from detektor.domain.events import Envelope, EventType
from detektor.domain.fields import format_timestamp
from detektor.domain.frames import FrameId
from detektor.kit.workers import pause
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.ports import EventSink
from detektor.services.capture.settings import CameraSettings
from detektor.services.notifier.acks import acked, quietly
from detektor.services.notifier.discovery import ONLINE, Topics
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.images import Images
from detektor.services.notifier.messages import (
    better_snapshot,
    event_message,
    frame_events,
    object_event,
    object_traceparent,
    traced,
)
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink
from detektor.services.notifier.objects import DUPLICATE, ObjectBook
from detektor.services.notifier.outbox import Future, Outbox
from detektor.services.notifier.rules import CameraRules
from detektor.services.notifier.snapshots import Link, SnapshotSource
from detektor.services.notifier.state import CameraState
from detektor.settings import Settings

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self,
        settings: Settings,
        metrics: NotifierMetrics,
        sink: EventSink,
        pipeline: PipelineMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        cameras: Sequence[CameraSettings] | None = None,
        snapshots: SnapshotSource | None = None,
        link: Link | None = None,
    ) -> None:
        """``cameras`` (default: ``settings.cameras``) are announced at start, and their own
        ``labels`` apply where ``notifier.cameras`` names none. ``snapshots`` feeds the image
        entities (none without it); ``link`` signs the snapshot URLs of events."""
        self.cfg = settings.notifier
        self.metrics, self.sink, self.pipeline, self.clock = metrics, sink, pipeline, clock
        self.snapshots, self.sign = snapshots, link
        self.topics = Topics(self.cfg.discovery_prefix, self.cfg.state_prefix)
        self.outbox = Outbox(self.cfg, metrics, self.topics)
        self.latencies: deque[float] | None = None  # capture-to-completion, for run summaries
        self.images = Images(
            snapshots,
            self.topics,
            self.outbox.send,
            self.cfg.image_interval_s,
            self.cfg.snapshot_crop,
        )
        known = settings.cameras if cameras is None else cameras
        self._capture_labels = {c.name: c.labels for c in known}
        self._recorded = frozenset(c.name for c in known if c.record is not None)
        names = {*self._capture_labels, *self.cfg.cameras, *settings.objects.cameras}
        self._zones = {name: [z.name for z in settings.objects.zones(name)] for name in names}
        self.states: dict[str, CameraState] = {}
        self.books: dict[str, ObjectBook] = {}
        self._rules: dict[str, CameraRules] = {}
        for camera in sorted(self._zones):
            self.state(camera)

    @property
    def link(self) -> MqttLink | None:
        """The link to the broker; attach one before the first message."""
        return self.outbox.link

    @link.setter
    def link(self, link: MqttLink | None) -> None:
        self.outbox.link = link

    def rules(self, camera: str) -> CameraRules:
        """Camera rules: notifier.cameras first, then the camera's own config, then defaults."""
        found = self._rules.get(camera)
        if found is None:
            own = self.cfg.cameras.get(camera)
            labels = (own and own.labels) or self._capture_labels.get(camera) or self.cfg.labels
            min_score = own.min_score if own and own.min_score is not None else self.cfg.min_score
            required = tuple(own.required_zones) if own else ()
            found = self._rules[camera] = CameraRules(tuple(labels), min_score, required)
        return found

    def state(self, camera: str) -> CameraState:
        """The camera's state; a camera seen for the first time is announced to HA."""
        found = self.states.get(camera)
        if found is None:
            rules = self.rules(camera)
            found = self.states[camera] = CameraState(
                camera,
                rules.labels,
                self.cfg.off_delay_s,
                self.cfg.camera_timeout_s,
                started=self.clock(),
                zones=list(self._zones.get(camera, ())),
            )
            self.books[camera] = ObjectBook(rules)
            if self.outbox.ready():
                quietly(self._announce(camera))
        return found

    async def on_connect(self) -> None:
        """After every (re)connect: discovery, ``online``, every current state, the images."""
        futures = [self.outbox.send("availability", self.topics.availability, ONLINE)]
        for camera in list(self.states):
            futures += self._announce(camera)
            futures += [self.outbox.change(camera, c) for c in self.states[camera].snapshot()]
        await acked(futures, self.cfg.publish_timeout_s)
        await acked(await self.images.republish(list(self.states)), self.cfg.publish_timeout_s)
        log.info("announced %d camera(s) to Home Assistant", len(self.states))

    def camera_seen(self, camera: str) -> None:
        """A frame of ``camera`` was captured: its camera entity is connected."""
        self.outbox.changes_now(camera, self.state(camera).seen(self.clock()))

    def tick(self) -> None:
        """Turn off occupancies held long enough with no object left, and silent cameras."""
        now = self.clock()
        for camera, state in list(self.states.items()):
            self.outbox.changes_now(camera, state.expire(now))

    async def flush_images(self) -> None:
        """Send the latest images that waited for their interval."""
        if self.outbox.ready():
            quietly(await self.images.flush(self.clock()))

    async def handle(self, entry: DetectionEntry, received: float | None = None) -> float | None:
        """Publish what one frame's object events mean, then record the frame's lifecycle
        events. Returns the seconds from ``received`` to the broker's last ack, or None when
        nothing was sent."""
        received = self.clock() if received is None else received
        camera, cfg = entry.camera, self.cfg
        state = self.state(camera)  # state() makes the book
        wall = datetime.now(UTC)
        with traced("publish mqtt", entry.traceparent, entry.frame_id) as traceparent:
            futures, events, filtered = await self._objects(entry.objects, wall, traceparent)
            now = self.clock()
            changes = state.seen(now) if entry.age_s(wall) <= cfg.max_event_age_s else []
            futures += [self.outbox.change(camera, c) for c in changes]
            futures += await self._refresh(camera, now)
            took = None
            if futures:
                await acked(futures, cfg.publish_timeout_s)
                took = self.clock() - received
                self.metrics.publish_duration.observe(took)
            if events:
                self.metrics.end_to_end.labels(camera).observe(max(entry.age_s(), 0.0))
            await self.sink.emit(self._lifecycle(entry, events, filtered))
            return took

    async def handle_objects(self, envelopes: Sequence[Envelope]) -> None:
        """Object events that came with no frame to complete: a still scene that made an
        object stationary, a camera gone quiet that ended its objects, a run's end."""
        wall = datetime.now(UTC)
        futures: list[Future] = []
        for camera in sorted({e.camera for e in envelopes}):
            self.state(camera)
            mine = [e for e in envelopes if e.camera == camera]
            sent, _, _ = await self._objects(mine, wall, None)
            futures += sent + await self._refresh(camera, self.clock())
        if futures:
            await acked(futures, self.cfg.publish_timeout_s)

    async def _objects(
        self, envelopes: Sequence[Envelope], wall: datetime, traceparent: str | None
    ) -> tuple[list[Future], int, list[dict[str, object]]]:
        """The messages of some object events: futures, how many went out, what did not."""
        futures: list[Future] = []
        events = 0
        filtered: list[dict[str, object]] = []
        for envelope in envelopes:
            fresh = (wall - envelope.occurred_at).total_seconds() <= self.cfg.max_event_age_s
            sent = await self._object(envelope, fresh, traceparent)
            if isinstance(sent, dict):
                filtered.append(sent)
            else:
                futures += sent
                events += 1
        return futures, events, filtered

    async def _refresh(self, camera: str, now: float) -> list[Future]:
        """The camera's counts and occupancy after its objects changed, and its images."""
        state, book = self.states[camera], self.books[camera]
        futures: list[Future] = []
        counts = book.counts(state.labels, state.zones)
        for zone in counts.by_zone:  # a zone seen for the first time gets its entities
            if state.add_zone(zone) and self.outbox.ready():
                futures += self._announce(camera, [zone])
        futures += [self.outbox.change(camera, c) for c in state.apply(counts, now)]
        futures += await self.images.flush(now)
        return futures

    async def _object(
        self, envelope: Envelope, fresh: bool, traceparent: str | None
    ) -> list[Future] | dict[str, object]:
        """One object event: its message and what follows from it, or, when it is not sent,
        what was not and why."""
        event, camera = object_event(envelope), envelope.camera
        book = self.books[camera]
        verdict = book.apply(envelope.event_id, event, fresh=fresh)
        again = self.outbox.resend(envelope.event_id) if verdict.reason == DUPLICATE else None
        if again is not None:  # a retry of this frame: the same message, at least once
            return again
        if verdict.kind is None or verdict.tracked is None:
            reason = verdict.reason or "unknown"
            self.metrics.filtered.labels(camera, reason).inc()
            return {"object_id": event.object_id, "type": envelope.type.value, "reason": reason}
        recorded = event.camera in self._recorded
        body, after = event_message(
            verdict, envelope, event, self.snapshots is not None, self.sign, recorded
        )
        verdict.tracked.sent = after
        object_tp = object_traceparent(envelope, traceparent)
        futures = self.outbox.event(camera, envelope.event_id, body, object_tp)
        if verdict.kind == "new":
            stamp = self.states[camera].stamp(format_timestamp(event.first_seen), after)
            futures.append(self.outbox.change(camera, stamp))
        if verdict.kind != "end":
            self.images.want_latest(camera)
        if book.newest.get(event.label) == event.object_id and (
            verdict.first or verdict.kind == "end" or better_snapshot(event)
        ):
            futures += await self.images.label(camera, event.label, event.object_id)
        return futures

    async def fail(self, frame_id: FrameId, reason: str) -> None:
        """A frame whose entry cannot be used fails here instead of staying in flight."""
        await self.sink.emit(
            [lifecycle_event(EventType.FAILED, frame_id, {"stage": "notifier", "error": reason})]
        )
        if self.pipeline is not None:
            self.pipeline.outcome(frame_id.camera, "failed")

    def _lifecycle(
        self, entry: DetectionEntry, events: int, filtered: list[dict[str, object]]
    ) -> list[Envelope]:
        if self.pipeline is not None:
            if events:
                self.pipeline.outcome(entry.camera, "published")
            self.pipeline.outcome(entry.camera, "completed")
            latency = max(entry.age_s(), 0.0)
            self.pipeline.frame_latency.labels(entry.camera).observe(latency)
            if self.latencies is not None:
                self.latencies.append(latency)
        return frame_events(entry.frame_id, events, filtered, self.topics.events(entry.camera))

    def _announce(self, camera: str, zones: Sequence[str] | None = None) -> list[Future]:
        """Discovery of the camera's entities, or with ``zones`` of those zones' only."""
        return self.outbox.announce(
            camera,
            self.rules(camera).labels,
            zones or self.states[camera].zones,
            device=not zones,
            images=self.snapshots is not None,
        )


async def run_ticks(notifier: Notifier, stop: asyncio.Event, every_s: float = 0.25) -> None:
    """Apply occupancy holds, camera timeouts and waiting images until stopped."""
    while not stop.is_set():
        notifier.tick()
        await notifier.flush_images()
        await pause(stop, every_s)
