"""``serve notifier`` reading the objects stream: object events that came with no frame (an
entry of ``kind`` = ``objects``, as ``serve objects`` writes for a still scene, a camera gone
quiet, a stop or a takeover) reach Home Assistant on the real Mosquitto like a frame's; a
malformed one is dead-lettered and the entries after it go on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from support.mqtt import Subscriber, clear_retained
from support.object_events import ObjectScript, envelope
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_port
from support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def mqtt_root() -> Iterator[str]:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    yield root
    clear_retained(1883, root)


def test_object_events_with_no_frame_reach_home_assistant(mqtt_root: str, tmp_path: Path) -> None:
    root = mqtt_root
    sub = Subscriber(1883, f"{root}/#")
    with redis_namespace() as (url, ns):
        client = redis.Redis.from_url(url)
        notifier = ServiceProcess(
            "notifier",
            tmp_path,
            {
                "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
                "DETEKTOR_REDIS_URL": url,
                "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
                "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{ns}:objects",
                "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
                "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
                "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
                "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
            },
        ).start()
        try:
            person = ObjectScript(camera="yard", start=datetime.now(UTC) - timedelta(seconds=3))

            def frameless(*events: object) -> None:
                client.xadd(
                    f"{ns}:objects",
                    {"kind": "objects", "camera": "yard", "objects": json.dumps(events)},
                )

            frameless(envelope(person.started(0.0)).to_dict())
            sub.wait(f"{root}/detektor/yard/person", "ON", timeout=15)
            client.xadd(f"{ns}:objects", {"kind": "objects", "camera": "yard", "objects": "[1]"})
            frameless(envelope(person.ended(2.0)).to_dict())
            sub.wait(f"{root}/detektor/yard/person/count", "0", timeout=15)
            kinds = [json.loads(m.payload)["type"] for m in sub.on(f"{root}/detektor/events")]
            assert kinds == ["new", "end"]
            dead = client.xrange(f"{ns}:objects:dead")
            assert len(dead) == 1
            assert b"objects[0]" in dead[0][1][b"dead_reason"]
            wait_for(
                lambda: client.xpending(f"{ns}:objects", "notifier")["pending"] == 0,
                10,
                "every entry acknowledged",
            )
        finally:
            notifier.stop()
            sub.close()
            client.close()
