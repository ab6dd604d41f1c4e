"""An RTSP camera that dies and comes back: capture reconnects, and invents no frame."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import redis as sync_redis
import yaml

from support.process import ServiceProcess
from support.redis import redis_namespace
from support.rtsp import RtspServer
from support.waiting import wait_for


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def captured(client: sync_redis.Redis, stream: str) -> list[dict[str, Any]]:
    events = [json.loads(f[b"envelope"]) for _, f in client.xrange(stream)]
    return [e for e in events if e["type"] == "frame.captured"]


def test_camera_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    with RtspServer() as server, redis_namespace() as (redis_url, ns):
        camera = {
            "name": "door",
            "source": server.url.replace("rtsp://", "rtsp://viewer:hunter2@"),
            "detect_fps": 5,
            "stall_timeout_s": 2,
            "reconnect_initial_s": 0.5,
            "reconnect_max_s": 2,
            "motion": {"enabled": False},
        }
        config = tmp_path / "cameras.yml"
        config.write_text(yaml.safe_dump({"cameras": [camera]}))
        env = {
            "DETEKTOR_CONFIG": str(config),
            "DETEKTOR_REDIS_URL": redis_url,
            "DETEKTOR_BUS__STREAM": f"{ns}:frames",
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
        }
        client = sync_redis.Redis.from_url(redis_url)
        events = f"{ns}:events"
        up = 'detektor_camera_up{camera="door"}'
        with ServiceProcess("capture", tmp_path, env) as capture:
            wait_for(lambda: metric(capture.url, up) == 1.0, 30, "the camera to come up")
            wait_for(lambda: len(captured(client, events)) >= 5, 30, "frames before the outage")

            server.kill()
            wait_for(lambda: metric(capture.url, up) == 0.0, 10, "camera_up to drop to 0")
            time.sleep(0.5)  # let the last buffered events reach the stream
            during = len(captured(client, events))
            time.sleep(3)
            assert len(captured(client, events)) == during, "frames were invented during an outage"

            server.start()
            restarted = time.monotonic()
            wait_for(lambda: metric(capture.url, up) == 1.0, 15, "camera_up back to 1")
            # Backoff is capped at 2 s (plus a read timeout): it comes back within seconds.
            assert time.monotonic() - restarted < 10
            wait_for(lambda: len(captured(client, events)) >= during + 5, 30, "frames again")
            assert metric(capture.url, 'detektor_camera_reconnects_total{camera="door"}') >= 1
            cameras = httpx.get(f"{capture.url}/v1/cameras", timeout=5).json()["cameras"]
            assert "hunter2" not in json.dumps(cameras)
            assert "viewer:***@" in cameras[0]["source"]
        assert "hunter2" not in capture.output()
        client.close()
