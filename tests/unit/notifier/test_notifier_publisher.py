"""The notifier core with a recording link: messages, lifecycle events, filtered reasons."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink
from detektor.services.notifier.publisher import Notifier
from detektor.services.notifier.rules import Detection
from detektor.settings import Settings

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class Sent:
    topic: str
    payload: str
    qos: int
    retain: bool
    traceparent: str | None


@dataclass
class RecordingLink:
    sent: list[Sent] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, topic: str, payload: str | bytes, **kw: Any) -> asyncio.Future[None]:
        self.sent.append(
            Sent(topic, str(payload), kw["qos"], kw.get("retain", False), kw.get("traceparent"))
        )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def topics(self) -> list[str]:
        return [s.topic for s in self.sent]


def make(**notifier: Any) -> tuple[Notifier, RecordingLink, MemoryEventSink, Metrics]:
    metrics = Metrics("t", "0")
    settings = Settings(notifier={"snapshot_base_url": "http://tracking:8000/", **notifier})
    sink = MemoryEventSink()
    n = Notifier(settings, NotifierMetrics(metrics), sink, PipelineMetrics(metrics))
    link = RecordingLink()
    link.connected.set()
    link.ready.set()
    n.link = cast(MqttLink, link)
    return n, link, sink, metrics


def entry(camera: str = "front-door", *dets: Detection, age_s: float = 0.1) -> DetectionEntry:
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    fid = FrameId.make(camera, int(at.timestamp() * 1000), 7)
    return DetectionEntry(fid, list(dets), TRACEPARENT)


PERSON = Detection("person", 0.9, (10, 20, 110, 220))


def test_a_person_is_published_then_the_frame_completes() -> None:
    async def scenario() -> None:
        n, link, sink, metrics = make()
        e = entry("front-door", PERSON, Detection("giraffe", 0.9, (0, 0, 1, 1)))
        await n.handle(e)
        assert "detektor/front-door/person" in link.topics()  # ON
        events = [s for s in link.sent if s.topic == "detektor/front-door/events"]
        assert len(events) == 1
        body = json.loads(events[0].payload)
        assert body["frame_id"] == str(e.frame_id)
        assert body["label"] == "person"
        assert body["box"] == [10, 20, 110, 220]
        assert body["snapshot_url"] == f"http://tracking:8000/v1/frames/{e.frame_id}"
        assert events[0].traceparent == TRACEPARENT  # no SDK here: the frame's own context
        assert not events[0].retain
        types = [ev.type for ev in sink.events]
        assert types == [EventType.PUBLISHED, EventType.COMPLETED]
        assert sink.events[0].data["target"] == "mqtt"
        assert sink.events[0].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        filtered = sink.events[1].data["filtered"]
        assert [f["reason"] for f in filtered] == ["label_not_configured"]  # type: ignore[index, union-attr]
        await asyncio.sleep(0)  # the ack counters run as done-callbacks
        text = metrics.expose(None)[0].decode()
        filtered_series = 'camera="front-door",reason="label_not_configured"} 1.0'
        assert "detektor_notifier_filtered_total{" + filtered_series in text
        assert 'detektor_notifier_messages_total{kind="event"} 1.0' in text
        assert "detektor_notifier_publish_duration_seconds_count 1.0" in text
        assert (
            'detektor_frames_total{camera="front-door",outcome="completed",reason=""} 1.0' in text
        )

    asyncio.run(scenario())


def test_frames_with_nothing_to_publish_still_complete() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make(cameras={"porch": {"zones": {"steps": [[0, 0], [5, 0], [0, 5]]}}})
        await n.handle(entry("porch", PERSON))  # feet at (60, 220): outside the steps
        await n.handle(entry("porch"))  # nothing seen
        assert not [t for t in link.topics() if t.endswith("/events")]
        assert [ev.type for ev in sink.events] == [EventType.COMPLETED, EventType.COMPLETED]
        assert sink.events[0].data["filtered"][0]["reason"] == "outside_zones"  # type: ignore[index]

    asyncio.run(scenario())


def test_an_old_backlog_updates_nothing_and_is_completed_as_stale() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make(max_event_age_s=5)
        await n.handle(entry("front-door", PERSON, age_s=60))
        # The new camera is announced, but no state or event goes out.
        assert all(t.endswith("/config") for t in link.topics())
        assert sink.events[-1].data["filtered"][0]["reason"] == "stale"  # type: ignore[index]

    asyncio.run(scenario())


def test_reconnect_republishes_discovery_online_and_states_and_new_cameras_are_announced() -> None:
    async def scenario() -> None:
        n, link, _, _ = make(cameras={"front-door": {"labels": ["person"]}})
        await n.on_connect()
        topics = link.topics()
        assert topics[0] == "detektor/availability"
        assert "homeassistant/binary_sensor/detektor_front-door/person/config" in topics
        assert "detektor/front-door/person" in topics
        assert all(s.qos == 1 and s.retain for s in link.sent)
        link.sent.clear()
        await n.handle(entry("garage", PERSON))  # a camera nobody configured
        assert link.topics()[0] == "homeassistant/binary_sensor/detektor_garage/person/config"

    asyncio.run(scenario())


def test_off_delay_via_tick() -> None:
    async def scenario() -> None:
        now = [100.0]
        n, link, _, _ = make(off_delay_s=2)
        n.clock = lambda: now[0]
        await n.handle(entry("front-door", PERSON))
        link.sent.clear()
        now[0] = 101.0
        n.tick()
        assert link.sent == []
        now[0] = 102.0
        n.tick()
        await asyncio.sleep(0)
        offs = [s.payload for s in link.sent if s.topic == "detektor/front-door/person"]
        assert offs == ["OFF"]

    asyncio.run(scenario())
