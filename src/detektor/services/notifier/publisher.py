"""The notifier's core: one frame's detections in, MQTT messages and lifecycle events out.

For each frame: the camera's rules split its detections into published and filtered; the
camera state turns labels on and counts them; each published detection becomes one message
on ``<state>/<camera>/events`` carrying the frame's ``traceparent``. Once the broker has
acknowledged all of them, the frame gets ``frame.published`` (target ``mqtt``; only when at
least one event went out) and then ``frame.completed``, whose data lists what was filtered
and why. Frames whose detections were all filtered, or that had none, are completed without
a publish, so each camera's accounting balances.

The same object serves ``detektor serve notifier`` (fed by the stream consumer) and
``detektor run`` (fed by the processor; see ``embedded.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence

from opentelemetry import trace

from detektor import package_version
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.kit.tracecontext import extract_context, inject_fields
from detektor.kit.workers import pause
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.ports import EventSink
from detektor.services.capture.settings import CameraSettings
from detektor.services.notifier.discovery import ONLINE, Topics, discovery_configs
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink
from detektor.services.notifier.rules import CameraRules, Detection, decide
from detektor.services.notifier.state import CameraState, Change
from detektor.settings import Settings

log = logging.getLogger(__name__)
tracer = trace.get_tracer("detektor.notifier")


class Notifier:
    def __init__(
        self,
        settings: Settings,
        metrics: NotifierMetrics,
        sink: EventSink,
        pipeline: PipelineMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        cameras: Sequence[CameraSettings] | None = None,
    ) -> None:
        """``cameras`` (default: ``settings.cameras``) are announced at start, and their own
        ``labels`` apply where ``notifier.cameras`` names none."""
        self.cfg = settings.notifier
        self.metrics, self.sink, self.pipeline, self.clock = metrics, sink, pipeline, clock
        self.topics = Topics(self.cfg.discovery_prefix, self.cfg.state_prefix)
        self.version = package_version()
        self.link: MqttLink | None = None
        self.latencies: deque[float] | None = None  # capture-to-completion, for run summaries
        known = settings.cameras if cameras is None else cameras
        self._capture_labels = {c.name: c.labels for c in known}
        self.states: dict[str, CameraState] = {}
        self._rules: dict[str, CameraRules] = {}
        for camera in sorted({*self._capture_labels, *self.cfg.cameras}):
            self.state(camera)

    def rules(self, camera: str) -> CameraRules:
        """Camera rules: notifier.cameras first, then the camera's own config, then defaults."""
        found = self._rules.get(camera)
        if found is None:
            own = self.cfg.cameras.get(camera)
            labels = (own and own.labels) or self._capture_labels.get(camera) or self.cfg.labels
            min_score = own.min_score if own and own.min_score is not None else self.cfg.min_score
            polygons = own.zones if own else {}
            zones = {name: [(p[0], p[1]) for p in poly] for name, poly in polygons.items()}
            found = self._rules[camera] = CameraRules(tuple(labels), min_score, zones)
        return found

    def state(self, camera: str) -> CameraState:
        """The camera's state; a camera seen for the first time is announced to HA."""
        found = self.states.get(camera)
        if found is None:
            cfg = self.cfg
            found = self.states[camera] = CameraState(
                camera,
                self.rules(camera).labels,
                cfg.off_delay_s,
                cfg.camera_timeout_s,
                cfg.timestamp_interval_s,
                started=self.clock(),
            )
            if self._ready():
                self._announce(camera)
        return found

    async def on_connect(self) -> None:
        """After every (re)connect: discovery, ``online``, then every current state."""
        futures = [self.send("availability", self.topics.availability, ONLINE)]
        for camera in list(self.states):
            futures += self._announce(camera)
            futures += [self._publish_change(camera, c) for c in self.states[camera].snapshot()]
        await acked(futures, self.cfg.publish_timeout_s)
        log.info("announced %d camera(s) to Home Assistant", len(self.states))

    def camera_seen(self, camera: str) -> None:
        """A frame of ``camera`` was captured: its camera entity is connected."""
        self._publish_now(camera, self.state(camera).seen(self.clock()))

    def tick(self) -> None:
        """Turn off labels past their off-delay, and cameras gone silent."""
        now = self.clock()
        for camera, state in list(self.states.items()):
            self._publish_now(camera, state.expire(now))

    async def handle(self, entry: DetectionEntry, received: float | None = None) -> float | None:
        """Publish one frame's detections, then record its lifecycle events. Returns the
        seconds from ``received`` to the broker's last ack, or None when nothing was sent."""
        received = self.clock() if received is None else received
        camera, cfg = entry.camera, self.cfg
        stale = entry.age_s() > cfg.max_event_age_s
        decision = decide(self.rules(camera), entry.detections, stale=stale)
        for _, reason in decision.filtered:
            self.metrics.filtered.labels(camera, reason).inc()
        state = self.state(camera)
        parent = extract_context({"traceparent": entry.traceparent or ""})
        with tracer.start_as_current_span(
            "publish mqtt", context=parent, kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute("detektor.frame.id", str(entry.frame_id))
            span.set_attribute("detektor.camera", camera)
            span.set_attribute("messaging.system", "mqtt")
            carrier: dict[str, str] = {}
            inject_fields(carrier)
            traceparent = carrier.get("traceparent") or entry.traceparent
            snapshot = self.snapshot_url(entry.frame_id)
            futures: list[asyncio.Future[None]] = []
            if not stale:
                counts = Counter(det.label for det, _ in decision.published)
                best = max(decision.published, key=lambda p: p[0].score, default=None)
                attributes = None
                if best is not None:
                    attributes = {**best[0].to_dict(), "frame_id": str(entry.frame_id)}
                    attributes["snapshot_url"] = snapshot
                changes = state.observe(counts, self.clock(), entry.captured_at, attributes)
                futures += [self._publish_change(camera, c) for c in changes]
            for det, zones in decision.published:
                body = {
                    "camera": camera,
                    **det.to_dict(),
                    "zones": zones,
                    "frame_id": str(entry.frame_id),
                    "captured_at": entry.captured_at.isoformat(),
                    "snapshot_url": snapshot,
                }
                futures.append(
                    self.send(
                        "event", self.topics.events(camera), json.dumps(body), traceparent, False
                    )
                )
            took = None
            if futures:
                await acked(futures, cfg.publish_timeout_s)
                took = self.clock() - received
                self.metrics.publish_duration.observe(took)
            events = len(decision.published)
            if events:
                self.metrics.end_to_end.labels(camera).observe(max(entry.age_s(), 0.0))
            await self.sink.emit(self._lifecycle(entry, events, decision.filtered))
            return took

    async def fail(self, frame_id: FrameId, reason: str) -> None:
        """A frame whose detections cannot be used fails here instead of staying in flight."""
        await self.sink.emit(
            [lifecycle_event(EventType.FAILED, frame_id, {"stage": "notifier", "error": reason})]
        )
        if self.pipeline is not None:
            self.pipeline.outcome(frame_id.camera, "failed")

    def snapshot_url(self, frame_id: FrameId) -> str | None:
        base = self.cfg.snapshot_base_url
        return f"{base.rstrip('/')}/v1/frames/{frame_id}" if base else None

    def send(
        self,
        kind: str,
        topic: str,
        payload: str,
        traceparent: str | None = None,
        retain: bool = True,
    ) -> asyncio.Future[None]:
        """One message; discovery and availability go at QoS 1, the rest at notifier.qos."""
        assert self.link is not None, "attach an MqttLink first"
        qos = 1 if kind in ("discovery", "availability") else self.cfg.qos
        fut = self.link.send(
            topic,
            payload,
            qos=qos,
            retain=retain,
            traceparent=traceparent,
            json_body=payload.startswith("{"),
        )
        counter = self.metrics.messages.labels(kind)
        fut.add_done_callback(lambda f: counter.inc() if _succeeded(f) else None)
        return fut

    def _lifecycle(
        self, entry: DetectionEntry, events: int, filtered: Iterable[tuple[Detection, str]]
    ) -> list[Envelope]:
        out = []
        camera = entry.camera
        if events:
            data = {"target": "mqtt", "events": events, "topic": self.topics.events(camera)}
            out.append(lifecycle_event(EventType.PUBLISHED, entry.frame_id, data))
        dropped = [{**det.to_dict(), "reason": reason} for det, reason in filtered]
        done = {"stage": "notifier", "published": events, "filtered": dropped}
        out.append(lifecycle_event(EventType.COMPLETED, entry.frame_id, done))
        if self.pipeline is not None:
            if events:
                self.pipeline.outcome(camera, "published")
            self.pipeline.outcome(camera, "completed")
            latency = max(entry.age_s(), 0.0)
            self.pipeline.frame_latency.labels(camera).observe(latency)
            if self.latencies is not None:
                self.latencies.append(latency)
        return out

    def _announce(self, camera: str) -> list[asyncio.Future[None]]:
        labels = self.rules(camera).labels
        return [
            self.send("discovery", topic, json.dumps(payload))
            for topic, payload in discovery_configs(
                camera, labels, self.topics, self.version, self.cfg.qos
            )
        ]

    def _publish_change(self, camera: str, change: Change) -> asyncio.Future[None]:
        t = self.topics
        if change.kind == "occupancy":
            assert change.label is not None
            return self.send("state", t.occupancy(camera, change.label), change.value)
        if change.kind == "count":
            assert change.label is not None
            return self.send("state", t.count(camera, change.label), change.value)
        if change.kind == "connected":
            return self.send("state", t.connected(camera), change.value)
        if change.attributes is not None:
            attrs = json.dumps(change.attributes)
            self.send("state", t.last_detection_attributes(camera), attrs).add_done_callback(_quiet)
        return self.send("state", t.last_detection(camera), change.value)

    def _ready(self) -> bool:
        return self.link is not None and self.link.connected.is_set()

    def _publish_now(self, camera: str, changes: list[Change]) -> None:
        """Fire and forget (while connected): the snapshot after a reconnect repairs gaps."""
        if changes and self._ready():
            for change in changes:
                self._publish_change(camera, change).add_done_callback(_quiet)


async def acked(futures: list[asyncio.Future[None]], timeout_s: float) -> None:
    """Wait for the broker's ack of every message (cheaper than gather + wait_for: no task)."""
    try:
        async with asyncio.timeout(timeout_s):
            for fut in futures:
                await fut
    finally:
        for fut in futures:
            _succeeded(fut)  # marks every failure as seen, so none is reported twice


def _succeeded(fut: asyncio.Future[None]) -> bool:
    return fut.done() and not fut.cancelled() and fut.exception() is None


def _quiet(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("publishing a state message failed: %s", fut.exception())


async def run_ticks(notifier: Notifier, stop: asyncio.Event, every_s: float = 0.25) -> None:
    """Apply off-delays and camera timeouts until stopped."""
    while not stop.is_set():
        notifier.tick()
        await pause(stop, every_s)
