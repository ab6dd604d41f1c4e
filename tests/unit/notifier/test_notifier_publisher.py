"""The notifier core with a recording link: object messages, states, images, lifecycle events.

Object events come from the real ``ObjectLifecycle`` (fed tracked boxes, as the objects stage
will) or from ``ObjectScript`` for the finer cases; pictures from an in-memory snapshot
source holding real JPEGs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import cv2
import numpy as np

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.object_track import TrackedBox
from detektor.domain.objects import ObjectLifecycle
from detektor.domain.zones import Zone
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink
from detektor.services.notifier.publisher import Notifier
from support.object_events import SPAN_ID, TRACE_ID, ObjectScript, envelope, frame_at

TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"
FRAME_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@dataclass
class Sent:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    traceparent: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class RecordingLink:
    sent: list[Sent] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, topic: str, payload: str | bytes, **kw: Any) -> asyncio.Future[None]:
        raw = payload.encode() if isinstance(payload, str) else payload
        self.sent.append(
            Sent(topic, raw, kw["qos"], kw.get("retain", False), kw.get("traceparent"))
        )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def topics(self) -> list[str]:
        return [s.topic for s in self.sent]

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


def jpeg(shade: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), shade, np.uint8))
    assert ok
    return data.tobytes()


@dataclass
class Pictures:
    """The snapshot store's in-memory twin: real JPEG bytes, and a log of what was read."""

    reads: list[tuple[str, str, dict[str, bool]]] = field(default_factory=list)

    def read_best(self, object_id: str, *, crop: bool = False, box: bool = True) -> bytes | None:
        self.reads.append(("best", object_id, {"crop": crop, "box": box}))
        return jpeg(200)

    def read_latest(self, camera: str, *, boxes: bool = True) -> bytes | None:
        self.reads.append(("latest", camera, {"boxes": boxes}))
        return jpeg(100)


def make(
    snapshots: Pictures | None = None, recorded: Any = (), **notifier: Any
) -> tuple[Notifier, RecordingLink, MemoryEventSink, Metrics]:
    from detektor.settings import Settings

    metrics = Metrics("t", "0")
    settings = Settings(notifier=notifier, cameras=list(recorded))
    sink = MemoryEventSink()
    n = Notifier(
        settings,
        NotifierMetrics(metrics),
        sink,
        PipelineMetrics(metrics),
        snapshots=snapshots,
        link=lambda path: f"https://ha.example/api{path}?sig=abc",
    )
    link = RecordingLink()
    link.connected.set()
    link.ready.set()
    n.link = cast(MqttLink, link)
    return n, link, sink, metrics


def entry(fid: FrameId, *objects: Envelope) -> DetectionEntry:
    return DetectionEntry(fid, [], FRAME_TRACEPARENT, tuple(objects))


def events_on(link: RecordingLink, camera: str = "front-door") -> list[dict[str, Any]]:
    bodies = [s.json for s in link.on(f"detektor/{camera}/events")]
    assert bodies == [s.json for s in link.on("detektor/events")]  # both topics, same messages
    return bodies


def live_scene(
    frames: Sequence[Sequence[TrackedBox]], zones: Sequence[Zone] = ()
) -> list[tuple[FrameId, list[Envelope]]]:
    """Run the real lifecycle over ``frames`` (10 fps, ending about now) and return each
    frame with its object events, as the objects stage hands them over."""
    lifecycle = ObjectLifecycle("front-door", zones=zones)
    start = datetime.now(UTC) - timedelta(seconds=len(frames) / 10 + 1)
    out = []
    for i, boxes in enumerate(frames):
        at = start + timedelta(milliseconds=100 * i)
        fid = frame_at("front-door", at, i)
        step = lifecycle.observe(fid, at, boxes, (640, 480))
        out.append((fid, [envelope(e) for e in step.events]))
    return out


def walker(track_id: int = 1, frames: int = 20, x0: float = 100) -> list[list[TrackedBox]]:
    return [
        [TrackedBox(track_id, "person", (x0 + 10 * i, 140, x0 + 60 + 10 * i, 300), 0.9)]
        for i in range(frames)
    ]


async def play(n: Notifier, scene: list[tuple[FrameId, list[Envelope]]]) -> None:
    for fid, objects in scene:
        await n.handle(entry(fid, *objects))


def test_a_person_is_one_new_then_one_end_with_before_and_after() -> None:
    async def scenario() -> None:
        n, link, sink, metrics = make(Pictures(), off_delay_s=0)
        scene = live_scene(walker(frames=20) + [[] for _ in range(30)])
        await play(n, scene)
        bodies = events_on(link)
        assert [b["type"] for b in bodies] == ["new", "end"]
        new, end = bodies
        assert new["before"] is None
        after = new["after"]
        assert after["id"].startswith("front-door:")
        assert (after["camera"], after["label"], after["state"]) == (
            "front-door",
            "person",
            "active",
        )
        assert after["stationary"] is False
        assert after["end_time"] is None
        assert isinstance(after["start_time"], float)
        assert after["box"] == [120.0, 140.0, 180.0, 300.0]  # the third sighting confirmed it
        assert after["has_snapshot"] is True
        assert after["snapshot_url"] == (
            f"https://ha.example/api/v1/objects/{after['id']}/snapshot.jpg?sig=abc"
        )
        assert after["trace_id"] == TRACE_ID
        assert (after["has_clip"], after["clip_url"]) == (False, None)  # not recorded
        assert end["before"] == after  # the after sent last time
        assert end["after"]["state"] == "ended"
        assert end["after"]["end_time"] > end["after"]["start_time"]
        sent = link.on("detektor/front-door/events")
        assert all(not s.retain and s.qos == 1 for s in sent)
        assert sent[0].traceparent == TRACEPARENT  # the object event's own trace context
        # Occupancy and counts follow the object; the frames in between said nothing.
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON", b"OFF"]
        assert [s.payload for s in link.on("detektor/front-door/person/count")] == [b"1", b"0"]
        stamp = link.on("detektor/front-door/last_detection")
        assert [s.payload.decode() for s in stamp] == [after["started_at"]]
        # Every frame completes; only those that sent something are published.
        completed = [e for e in sink.events if e.type is EventType.COMPLETED]
        published = [e for e in sink.events if e.type is EventType.PUBLISHED]
        assert len(completed) == 50
        assert [str(e.frame_id) for e in published] == [str(f) for f, o in scene if o]
        assert published[0].data["events"] == 1
        await asyncio.sleep(0)  # the ack counters run as done-callbacks
        text = metrics.expose(None)[0].decode()
        assert 'detektor_notifier_messages_total{kind="event"} 4.0' in text
        assert (
            'detektor_frames_total{camera="front-door",outcome="completed",reason=""} 50.0' in text
        )

    asyncio.run(scenario())


def test_a_one_frame_false_hit_publishes_nothing() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make()
        scene = live_scene([walker(frames=1)[0]] + [[] for _ in range(30)])
        assert all(not objects for _, objects in scene)  # the lifecycle kept it tentative
        await play(n, scene)
        assert events_on(link) == []
        assert link.on("detektor/front-door/person") == []
        assert {e.type for e in sink.events} == {EventType.COMPLETED}
        assert all(not e.data["filtered"] for e in sink.events)

    asyncio.run(scenario())


def test_a_parked_car_is_one_new_and_one_stationary_update_then_silence() -> None:
    async def scenario() -> None:
        n, link, _, _ = make()
        still = [
            [TrackedBox(7, "car", (300 + (i % 3) - 1, 250, 500 + (i % 3) - 1, 350), 0.85)]
            for i in range(250)
        ]
        await play(n, live_scene(still))
        bodies = events_on(link)
        assert [b["type"] for b in bodies] == ["new", "update"]
        update = bodies[1]
        assert update["after"]["state"] == "stationary"
        assert update["after"]["stationary"] is True
        assert update["after"]["changes"] == [{"kind": "stationary", "zone": None}]
        assert update["before"]["state"] == "active"
        counts = [s.payload for s in link.on("detektor/front-door/car/count")]
        stationary = [s.payload for s in link.on("detektor/front-door/car/stationary")]
        assert (counts, stationary) == ([b"1", b"0"], [b"1"])
        assert [s.payload for s in link.on("detektor/front-door/car")] == [b"ON"]

    asyncio.run(scenario())


def test_zones_get_entities_occupancy_and_entered_zones() -> None:
    async def scenario() -> None:
        n, link, _, _ = make()
        porch = Zone("porch", ((250.0, 0.0), (640.0, 0.0), (640.0, 480.0), (250.0, 480.0)))
        await play(n, live_scene(walker(frames=30), [porch]))
        update = next(b for b in events_on(link) if b["type"] == "update")
        assert update["after"]["zones"] == ["porch"]
        assert update["after"]["entered_zones"] == ["porch"]
        assert update["after"]["changes"] == [{"kind": "entered_zone", "zone": "porch"}]
        config = "homeassistant/binary_sensor/detektor_front-door/zone_porch_person/config"
        assert config in link.topics()
        assert link.topics().index(config) < link.topics().index(
            "detektor/front-door/zones/porch/person"
        )  # announced before its first state
        assert [s.payload for s in link.on("detektor/front-door/zones/porch/person")] == [b"ON"]

    asyncio.run(scenario())


def test_required_zones_and_min_score_decide_what_is_announced() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make(
            cameras={
                "front-door": {"labels": ["person"], "min_score": 0.5, "required_zones": ["porch"]}
            }
        )
        person = ObjectScript()
        started = person.started()
        await n.handle(entry(started.frame_id, envelope(started)))
        assert events_on(link) == []
        assert sink.events[-1].to_dict()["data"]["filtered"] == [
            {
                "object_id": person.object_id,
                "type": "object.started",
                "reason": "outside_required_zones",
            }
        ]
        # Counted all the same: the person is there.
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON"]
        entered = person.entered("porch", 1)
        await n.handle(entry(entered.frame_id, envelope(entered)))
        assert [b["type"] for b in events_on(link)] == ["new"]
        assert sink.events[-2].type is EventType.PUBLISHED

    asyncio.run(scenario())


def test_an_old_backlog_updates_the_state_but_sends_no_events() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make(max_event_age_s=5)
        person = ObjectScript(start=datetime.now(UTC) - timedelta(seconds=60))
        started = person.started()
        await n.handle(entry(started.frame_id, envelope(started)))
        assert events_on(link) == []
        assert sink.events[-1].data["filtered"][0]["reason"] == "stale"  # type: ignore[index]
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON"]
        assert link.on("detektor/front-door/connected") == []  # an old frame is no sign of life

    asyncio.run(scenario())


def test_images_are_rate_limited_per_camera_and_flushed_later() -> None:
    async def scenario() -> None:
        now = [100.0]
        pictures = Pictures()
        n, link, _, _ = make(pictures, image_interval_s=2)
        n.clock = lambda: now[0]
        person = ObjectScript()
        for step in (
            person.started(),
            person.entered("porch", 0.5),
            person.better_snapshot(1, 0.95),
        ):
            await n.handle(entry(step.frame_id, envelope(step)))
            now[0] += 0.5
        images = link.on("detektor/front-door/image")
        assert len(images) == 1  # the later two changes fall inside the interval
        assert images[0].retain
        assert images[0].payload[:2] == b"\xff\xd8"  # a JPEG
        assert ("latest", "front-door", {"boxes": True}) in pictures.reads
        await n.flush_images()  # 1.5 s after the first: still too early
        assert len(link.on("detektor/front-door/image")) == 1
        now[0] += 0.5
        await n.flush_images()
        assert len(link.on("detektor/front-door/image")) == 2
        await n.flush_images()
        assert len(link.on("detektor/front-door/image")) == 2  # nothing new since
        # The label's snapshot: the new object's best, and again for the better one.
        snapshots = link.on("detektor/front-door/person/snapshot")
        assert len(snapshots) == 2
        assert all(s.retain for s in snapshots)
        assert ("best", person.object_id, {"crop": True, "box": True}) in pictures.reads

    asyncio.run(scenario())


def test_reconnect_republishes_discovery_online_states_and_images() -> None:
    async def scenario() -> None:
        n, link, _, _ = make(Pictures(), cameras={"front-door": {"labels": ["person"]}})
        person = ObjectScript()
        started = person.started()
        await n.handle(entry(started.frame_id, envelope(started)))
        link.sent.clear()
        await n.on_connect()
        topics = link.topics()
        assert topics[0] == "detektor/availability"
        assert "homeassistant/binary_sensor/detektor_front-door/person/config" in topics
        assert "homeassistant/image/detektor_front-door/latest/config" in topics
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON"]
        assert [s.payload for s in link.on("detektor/front-door/person/count")] == [b"1"]
        assert len(link.on("detektor/front-door/image")) == 1
        assert len(link.on("detektor/front-door/person/snapshot")) == 1
        assert events_on(link) == []  # states, never events, are repeated
        assert all(s.retain for s in link.sent)
        link.sent.clear()
        garage = ObjectScript(camera="garage")
        started = garage.started()
        await n.handle(entry(started.frame_id, envelope(started)))  # a camera nobody configured
        assert link.topics()[0] == "homeassistant/binary_sensor/detektor_garage/person/config"

    asyncio.run(scenario())


def test_the_minimum_hold_via_tick() -> None:
    async def scenario() -> None:
        now = [100.0]
        n, link, _, _ = make(off_delay_s=2)
        n.clock = lambda: now[0]
        person = ObjectScript()
        started = person.started()
        await n.handle(entry(started.frame_id, envelope(started)))
        ended = person.ended(0.5)
        now[0] = 101.0
        await n.handle(entry(frame_at("front-door", ended.at, 99), envelope(ended)))
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON"]
        n.tick()
        now[0] = 102.0
        n.tick()
        await asyncio.sleep(0)
        assert [s.payload for s in link.on("detektor/front-door/person")] == [b"ON", b"OFF"]

    asyncio.run(scenario())


def test_a_retried_frame_sends_the_same_message_again_and_moves_no_state_twice() -> None:
    async def scenario() -> None:
        n, link, sink, _ = make()
        person = ObjectScript()
        started = person.started()
        frame = entry(started.frame_id, envelope(started))
        await n.handle(frame)
        await n.handle(frame)  # the broker's ack timed out: the consumer retries the entry
        first, again = link.on("detektor/front-door/events")
        assert first.payload == again.payload
        assert again.traceparent == TRACEPARENT
        assert events_on(link)[1]["type"] == "new"
        assert [e.type for e in sink.events].count(EventType.PUBLISHED) == 2
        assert [s.payload for s in link.on("detektor/front-door/person/count")] == [b"1"]
        # A filtered event taken again stays filtered, with its reason.
        dog = ObjectScript(label="giraffe", track_id=4)
        giraffe = entry(dog.started().frame_id, envelope(dog.started()))
        await n.handle(giraffe)
        await n.handle(giraffe)
        reasons = [f["reason"] for f in sink.events[-1].to_dict()["data"]["filtered"]]
        assert reasons == ["duplicate"]

    asyncio.run(scenario())


def test_a_recorded_cameras_events_link_to_the_objects_clip() -> None:
    async def scenario() -> None:
        door = {"name": "front-door", "source": "rtsp://cam/1", "record": {"pre_s": 3}}
        n, link, _, _ = make(Pictures(), recorded=[door], off_delay_s=0)
        await play(n, live_scene(walker(frames=20) + [[] for _ in range(30)]))
        new, end = events_on(link)
        for body in (new, end):
            assert body["after"]["has_clip"] is True
            assert body["after"]["clip_url"] == (
                f"https://ha.example/api/v1/objects/{new['after']['id']}/clip.mp4?sig=abc"
            )

    asyncio.run(scenario())
