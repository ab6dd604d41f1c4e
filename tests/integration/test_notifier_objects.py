"""The notifier speaking in objects, against the real Mosquitto (and Redis for the service).

Each test publishes under a topic root of its own (``test-<uuid>/...``) and clears the
retained messages it left behind; the outage test runs a Mosquitto of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import redis

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.kit.metrics import Metrics
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink, broker_from
from detektor.services.notifier.publisher import Notifier
from detektor.services.notifier.rules import Detection
from detektor.settings import Settings
from support.mqtt import PrivateMosquitto, Subscriber, clear_retained
from support.object_events import ObjectScript, envelope, frame_at
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_binary, require_port
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PERSON = {"label": "person", "score": 0.91, "box": [100, 100, 200, 400]}


def service_env(redis_url: str, ns: str, root: str, port: int = 1883) -> dict[str, str]:
    return {
        "DETEKTOR_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "DETEKTOR_REDIS_URL": redis_url,
        "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
        "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{ns}:detections",
        "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
        "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
        "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
        "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
        "DETEKTOR_NOTIFIER__CAMERAS": json.dumps({"front-door": {"labels": ["person"]}}),
    }


def add_entry(
    r: redis.Redis,
    stream: str,
    fid: FrameId,
    detections: object,
    objects: Sequence[Envelope] | str = (),
) -> None:
    """One frame's entry as the objects stage will write it: detections and object events."""
    fields = {
        "frame_id": str(fid),
        "camera": fid.camera,
        "captured_ms": str(fid.captured_ms),
        "detections": json.dumps(detections),
        "traceparent": TRACEPARENT,
        "objects": objects
        if isinstance(objects, str)
        else json.dumps([e.to_dict() for e in objects]),
    }
    r.xadd(stream, fields)  # type: ignore[arg-type]


def wait_ready(service: ServiceProcess, timeout: float = 15.0) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout, f"{service.name} ready", every=0.1)


@pytest.fixture
def mqtt_root() -> Iterator[str]:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    yield root
    clear_retained(1883, root)


def test_occupancy_stays_on_through_a_broker_outage_longer_than_the_off_delay(
    tmp_path: Path,
) -> None:
    """A person stays in view while the broker is down for three times the off-delay. A
    subscriber with a persistent session (the broker keeps it across its restart) sees every
    message on the person's occupancy topic in order: the state must never go OFF."""
    broker = PrivateMosquitto(require_binary("mosquitto", "mosquitto"), tmp_path, persistence=True)
    broker.start()
    root = f"test-{uuid.uuid4().hex[:10]}"
    try:
        with redis_namespace() as (redis_url, ns):
            r = redis.Redis.from_url(redis_url)
            stream = f"{ns}:detections"
            env = {
                **service_env(redis_url, ns, root, broker.port),
                "DETEKTOR_NOTIFIER__OFF_DELAY_S": "1",
                "DETEKTOR_NOTIFIER__RECONNECT_MIN_S": "1",
                "DETEKTOR_NOTIFIER__RECONNECT_MAX_S": "2",
                "DETEKTOR_NOTIFIER__PUBLISH_TIMEOUT_S": "5",
            }
            with ServiceProcess("notifier", tmp_path, env) as notifier:
                wait_ready(notifier)
                sub = Subscriber(broker.port, f"{root}/#", session=True)
                occupancy = f"{root}/detektor/front-door/person"
                person = ObjectScript(start=datetime.now(UTC) - timedelta(seconds=0.5))
                started = person.started()
                add_entry(r, stream, started.frame_id, [PERSON], [envelope(started)])
                sub.wait(occupancy, "ON")

                # The person stays: every frame has them, and the lifecycle has nothing new.
                stop = threading.Event()

                def feed() -> None:
                    seq = 100
                    while not stop.is_set():
                        seq += 1
                        add_entry(
                            r, stream, frame_at("front-door", datetime.now(UTC), seq), [PERSON]
                        )
                        time.sleep(0.2)

                feeder = threading.Thread(target=feed)
                feeder.start()
                try:
                    time.sleep(0.5)
                    before = len(sub.on(occupancy))
                    broker.stop()
                    time.sleep(3.0)  # three times off_delay_s
                    broker.start()
                    wait_ready(notifier, timeout=20)
                    time.sleep(1.5)  # the backlog is read, frames go on
                finally:
                    stop.set()
                    feeder.join()
                wait_for(lambda: len(sub.on(occupancy)) > before, 15, "occupancy re-published")
                time.sleep(1.0)  # anything queued for the subscriber has arrived
                after = [m.payload for m in sub.on(occupancy)[before:]]
                assert "OFF" not in after, f"occupancy went {after} across the outage"
                assert after[-1] == "ON"
                sub.close()
            r.close()
    finally:
        broker.stop()


# --- in process: the Notifier on a real MqttLink, as `detektor run` drives it ----------------


def jpeg(shade: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), shade, np.uint8))
    assert ok
    return bytes(data.tobytes())


class Pictures:
    """The snapshot store's in-memory twin: real JPEGs, the latest frame's brighter."""

    def read_best(self, object_id: str, *, crop: bool = False, box: bool = True) -> bytes:
        return jpeg(200)

    def read_latest(self, camera: str, *, boxes: bool = True) -> bytes:
        return jpeg(100)


@asynccontextmanager
async def live_notifier(
    root: str, port: int = 1883, **notifier: Any
) -> AsyncIterator[tuple[Notifier, MemoryEventSink]]:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{port}",
        notifier={
            "discovery_prefix": f"{root}/homeassistant",
            "state_prefix": f"{root}/detektor",
            "client_id": f"inproc-{root}",
            "cameras": {"front-door": {"labels": ["person", "car"]}},
            "reconnect_min_s": 1,
            "reconnect_max_s": 1,
            **notifier,
        },
    )
    metrics = NotifierMetrics(Metrics("t", "0"))
    sink = MemoryEventSink()
    n = Notifier(
        settings,
        metrics,
        sink,
        snapshots=Pictures(),
        link=lambda path: f"https://ha.example{path}?sig=1",
    )
    assert settings.mqtt_url is not None
    broker = broker_from(settings.mqtt_url.get_secret_value(), settings.notifier)
    link = n.link = MqttLink(
        broker, settings.notifier, n.topics.availability, metrics, n.on_connect
    )
    await link.start()
    try:
        await asyncio.wait_for(link.ready.wait(), 10)
        yield n, sink
    finally:
        await link.stop()


def detection_entry(fid: FrameId, *objects: Envelope) -> DetectionEntry:
    return DetectionEntry(fid, [], TRACEPARENT, objects)


def test_one_object_new_update_end_with_before_and_after(mqtt_root: str) -> None:
    sub = Subscriber(1883, f"{mqtt_root}/#")
    person = ObjectScript()
    steps = [person.started(), person.stationary(11), person.moving(14), person.ended(20)]

    async def scenario() -> list[str]:
        async with live_notifier(mqtt_root, off_delay_s=0) as (n, sink):
            for event in steps:
                await n.handle(
                    detection_entry(frame_at("front-door", event.at, 900), envelope(event))
                )
            return [e.type.value for e in sink.events]

    lifecycle = asyncio.run(scenario())
    assert lifecycle == ["frame.published", "frame.completed"] * 4
    topic = f"{mqtt_root}/detektor/front-door/events"
    wait_for(lambda: len(sub.on(topic)) == 4, 10, "four messages")
    bodies = [json.loads(m.payload) for m in sub.on(topic)]
    assert [b["type"] for b in bodies] == ["new", "update", "update", "end"]
    assert bodies[0]["before"] is None
    for previous, current in itertools.pairwise(bodies):
        assert current["before"] == previous["after"]
    assert [b["after"]["state"] for b in bodies] == ["active", "stationary", "active", "ended"]
    assert bodies[1]["after"]["changes"] == [{"kind": "stationary", "zone": None}]
    assert {b["after"]["id"] for b in bodies} == {person.object_id}
    assert all(not m.retain for m in sub.on(topic))
    assert all(m.user_properties["traceparent"] == TRACEPARENT for m in sub.on(topic))
    everything = [json.loads(m.payload) for m in sub.on(f"{mqtt_root}/detektor/events")]
    assert everything == bodies
    occupancy = [m.payload for m in sub.on(f"{mqtt_root}/detektor/front-door/person")]
    assert occupancy[-1] == "OFF"
    assert occupancy.count("ON") == 1
    counts = [m.payload for m in sub.on(f"{mqtt_root}/detektor/front-door/person/count")]
    stationary = [m.payload for m in sub.on(f"{mqtt_root}/detektor/front-door/person/stationary")]
    # After the zeros announced at connect: active 1, stationary, moving again, gone.
    assert counts == ["0", "1", "0", "1", "0"]
    assert stationary == ["0", "1", "0"]
    sub.close()


def test_a_one_frame_false_hit_publishes_nothing_on_events(mqtt_root: str) -> None:
    sub = Subscriber(1883, f"{mqtt_root}/#")
    start = datetime.now(UTC)

    async def scenario() -> MemoryEventSink:
        async with live_notifier(mqtt_root) as (n, sink):
            # One frame with a person the lifecycle never confirmed, then empty frames.
            for i in range(10):
                fid = frame_at("front-door", start + timedelta(milliseconds=100 * i), i)
                detections = [Detection("person", 0.45, (1, 1, 9, 9))] if i == 0 else []
                await n.handle(DetectionEntry(fid, detections, TRACEPARENT))
            return sink

    sink = asyncio.run(scenario())
    sub.wait(f"{mqtt_root}/detektor/front-door/connected", "ON")
    time.sleep(0.5)
    assert [m for m in sub.seen() if m.topic.endswith("/events")] == []
    assert [m.payload for m in sub.on(f"{mqtt_root}/detektor/front-door/person")] == ["OFF"]
    assert [e.type.value for e in sink.events] == ["frame.completed"] * 10
    sub.close()


def test_image_entities_discovery_and_jpeg_payloads(mqtt_root: str) -> None:
    sub = Subscriber(1883, f"{mqtt_root}/#")
    person = ObjectScript()

    async def scenario() -> None:
        async with live_notifier(mqtt_root) as (n, _):
            started = person.started()
            await n.handle(detection_entry(started.frame_id, envelope(started)))

    asyncio.run(scenario())
    prefix = f"{mqtt_root}/homeassistant/image/detektor_front-door"
    latest = json.loads(sub.wait(f"{prefix}/latest/config").payload)
    assert latest["image_topic"] == f"{mqtt_root}/detektor/front-door/image"
    assert latest["content_type"] == "image/jpeg"
    assert latest["unique_id"] == "detektor_front-door_latest"
    assert latest["device"]["identifiers"] == ["detektor_front-door"]
    assert latest["availability"][0]["topic"] == f"{mqtt_root}/detektor/availability"
    assert "url_topic" not in latest
    snapshot = json.loads(sub.wait(f"{prefix}/person_snapshot/config").payload)
    assert snapshot["image_topic"] == f"{mqtt_root}/detektor/front-door/person/snapshot"
    image = sub.wait(f"{mqtt_root}/detektor/front-door/image")
    assert image.raw == jpeg(100)
    decoded = cv2.imdecode(np.frombuffer(image.raw, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (48, 64, 3)
    best = sub.wait(f"{mqtt_root}/detektor/front-door/person/snapshot")
    assert best.raw == jpeg(200)
    event = json.loads(sub.wait(f"{mqtt_root}/detektor/front-door/events").payload)
    assert event["after"]["has_snapshot"] is True
    assert event["after"]["snapshot_url"] == (
        f"https://ha.example/v1/objects/{person.object_id}/snapshot.jpg?sig=1"
    )
    sub.close()
    # Retained: a subscriber arriving later (HA after a restart) gets the pictures at once.
    late = Subscriber(1883, f"{mqtt_root}/detektor/front-door/#")
    assert late.wait(f"{mqtt_root}/detektor/front-door/image").retain
    assert late.wait(f"{mqtt_root}/detektor/front-door/person/snapshot").retain
    late.close()


def test_everything_is_republished_after_the_broker_connection_drops(tmp_path: Path) -> None:
    """A broker restarted without persistence has lost every retained message: after the
    reconnect the notifier brings back availability, discovery, states and pictures, and
    sends no event again."""
    broker = PrivateMosquitto(require_binary("mosquitto", "mosquitto"), tmp_path)
    broker.start()
    root = f"test-{uuid.uuid4().hex[:10]}"
    car = ObjectScript(label="car")
    try:

        async def scenario() -> None:
            async with live_notifier(root, broker.port, image_interval_s=0) as (n, _):
                assert n.link is not None
                started, still = car.started(), car.stationary(12)
                await n.handle(detection_entry(started.frame_id, envelope(started)))
                await n.handle(detection_entry(still.frame_id, envelope(still)))
                broker.stop()
                await asyncio.sleep(0.5)
                assert not n.link.connected.is_set()
                broker.start()
                await asyncio.wait_for(n.link.ready.wait(), 15)

        asyncio.run(scenario())
        # The scenario stopped the link cleanly after the reconnect: offline is retained.
        sub = Subscriber(broker.port, f"{root}/#")
        state = f"{root}/detektor/front-door"
        assert sub.wait(f"{root}/detektor/availability").payload == "offline"
        assert sub.wait(f"{state}/car", "ON").retain
        assert sub.wait(f"{state}/car/stationary", "1").retain
        assert sub.wait(f"{state}/car/count", "0").retain
        assert sub.wait(f"{state}/image").raw == jpeg(100)
        assert sub.wait(f"{state}/car/snapshot").raw == jpeg(200)
        assert sub.wait(f"{root}/homeassistant/image/detektor_front-door/latest/config").retain
        assert sub.wait(f"{root}/homeassistant/binary_sensor/detektor_front-door/car/config")
        assert [m for m in sub.seen() if m.topic.endswith("/events")] == []
        sub.close()
    finally:
        broker.stop()
