"""Faults in the distributed pipeline: a detector killed mid-batch, Redis restarted mid-stream
under every consumer (detector, tracking, notifier) and the capture producer."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
import yaml
from redis.asyncio import Redis

from detektor.adapters.redis_bus import RedisFrameBus
from support.frames import message
from support.postgres import temporary_database
from support.private_redis import PrivateRedis
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_binary, require_port
from support.waiting import wait_for


def processed_counts(client: sync_redis.Redis, events_stream: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _, fields in client.xrange(events_stream):
        envelope = json.loads(fields[b"envelope"])
        if envelope["type"] == "frame.processed":
            counts[envelope["frame_id"]] += 1
    return counts


def test_detector_killed_mid_batch_has_its_frames_reclaimed_and_processed_once(
    tmp_path: Path,
) -> None:
    with redis_namespace() as (redis_url, ns):
        env = {
            "DETEKTOR_REDIS_URL": redis_url,
            "DETEKTOR_BUS__STREAM": f"{ns}:frames",
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_PROCESSOR__BATCH_SIZE": "48",
            "DETEKTOR_PROCESSOR__MAX_WAIT_MS": "200",
            "DETEKTOR_PROCESSOR__CLAIM_IDLE_MS": "1000",
            # Reclaimed frames are seconds old; this test is about processing them once,
            # not about shedding them by age (test_shedding.py).
            "DETEKTOR_PROCESSOR__MAX_FRAME_AGE_MS": "0",
        }
        frames = [message(seq=i, width=1920, height=1080) for i in range(48)]

        async def publish() -> None:
            redis = Redis.from_url(redis_url)
            bus = RedisFrameBus(redis, f"{ns}:frames", "processors")
            for frame in frames:
                assert (await bus.publish(frame)).entry_id is not None
            await redis.aclose()

        asyncio.run(publish())
        client = sync_redis.Redis.from_url(redis_url)
        first = ServiceProcess("detector", tmp_path, {**env, "DETEKTOR_PROCESSOR__CONSUMER": "a"})
        first.start()
        wait_for(
            lambda: client.xpending(f"{ns}:frames", "processors")["pending"] >= 40,
            30,
            "detector a to take the batch",
        )
        first.stop(signal.SIGKILL)
        assert client.xlen(f"{ns}:frames") == 48, "the kill should land before any ack"

        second = {**env, "DETEKTOR_PROCESSOR__CONSUMER": "b"}
        with ServiceProcess("detector", tmp_path, second):
            wait_for(lambda: client.xlen(f"{ns}:frames") == 0, 60, "every frame acknowledged")
            wait_for(
                lambda: sum(processed_counts(client, f"{ns}:events").values()) >= 48,
                30,
                "the processed events",
            )
        counts = processed_counts(client, f"{ns}:events")
        assert set(counts) == {str(f.frame_id) for f in frames}
        assert set(counts.values()) == {1}, counts
        assert client.xpending(f"{ns}:frames", "processors")["pending"] == 0
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(require_binary("redis-server", "redis-server"), tmp_path, aof=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_restart_mid_stream_loses_no_acknowledged_frame(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    config = tmp_path / "cameras.yml"
    config.write_text(
        yaml.safe_dump(
            {"cameras": [{"name": "porch", "source": "synthetic://?fps=10&size=640x480"}]}
        )
    )
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"restart-{uuid.uuid4().hex[:8]}"
    with temporary_database("detektor_restart") as db_url:
        env = {
            "DETEKTOR_REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0",
            "DETEKTOR_DATABASE_URL": db_url,
            "DETEKTOR_PROCESSOR__CLAIM_IDLE_MS": "2000",
            "DETEKTOR_TRACKING__CLAIM_IDLE_MS": "2000",
            # As in compose: the notifier, a consumer of the detections stream, completes
            # the frames, so every completed frame went through all three consumers.
            "DETEKTOR_PROCESSOR__LAST_STAGE": "false",
            "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
            "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
            "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
            "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
            "DETEKTOR_NOTIFIER__CLAIM_IDLE_MS": "2000",
        }
        with (
            ServiceProcess("tracking", tmp_path, env) as tracking,
            ServiceProcess("notifier", tmp_path, env) as notifier,
            ServiceProcess("detector", tmp_path, env) as detector,
        ):
            capture = ServiceProcess("capture", tmp_path, {**env, "DETEKTOR_CONFIG": str(config)})
            capture.start()
            acc_url = f"{tracking.url}/v1/cameras/porch/accounting"

            def accounting() -> dict[str, Any]:
                reply: dict[str, Any] = httpx.get(acc_url, timeout=5).json()
                return reply

            wait_for(lambda: accounting()["completed"] >= 10, 60, "frames before the restart")
            private_redis.restart(down_s=1.0)
            before = accounting()["completed"]
            wait_for(lambda: accounting()["completed"] >= before + 10, 90, "processing to resume")
            for svc in (capture, detector, notifier, tracking):
                assert svc.proc is not None
                assert svc.proc.poll() is None, f"{svc.name} died:\n{svc.output()}"
                assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
            assert capture.stop() == 0
            acc = wait_for(
                lambda: (a := accounting())["in_flight"] == 0 and a, 90, "every frame to finish"
            )
        assert acc["balanced"] is True, acc
        assert acc["failed"] == 0, acc
        # Frames captured while Redis was down are recorded as dropped, never invented or
        # lost; ones that waited through the outage for longer than max_frame_age_ms are
        # dropped as stale.
        assert set(acc["dropped_by_reason"]) <= {"bus_unavailable", "stale"}, acc
        assert acc["completed"] + acc["dropped"] + acc["skipped"] == acc["captured"]
