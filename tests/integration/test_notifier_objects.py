"""The notifier speaking in objects, against the real Mosquitto (and Redis for the service).

Each test publishes under a topic root of its own (``test-<uuid>/...``) and clears the
retained messages it left behind; the outage test runs a Mosquitto of its own.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
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
