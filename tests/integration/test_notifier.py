"""The notifier as a real process against the real Mosquitto, Redis and PostgreSQL.

Each test publishes under a topic root of its own (``test-<uuid>/...``) and clears the
retained messages it left behind. The fault test runs a Mosquitto of its own on a free port
and restarts it mid-stream.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from support.mqtt import PrivateMosquitto, Subscriber, clear_retained
from support.object_events import envelope, started_in
from support.postgres import temporary_database
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_binary, require_port
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PORCH = [[0, 300], [640, 300], [640, 480], [0, 480]]
PASSWORD = "hunter2-not-logged"


def configs(sub: Subscriber, root: str, count: int) -> dict[str, dict[str, Any]]:
    """The retained discovery configs under ``root``, once ``count`` have arrived."""

    def check() -> dict[str, dict[str, Any]] | None:
        found = {
            m.topic: json.loads(m.payload)
            for m in sub.seen()
            if m.retain and m.topic.startswith(f"{root}/homeassistant/") and m.payload
        }
        return found if len(found) >= count else None

    return wait_for(check, 15, f"{count} retained discovery configs")


def assert_valid_discovery(topic: str, payload: dict[str, Any], root: str) -> None:
    prefix, component, node, obj, tail = topic.rsplit("/", 4)
    assert prefix == f"{root}/homeassistant"
    assert tail == "config"
    assert component in ("binary_sensor", "sensor", "image")
    camera = node.removeprefix("detektor_")
    assert payload["unique_id"] == f"detektor_{camera}_{obj}"
    # An image entity shows the JPEG published on its image_topic; it has no state.
    topic_key = "image_topic" if component == "image" else "state_topic"
    assert {"name", topic_key, "availability", "device"} <= payload.keys()
    assert payload[topic_key].startswith(f"{root}/detektor/{camera}/")
    if component == "image":
        assert payload["content_type"] == "image/jpeg"
    assert payload["availability"][0]["topic"] == f"{root}/detektor/availability"
    assert payload["device"]["identifiers"] == [node]
    if component == "binary_sensor":
        assert payload["device_class"] in ("occupancy", "connectivity")


def notifier_env(redis_url: str, ns: str, root: str, port: int = 1883) -> dict[str, str]:
    return {
        # The brokers here allow anonymous clients and ignore credentials; the password is
        # there to check that it never shows up in logs or /info.
        "DETEKTOR_MQTT_URL": f"mqtt://detektor:{PASSWORD}@127.0.0.1:{port}",
        "DETEKTOR_REDIS_URL": redis_url,
        "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
        "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{ns}:detections",
        "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
        "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
        "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
        "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
        "DETEKTOR_NOTIFIER__OFF_DELAY_S": "1",
        "DETEKTOR_NOTIFIER__SNAPSHOT_BASE_URL": "http://tracking.local:8000",
        "DETEKTOR_NOTIFIER__CAMERAS": json.dumps(
            {
                "front-door": {"labels": ["person"]},
                "porch": {"labels": ["person"], "required_zones": ["steps"]},
            }
        ),
        "DETEKTOR_OBJECTS__CAMERAS": json.dumps({"porch": {"zones": {"steps": {"points": PORCH}}}}),
    }


def wait_ready(service: ServiceProcess, timeout: float = 15.0) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, timeout, f"{service.name} ready", every=0.1)


def frame_id(camera: str, seq: int) -> str:
    """A frame captured half a second ago: its pipeline events (capture time + a few ms) then
    precede the notifier's, as they do when a detector runs before it."""
    ms = int((datetime.now(UTC) - timedelta(milliseconds=500)).timestamp() * 1000)
    return f"{camera}:{ms}:{seq:06d}"


def pipeline_events(r: redis.Redis, stream: str, fid: str) -> None:
    """What capture and the detector record before the notifier's turn."""
    camera, ms, _ = fid.split(":")
    at = datetime.fromtimestamp(int(ms) / 1000, UTC)
    steps = [
        ("captured", {"width": 640, "height": 480, "pts": 1, "source": "synthetic://"}),
        ("queued", {"stream": "frames"}),
        ("processing", {"processor": "detector", "batch_id": "b1"}),
        ("processed", {"processor": "detector", "duration_ms": 5.0, "detections": []}),
    ]
    for i, (kind, data) in enumerate(steps):
        envelope = {
            "event_id": str(uuid.uuid4()),
            "type": f"frame.{kind}",
            "frame_id": fid,
            "camera": camera,
            "occurred_at": (at + timedelta(milliseconds=i + 1)).isoformat(),
            "trace_id": TRACEPARENT[3:35],
            "schema_version": 1,
            "data": data,
        }
        r.xadd(stream, {"envelope": json.dumps(envelope)})


def detection(
    r: redis.Redis, stream: str, fid: str, detections: object, objects: Sequence[Envelope] = ()
) -> None:
    """One frame's entry: its detections, and the object events the objects stage made."""
    camera, ms, _ = fid.split(":")
    fields = {
        "frame_id": fid,
        "camera": camera,
        "captured_ms": ms,
        "detections": detections if isinstance(detections, str) else json.dumps(detections),
        "traceparent": TRACEPARENT,
        "objects": json.dumps([e.to_dict() for e in objects]),
    }
    r.xadd(stream, fields)  # type: ignore[arg-type]


def person(x1: float = 100, y1: float = 100, x2: float = 200, y2: float = 400) -> dict[str, Any]:
    return {"label": "person", "score": 0.91, "box": [x1, y1, x2, y2]}


@pytest.fixture
def mqtt_root() -> Iterator[str]:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    yield root
    clear_retained(1883, root)


def test_objects_reach_home_assistant_over_the_real_mosquitto(
    tmp_path: Path, mqtt_root: str
) -> None:
    root = mqtt_root
    with (
        temporary_database("detektor_notifier") as db_url,
        redis_namespace() as (redis_url, ns),
    ):
        r = redis.Redis.from_url(redis_url)
        common = {"DETEKTOR_REDIS_URL": redis_url, "DETEKTOR_TRACKING__STREAM": f"{ns}:events"}
        tracking = ServiceProcess(
            "tracking",
            tmp_path,
            {
                **common,
                "DETEKTOR_DATABASE_URL": db_url,
                "DETEKTOR_TRACKING__DEAD_LETTER_STREAM": f"{ns}:events:dead",
                "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
            },
        )
        notifier = ServiceProcess("notifier", tmp_path, notifier_env(redis_url, ns, root))
        with tracking, notifier:
            wait_ready(notifier)
            # Subscribing after the notifier announced itself: what arrives is retained.
            sub = Subscriber(1883, f"{root}/#")
            # front-door: person x 3 + last detection + camera; porch: the same + 3 for the
            # steps zone, configured in the objects section.
            found = configs(sub, root, 13)
            for topic, payload in found.items():
                assert_valid_discovery(topic, payload, root)
            assert len({p["unique_id"] for p in found.values()}) == len(found)
            person_cfg = found[
                f"{root}/homeassistant/binary_sensor/detektor_front-door/person/config"
            ]
            assert person_cfg["device_class"] == "occupancy"
            steps_cfg = found[
                f"{root}/homeassistant/binary_sensor/detektor_porch/zone_steps_person/config"
            ]
            assert steps_cfg["state_topic"] == f"{root}/detektor/porch/zones/steps/person"
            online = sub.wait(f"{root}/detektor/availability", "online")
            assert online.retain

            # A person the objects stage confirmed at the front door: new, then end.
            fid = frame_id("front-door", 1)
            pipeline_events(r, f"{ns}:events", fid)
            started = started_in(fid)
            detection(r, f"{ns}:detections", fid, [person()], [started])
            sub.wait(f"{root}/detektor/front-door/person", "ON")
            assert sub.wait(f"{root}/detektor/front-door/person/count", "1")
            event = sub.wait(f"{root}/detektor/front-door/events")
            body = json.loads(event.payload)
            assert body["type"] == "new"
            assert body["before"] is None
            assert body["after"]["frame_id"] == fid
            assert body["after"]["label"] == "person"
            assert body["after"]["box"] == [100, 100, 200, 400]
            # Signed with the key in the shared data dir: tracking opens it without the token.
            link = body["after"]["snapshot_url"]
            assert link.startswith(f"http://tracking.local:8000/v1/objects/{body['after']['id']}/")
            assert "&sig=" in link
            assert not event.retain
            assert json.loads(sub.wait(f"{root}/detektor/events").payload) == body
            traceparent = event.user_properties["traceparent"]
            assert traceparent.split("-")[1] == TRACEPARENT.split("-")[1]
            stamp = sub.wait(f"{root}/detektor/front-door/last_detection")
            assert datetime.fromisoformat(stamp.payload) == datetime.fromtimestamp(
                int(fid.split(":")[1]) / 1000, UTC
            )
            later = frame_id("front-door", 2)
            pipeline_events(r, f"{ns}:events", later)
            ended = envelope(_ended(started, FrameId.parse(fid).captured_at + timedelta(seconds=2)))
            detection(r, f"{ns}:detections", later, [], [ended])
            sub.wait(f"{root}/detektor/front-door/person", "OFF", timeout=5)
            end = [json.loads(m.payload) for m in sub.on(f"{root}/detektor/front-door/events")]
            assert [b["type"] for b in end] == ["new", "end"]
            assert end[1]["before"] == body["after"]

            def timeline(frame: str, state: str) -> dict[str, Any] | None:
                reply = httpx.get(f"{tracking.url}/v1/frames/{frame}", timeout=2)
                body = reply.json() if reply.status_code == 200 else None
                return body if body and body["state"] == state else None

            view = wait_for(lambda: timeline(fid, "completed"), 10, "frame completed")
            types = [e["type"] for e in view["events"]]
            assert types[-2:] == ["frame.published", "frame.completed"]
            assert view["events"][-2]["data"]["target"] == "mqtt"
            assert view["anomalies"] == []
            assert view["trace_id"] == TRACEPARENT.split("-")[1]

            # Bad input never crashes the service.
            bad = frame_id("front-door", 3)
            detection(r, f"{ns}:detections", bad, "{not json")
            car = frame_id("front-door", 4)
            pipeline_events(r, f"{ns}:events", car)
            detection(r, f"{ns}:detections", car, [], [started_in(car, 2, "car")])
            lawn = frame_id("porch", 5)
            pipeline_events(r, f"{ns}:events", lawn)
            detection(r, f"{ns}:detections", lawn, [], [started_in(lawn, 3)])  # not on the steps
            dead = wait_for(lambda: r.xrange(f"{ns}:detections:dead"), 10, "a dead letter")
            assert dead[0][1][b"frame_id"] == bad.encode()
            assert b"not valid JSON" in dead[0][1][b"dead_reason"]
            failed = wait_for(lambda: timeline(bad, "failed"), 10, "malformed frame failed")
            assert "not valid JSON" in failed["events"][-1]["data"]["error"]
            for frame, reason in ((car, "label_not_configured"), (lawn, "outside_required_zones")):
                view = wait_for(lambda f=frame: timeline(f, "completed"), 10, f"{frame} completed")
                last = view["events"][-1]
                assert [e["type"] for e in view["events"]][-1] == "frame.completed"
                assert "frame.published" not in [e["type"] for e in view["events"]]
                assert last["data"]["filtered"][0]["reason"] == reason
            # The person on the lawn is counted all the same: the porch has a person.
            sub.wait(f"{root}/detektor/porch/person", "ON")
            events = [m for m in sub.seen() if m.topic.endswith("/events")]
            assert {json.loads(m.payload)["after"]["frame_id"] for m in events} == {fid}
            assert httpx.get(f"{notifier.url}/healthz").status_code == 200
            metrics = httpx.get(f"{notifier.url}/metrics").text
            assert (
                'detektor_notifier_filtered_total{camera="porch",reason="outside_required_zones"}'
                " 1.0" in metrics
            )
            assert "detektor_notifier_dead_letters_total 1.0" in metrics
            assert "detektor_notifier_connected 1.0" in metrics
            assert "detektor_notifier_publish_duration_seconds_count" in metrics
            info = httpx.get(f"{notifier.url}/info").json()
            assert info["config"]["broker"] == "mqtt://detektor:***@127.0.0.1:1883"
            sub.close()
        assert notifier.proc is not None
        assert notifier.proc.returncode == 0
        assert PASSWORD not in notifier.output()
        assert "connected to MQTT broker mqtt://detektor:***@127.0.0.1:1883" in notifier.output()


def _ended(started: Envelope, at: datetime) -> Any:
    from dataclasses import replace

    from detektor.domain.object_events import ObjectEventType, ObjectState
    from support.object_events import object_event_of

    return replace(
        object_event_of(started), type=ObjectEventType.ENDED, state=ObjectState.ENDED, at=at
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {
                "DETEKTOR_OBJECTS__CAMERAS": json.dumps(
                    {
                        "front-door": {
                            "zones": {"porch": {"points": [[0, 0], [10, 10], [10, 0], [0, 10]]}}
                        }
                    }
                )
            },
            ["zones.porch.points", "self-intersecting"],
        ),
        (
            {"DETEKTOR_NOTIFIER__CAMERAS": json.dumps({"front-door": {"zones": {"porch": PORCH}}})},
            ["zones moved", "objects.cameras.<camera>.zones"],
        ),
        (
            {
                "DETEKTOR_NOTIFIER__CAMERAS": json.dumps(
                    {"front-door": {"required_zones": ["porch"]}}
                )
            },
            ["'porch' is not a zone of objects.cameras.front-door.zones"],
        ),
    ],
    ids=["bow-tie", "zones-moved", "unknown-required-zone"],
)
def test_zone_mistakes_stop_the_start_with_a_clear_error(
    env: dict[str, str], says: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "serve", "notifier"],
        env={
            "PATH": "/usr/bin:/bin",
            # The code under test, where PYTHONPATH points at a checkout.
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
            "DETEKTOR_MQTT_URL": "mqtt://user:secret@127.0.0.1:1883",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    for text in says:
        assert text in done.stderr
    assert "secret" not in done.stderr + done.stdout


def test_broker_restart_mid_stream_reconnects_and_announces_again(tmp_path: Path) -> None:
    broker = PrivateMosquitto(require_binary("mosquitto", "mosquitto"), tmp_path)
    root = f"test-{uuid.uuid4().hex[:10]}"
    try:
        with redis_namespace() as (redis_url, ns):
            r = redis.Redis.from_url(redis_url)
            env = {
                **notifier_env(redis_url, ns, root, broker.port),
                "DETEKTOR_NOTIFIER__RECONNECT_MIN_S": "1",
                "DETEKTOR_NOTIFIER__RECONNECT_MAX_S": "2",
                "DETEKTOR_NOTIFIER__PUBLISH_TIMEOUT_S": "5",
                "DETEKTOR_NOTIFIER__OFF_DELAY_S": "30",
            }
            notifier = ServiceProcess("notifier", tmp_path, env).start()
            try:
                # No broker yet: alive, not ready, retrying with backoff.
                time.sleep(1.5)
                answer = httpx.get(f"{notifier.url}/readyz", timeout=2)
                assert answer.status_code == 503
                assert answer.json()["failing"] == ["mqtt"]
                assert httpx.get(f"{notifier.url}/healthz", timeout=2).status_code == 200
                broker.start()
                wait_ready(notifier)
                before = Subscriber(broker.port, f"{root}/#")
                configs(before, root, 13)
                before.wait(f"{root}/detektor/availability", "online")
                before.close()

                frames = [frame_id("front-door", n) for n in range(30)]
                # The person is confirmed in the first frame and stays: the rest say nothing.
                objects = [[started_in(frames[0])]] + [[] for _ in frames[1:]]
                feeding = threading.Thread(
                    target=lambda: [
                        (detection(r, f"{ns}:detections", f, [person()], o), time.sleep(0.1))
                        for f, o in zip(frames, objects, strict=True)
                    ]
                )
                feeding.start()
                time.sleep(1.0)
                broker.stop()  # mid-stream
                time.sleep(1.0)
                broker.start()
                feeding.join()

                wait_ready(notifier, timeout=20)
                after = Subscriber(broker.port, f"{root}/#")
                found = configs(after, root, 13)  # re-published: the broker kept nothing
                for topic, payload in found.items():
                    assert_valid_discovery(topic, payload, root)
                assert after.wait(f"{root}/detektor/availability", "online").retain
                assert after.wait(f"{root}/detektor/front-door/person", "ON").retain

                def completed() -> set[str] | None:
                    done = {
                        json.loads(fields[b"envelope"])["frame_id"]
                        for _, fields in r.xrange(f"{ns}:events")
                        if b'"frame.completed"' in fields[b"envelope"]
                    }
                    return done if done >= set(frames) else None

                wait_for(completed, 30, "every frame completed across the restart")
                metrics = httpx.get(f"{notifier.url}/metrics").text
                assert "detektor_notifier_connections_total 2.0" in metrics
                assert "lost MQTT broker" in notifier.output()

                # The LWT: a notifier that dies says offline through the broker.
                notifier.stop(signal.SIGKILL)
                offline = after.wait(f"{root}/detektor/availability", "offline", timeout=10)
                assert offline.payload == "offline"
                after.close()
            finally:
                if notifier.proc is not None and notifier.proc.poll() is None:
                    notifier.stop()
    finally:
        broker.stop()


def test_embedded_notifier_publishes_what_the_processor_hands_it(mqtt_root: str) -> None:
    """``detektor run``'s path: the processor's publish hook, the store sink, no Redis."""
    import asyncio

    import numpy as np

    from detektor.adapters.event_sinks import MemoryEventSink
    from detektor.domain.events import EventType
    from detektor.domain.messages import FrameMessage
    from detektor.kit.app import ServiceKit
    from detektor.pipeline.decoding import Frame
    from detektor.pipeline.events import lifecycle_event
    from detektor.pipeline.metrics import PipelineMetrics
    from detektor.pipeline.processing import Result
    from detektor.services.notifier.embedded import EmbeddedNotifier
    from detektor.settings import Settings

    def jpeg(shade: int) -> bytes:
        import cv2

        ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), shade, np.uint8))
        assert ok
        return bytes(data.tobytes())

    root = mqtt_root
    settings = Settings(
        mqtt_url="mqtt://127.0.0.1:1883",
        notifier={
            "discovery_prefix": f"{root}/homeassistant",
            "state_prefix": f"{root}/detektor",
            "client_id": f"embedded-{root}",
            "off_delay_s": 1,
        },
    )
    sub = Subscriber(1883, f"{root}/#")

    def frame(seq: int) -> Frame:
        ms = int(time.time() * 1000)
        message = FrameMessage(
            FrameId.make("synthetic", ms, seq), ms, seq, 64, 48, b"", TRACEPARENT
        )
        return Frame(message, np.zeros((48, 64, 3), np.uint8))

    class Pictures:
        """The snapshot store's in-memory twin, with real JPEGs."""

        def read_best(self, object_id: str, *, crop: bool = False, box: bool = True) -> bytes:
            return jpeg(200)

        def read_latest(self, camera: str, *, boxes: bool = True) -> bytes:
            return jpeg(100)

    async def scenario() -> MemoryEventSink:
        kit = ServiceKit("run", settings)
        notifier = EmbeddedNotifier(
            settings,
            kit,
            PipelineMetrics(kit.metrics),
            snapshots=Pictures(),
            link=lambda path: f"https://ha.example{path}?sig=1",
        )
        inner = MemoryEventSink()
        sink = notifier.observe(inner)
        await notifier.start(sink)
        await asyncio.wait_for(notifier.link.ready.wait(), 10)  # type: ignore[union-attr]
        first, second, third = frame(1), frame(2), frame(3)
        await sink.emit(
            [
                lifecycle_event(
                    EventType.CAPTURED,
                    first.message.frame_id,
                    {"width": 64, "height": 48, "pts": 1, "source": "synthetic://"},
                )
            ]
        )
        started = started_in(first.message.frame_id)
        wrong = started_in(FrameId.make("elsewhere", first.message.captured_ms, 1))
        await notifier.publish(
            [first, second, third],
            [
                Result([person()]),
                Result([{"label": "person", "score": 2, "box": []}]),
                Result([person()]),
            ],
            [[started], [], [wrong]],
        )
        await notifier.stop(5)
        return inner

    inner = asyncio.run(scenario())
    sub.wait(f"{root}/detektor/synthetic/person", "ON")
    assert sub.wait(f"{root}/detektor/synthetic/connected", "ON")
    event = sub.wait(f"{root}/detektor/synthetic/events")
    assert event.user_properties["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    after = json.loads(event.payload)["after"]
    assert (
        after["snapshot_url"] == f"https://ha.example/v1/objects/{after['id']}/snapshot.jpg?sig=1"
    )
    image = sub.wait(f"{root}/detektor/synthetic/image")
    assert image.raw == jpeg(100)
    assert sub.wait(f"{root}/detektor/synthetic/person/snapshot").raw == jpeg(200)
    sub.wait(f"{root}/detektor/availability", "offline")  # a clean stop says so itself
    by_type = [(e.type.value, str(e.frame_id).rsplit(":", 1)[1]) for e in inner.events]
    assert ("frame.published", "000001") in by_type
    assert ("frame.completed", "000001") in by_type
    assert ("frame.failed", "000002") in by_type  # a score of 2 is not a detection
    assert ("frame.failed", "000003") in by_type  # an object of another camera
    sub.close()


def test_the_notifier_trims_the_detections_it_has_acknowledged(
    tmp_path: Path, mqtt_root: str
) -> None:
    with redis_namespace() as (redis_url, ns):
        r = redis.Redis.from_url(redis_url)
        stream = f"{ns}:detections"
        env = notifier_env(redis_url, ns, mqtt_root)
        with ServiceProcess("notifier", tmp_path, env) as svc:
            wait_ready(svc)
            for seq in range(1, 21):
                detection(r, stream, frame_id("front-door", seq), [person()])
            wait_for(lambda: r.xpending(stream, "notifier")["pending"] == 0, 20, "all acked")
            wait_for(lambda: r.xlen(stream) == 0, 30, "the acknowledged entries trimmed", every=0.5)
            metrics = httpx.get(f"{svc.url}/metrics", timeout=5).text
            assert f'detektor_stream_trimmed_entries_total{{stream="{stream}"}} 20.0' in metrics
            assert f'detektor_stream_cap_entries{{stream="{stream}"}} 100000.0' in metrics
        r.close()
