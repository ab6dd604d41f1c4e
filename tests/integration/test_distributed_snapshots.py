"""Snapshots in the distributed setup, as compose runs it: the detector's writer keeps each
frame's JPEG in the real Redis beside the detections stream; ``serve objects`` cuts the
snapshots into the data directory; ``serve tracking`` serves them behind the token and by
signed link; ``serve notifier`` puts them on the real Mosquitto as image entities, with signed
links in the event messages. All three processes share one data directory (the compose
volume). A picture that is garbage or has expired costs its snapshot only."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from detektor.adapters.detections import RedisDetectionStream, picture_key
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.pipeline.decoding import Frame, decode_jpeg
from detektor.pipeline.processing import Result
from support.frames import astronaut_jpeg
from support.mqtt import Subscriber, clear_retained
from support.postgres import temporary_database
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_port
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TOKEN = "a-token-for-the-tracking-api"
BASE = "http://tracking.local:8000"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def ns() -> Iterator[tuple[str, str]]:
    with redis_namespace() as found:
        yield found


@pytest.fixture
def mqtt_root() -> Iterator[str]:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    yield root
    clear_retained(1883, root)


def common(url: str, ns: str) -> dict[str, str]:
    return {
        "DETEKTOR_REDIS_URL": url,
        "DETEKTOR_DETECTOR__DETECTIONS_STREAM": f"{ns}:detections",
        "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
        "DETEKTOR_OBJECTS__STREAM": f"{ns}:objects",
        "DETEKTOR_OBJECTS__REORDER_WINDOW_MS": "200",
        "DETEKTOR_OBJECTS__SNAPSHOTS__LATEST_INTERVAL_S": "0",
    }


def publish(url: str, stream: str, frames: list[tuple[FrameId, bytes, list[Any]]]) -> None:
    """Through the detector's own writer, as ``serve detector`` publishes a batch."""
    batch = []
    for frame_id, jpeg, _ in frames:
        image = decode_jpeg(jpeg)
        assert not isinstance(image, str)
        msg = FrameMessage(frame_id, frame_id.captured_ms, 1, 640, 480, jpeg, TRACEPARENT)
        batch.append(Frame(msg, image))
    results = [Result(detections=dets) for _, _, dets in frames]

    async def send() -> None:
        client = AsyncRedis.from_url(url)
        try:
            await RedisDetectionStream(client, stream, pictures_ttl_s=30).publish(batch, results)
        finally:
            await client.aclose()

    asyncio.run(send())


def walk(camera: str, t0: int, seqs: range, jpeg: bytes) -> list[tuple[FrameId, bytes, list[Any]]]:
    """A person walking right, one frame every 200 ms."""
    out = []
    for seq in seqs:
        x = 100 + 10 * seq
        dets = [{"label": "person", "score": 0.9, "box": [x, 120, x + 150, 460]}]
        out.append((FrameId.make(camera, t0 + 200 * seq, seq), jpeg, dets))
    return out


def metric(service: ServiceProcess, name: str, camera: str) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=5).text
    found = re.search(rf'^{name}\{{camera="{camera}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_objects_service_keeps_snapshots_that_tracking_serves_and_the_notifier_sends(
    ns: tuple[str, str], mqtt_root: str, tmp_path: Path
) -> None:
    url, prefix = ns
    env = common(url, prefix)
    data = tmp_path / "data"
    sub = Subscriber(1883, f"{mqtt_root}/#")
    with temporary_database("detektor_snapshots") as db_url, ExitStack() as stack:
        objects = ServiceProcess("objects", tmp_path, env).start()
        tracking = ServiceProcess(
            "tracking",
            tmp_path,
            {
                **env,
                "DETEKTOR_DATABASE_URL": db_url,
                "DETEKTOR_API_TOKEN": TOKEN,
                "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
            },
        ).start()
        notifier = ServiceProcess(
            "notifier",
            tmp_path,
            {
                **env,
                "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
                "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{prefix}:objects",
                "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{mqtt_root}/homeassistant",
                "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{mqtt_root}/detektor",
                "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{mqtt_root}",
                "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
                "DETEKTOR_NOTIFIER__IMAGE_INTERVAL_S": "0",
                "DETEKTOR_NOTIFIER__SNAPSHOT_BASE_URL": BASE,
            },
        ).start()
        try:
            time.sleep(1.5)  # serve objects reads from the stream's end, fixed once started
            t0 = int(time.time() * 1000) - 5_000
            frames = walk("yard", t0, range(1, 11), astronaut_jpeg())
            publish(url, f"{prefix}:detections", frames)
            client = stack.enter_context(redis.Redis.from_url(url))
            ttl = client.pttl(picture_key(f"{prefix}:detections", frames[0][0]))
            assert 0 < ttl <= 30_000

            box = wait_for(
                lambda: next(iter((data / "snapshots" / "objects").glob("yard.*.box.jpg")), None),
                15,
                "the object's boxed snapshot written by serve objects",
            )
            assert box.read_bytes()[:2] == b"\xff\xd8"
            assert (data / "snapshots" / "latest" / "yard.boxes.jpg").is_file()

            api = stack.enter_context(httpx.Client(base_url=tracking.url, timeout=5))
            auth = {"Authorization": f"Bearer {TOKEN}"}

            def listed() -> dict[str, Any] | None:
                page = api.get("/v1/objects", params={"camera": "yard"}, headers=auth).json()
                return page["objects"][0] if page.get("objects") else None

            obj = wait_for(listed, 15, "the object stored by tracking")
            link = obj["snapshot_url"]
            assert "exp=" in link
            assert "sig=" in link
            opened = api.get(link)  # no token: the signature opens this one picture
            assert opened.status_code == 200, opened.text
            assert opened.headers["content-type"] == "image/jpeg"
            assert opened.content == box.read_bytes()
            assert api.get(link[:-1] + ("0" if link[-1] != "0" else "1")).status_code == 403
            assert api.get(link.split("?")[0]).status_code == 401
            latest = api.get("/v1/cameras/yard/latest.jpg", params={"boxes": 1}, headers=auth)
            assert latest.status_code == 200
            assert latest.content[:2] == b"\xff\xd8"

            image = sub.wait(f"{mqtt_root}/detektor/yard/image", timeout=15)
            assert image.raw[:2] == b"\xff\xd8"
            best = sub.wait(f"{mqtt_root}/detektor/yard/person/snapshot", timeout=15)
            assert best.raw[:2] == b"\xff\xd8"
            new = next(
                json.loads(m.payload)
                for m in sub.on(f"{mqtt_root}/detektor/events")
                if json.loads(m.payload)["type"] == "new"
            )
            assert new["after"]["snapshot_url"].startswith(f"{BASE}/v1/objects/")
            assert "sig=" in new["after"]["snapshot_url"]
            assert metric(objects, "detektor_snapshot_errors_total", "yard") == 0
        finally:
            sub.close()
            for proc in (notifier, tracking, objects):
                proc.stop()


def test_a_garbage_or_expired_picture_costs_the_snapshot_not_the_frame(
    ns: tuple[str, str], tmp_path: Path
) -> None:
    url, prefix = ns
    env = common(url, prefix)
    objects = ServiceProcess("objects", tmp_path, env).start()
    try:
        with ExitStack() as stack:
            time.sleep(1.5)
            client = stack.enter_context(redis.Redis.from_url(url))
            t0 = int(time.time() * 1000) - 5_000
            for frame_id, _, dets in walk("gate", t0, range(1, 7), b""):
                if frame_id.seq % 2:  # announced, but the key holds no JPEG
                    client.set(picture_key(f"{prefix}:detections", frame_id), b"\xff\xd8not a jpeg")
                # even frames: announced, but the key expired (never set)
                client.xadd(
                    f"{prefix}:detections",
                    {
                        "frame_id": str(frame_id),
                        "camera": "gate",
                        "captured_ms": str(frame_id.captured_ms),
                        "detections": json.dumps(dets),
                        "picture": "1",
                    },
                )
            wait_for(lambda: client.xlen(f"{prefix}:objects") == 6, 15, "all 6 frames tracked")
            wait_for(
                lambda: metric(objects, "detektor_snapshot_errors_total", "gate") == 3,
                5,
                "3 undecodable pictures counted",
            )
            assert metric(objects, "detektor_objects_pictures_missing_total", "gate") == 3
            assert httpx.get(f"{objects.url}/healthz", timeout=5).status_code == 200
            written = [json.loads(f[b"objects"]) for _, f in client.xrange(f"{prefix}:objects")]
            assert [e["type"] for batch in written for e in batch] == ["object.started"]
            assert not list((tmp_path / "data" / "snapshots").glob("objects/*"))
    finally:
        objects.stop()
