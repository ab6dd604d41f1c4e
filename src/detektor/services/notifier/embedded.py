"""The notifier inside ``detektor run`` (when ``DETEKTOR_MQTT_URL`` is set).

The same ``Notifier`` as ``detektor serve notifier``, fed by the processor instead of the
detections stream. Wiring in the runner::

    notifier = EmbeddedNotifier(settings, kit, pipeline, cameras,  # build_run_app; ConfigError
                                snapshots=store_of_pictures, link=signer)
    ...                                                       # in the lifespan:
    sink = notifier.observe(StoreEventSink(store))            # sees frame.captured
    runner = ProcessorRunner(..., settings.processor.model_copy(update={"last_stage": False}),
                             ..., publish=notifier.publish)   # publish(frames, results, objects)
    notifier.latencies = runner.latencies
    await notifier.start(sink)
    ...                                                       # on shutdown, after the runner:
    await notifier.stop(settings.shutdown_timeout_s)          # before sink.close()

``publish`` never blocks the processor: it queues the frames (with each frame's object
events, which the objects stage has already stored) and returns; a worker publishes them in
order. Frames still queued when ``stop`` gives up are recorded as
``frame.dropped`` with ``reason=shutdown``, so the run's accounting balances.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

from detektor.domain.events import Envelope, EventType
from detektor.kit.app import ServiceKit
from detektor.kit.transient import is_transient
from detektor.kit.workers import join
from detektor.pipeline.decoding import Frame
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processing import Result
from detektor.ports import EventSink
from detektor.services.capture.settings import CameraSettings
from detektor.services.notifier.entries import DetectionEntry, object_problem, parse_detections
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink, PublishError, Refused
from detektor.services.notifier.publisher import Notifier, run_ticks
from detektor.services.notifier.service import broker_of, required_zone_problems
from detektor.services.notifier.snapshots import Link, SnapshotSource
from detektor.settings import ConfigError, Settings

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10_000


class EmbeddedNotifier:
    def __init__(
        self,
        settings: Settings,
        kit: ServiceKit,
        pipeline: PipelineMetrics,
        cameras: Sequence[CameraSettings] | None = None,
        snapshots: SnapshotSource | None = None,
        link: Link | None = None,
    ) -> None:
        self.settings, self.kit, self.pipeline = settings, kit, pipeline
        self.cameras, self.snapshots, self.sign = cameras, snapshots, link
        self.broker = broker_of(settings)  # a bad URL is a ConfigError at build time
        problems = required_zone_problems(settings)
        if problems:
            raise ConfigError("; ".join(problems))
        self.metrics = NotifierMetrics(kit.metrics)
        self._latencies: deque[float] | None = None
        self.notifier: Notifier | None = None
        self.link: MqttLink | None = None
        # Frames with their object events, and object events that came with no frame, in the
        # order they happened.
        self.queue: asyncio.Queue[DetectionEntry | Frameless] = asyncio.Queue(QUEUE_LIMIT)
        self._stop_ticks = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_hand: DetectionEntry | Frameless | None = None

    @property
    def latencies(self) -> deque[float] | None:
        """Where capture-to-completion latencies go (the runner's, for its summary)."""
        return self._latencies

    @latencies.setter
    def latencies(self, value: deque[float] | None) -> None:
        self._latencies = value
        if self.notifier is not None:
            self.notifier.latencies = value

    def observe(self, sink: EventSink) -> EventSink:
        """``sink``, also telling the notifier about every captured frame."""
        return _ObservedSink(sink, self)

    async def start(self, sink: EventSink) -> None:
        notifier = self.notifier = Notifier(
            self.settings,
            self.metrics,
            sink,
            self.pipeline,
            cameras=self.cameras,
            snapshots=self.snapshots,
            link=self.sign,
        )
        notifier.latencies = self._latencies
        link = self.link = notifier.link = MqttLink(
            self.broker,
            self.settings.notifier,
            notifier.topics.availability,
            self.metrics,
            notifier.on_connect,
        )
        self.kit.readiness.add("mqtt", link.check)
        await link.start()
        self._tasks = [
            self.kit.supervisor.start("notifier", self._work),
            self.kit.supervisor.start(
                "notifier-ticker", lambda: run_ticks(notifier, self._stop_ticks)
            ),
        ]

    async def publish(
        self,
        frames: Sequence[Frame],
        results: Sequence[Result],
        objects: Sequence[Sequence[Envelope]] | None = None,
    ) -> None:
        """The processor's ``publish`` hook: queue each frame with its object events
        (``objects[i]`` belongs to ``frames[i]``), never wait."""
        per_frame = objects if objects is not None else [()] * len(frames)
        for frame, result, events in zip(frames, results, per_frame, strict=True):
            msg = frame.message
            detections = parse_detections(result.detections)
            problem = detections if isinstance(detections, str) else None
            for i, event in enumerate(events):
                problem = problem or _problem(i, object_problem(event, msg.camera))
            if problem is not None or isinstance(detections, str):
                if self.notifier is not None:
                    await self.notifier.fail(msg.frame_id, problem or "unusable entry")
                continue
            entry = DetectionEntry(msg.frame_id, detections, msg.traceparent, tuple(events))
            try:
                self.queue.put_nowait(entry)
            except asyncio.QueueFull:
                log.warning("notifier backlog full; dropping %s", msg.frame_id)
                await self._drop([entry], "notifier_backlog")

    async def objects(self, events: Sequence[Envelope]) -> None:
        """Object events with no frame (the objects stage's ``on_events``): queued, never
        waited on; a full queue drops them with a warning (the next frame's counts repair
        the entities, not the event messages)."""
        if not events:
            return
        try:
            self.queue.put_nowait(Frameless(tuple(events)))
        except asyncio.QueueFull:
            log.warning("notifier backlog full; %d object event(s) not announced", len(events))

    async def stop(self, grace_s: float) -> None:
        """Publish what is queued (within ``grace_s``), then disconnect."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), grace_s)
        self._stop_ticks.set()
        for task in self._tasks[:1]:
            task.cancel()
        await join(self._tasks, 1.0)
        left = [self._in_hand] if self._in_hand is not None else []
        while not self.queue.empty():
            left.append(self.queue.get_nowait())
        await self._drop([e for e in left if isinstance(e, DetectionEntry)], "shutdown")
        if self.link is not None:
            await self.link.stop()

    def camera_seen(self, camera: str) -> None:
        if self.notifier is not None:
            self.notifier.camera_seen(camera)

    async def _work(self) -> None:
        while True:
            entry = self._in_hand = await self.queue.get()
            try:
                await self._handle(entry)
            finally:
                self._in_hand = None
                self.queue.task_done()

    async def _handle(self, entry: DetectionEntry | Frameless) -> None:
        """Publish one queue item, retrying while the broker is away; a message the broker
        refuses (or a bug) gives the item up: a frame fails, frameless events are logged."""
        assert self.notifier is not None
        assert self.link is not None
        while True:
            await self.link.ready.wait()
            try:
                if isinstance(entry, Frameless):
                    await self.notifier.handle_objects(entry.events)
                else:
                    await self.notifier.handle(entry)
                return
            except Exception as exc:
                retry = is_transient(exc) or isinstance(exc, PublishError)
                if retry and not isinstance(exc, Refused):
                    log.warning("publishing %s: %s; retrying", _what(entry), exc)
                    await asyncio.sleep(0.5)
                    continue
                await self._give_up(entry, exc)
                return

    async def _give_up(self, entry: DetectionEntry | Frameless, exc: Exception) -> None:
        assert self.notifier is not None
        reason = str(exc) if isinstance(exc, Refused) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, Refused):
            log.warning("publishing %s: %s; given up", _what(entry), reason)
        else:
            log.exception("notifier failed on %s", _what(entry))
        if isinstance(entry, DetectionEntry):
            await self.notifier.fail(entry.frame_id, reason)

    async def _drop(self, entries: list[DetectionEntry], reason: str) -> None:
        if not entries or self.notifier is None:
            return
        events = [
            lifecycle_event(EventType.DROPPED, e.frame_id, {"reason": reason}) for e in entries
        ]
        await self.notifier.sink.emit(events)
        for e in entries:
            self.pipeline.outcome(e.camera, "dropped", reason)


@dataclass(frozen=True, slots=True)
class Frameless:
    """Object events that came with no frame to complete."""

    events: tuple[Envelope, ...]


def _what(entry: DetectionEntry | Frameless) -> str:
    if isinstance(entry, Frameless):
        return f"{len(entry.events)} object event(s) of no frame"
    return str(entry.frame_id)


def _problem(index: int, problem: str | None) -> str | None:
    return None if problem is None else f"objects[{index}]: {problem}"


class _ObservedSink:
    def __init__(self, inner: EventSink, owner: EmbeddedNotifier) -> None:
        self.inner, self.owner = inner, owner

    async def emit(self, events: Sequence[Envelope]) -> None:
        await self.inner.emit(events)
        for event in events:
            if event.type is EventType.CAPTURED:
                self.owner.camera_seen(event.camera)

    async def close(self) -> None:
        await self.inner.close()
