"""Liveness over minutes, not seconds: ``detektor run`` and every ``serve`` service answer
``/healthz`` 200 throughout 150 s of normal running, sampled every 5 s (issue 11: a camera's
heartbeat was only stamped when a connection started, so capture and ``run`` turned unhealthy
after about 90 s while frames flowed).

``TEST_HEALTH_SOAK_S`` shortens the soak for a quick local run; CI uses the full 150 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from support.postgres import temporary_database
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import free_port, require_port
from support.stack import pipeline_env
from support.waiting import wait_for

SOAK_S = float(os.environ.get("TEST_HEALTH_SOAK_S", "150"))
EVERY_S = 5.0


def _healthz(url: str) -> tuple[int, str]:
    try:
        reply = httpx.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    return reply.status_code, reply.text


def _completed(url: str, camera: str) -> int:
    try:
        reply = httpx.get(f"{url}/v1/cameras/{camera}/accounting", timeout=5)
    except httpx.HTTPError:
        return 0
    return int(reply.json().get("completed", 0)) if reply.status_code == 200 else 0


@pytest.mark.timeout(SOAK_S + 240)
def test_every_service_stays_healthy_for_150_seconds(tmp_path: Path) -> None:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"soak-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "cameras.yml"
    camera = {"name": "yard", "source": "synthetic://?fps=10&size=640x480", "detect_fps": 5}
    config.write_text(yaml.safe_dump({"cameras": [camera]}))
    run_port = free_port()
    with temporary_database("detektor_soak") as db_url, redis_namespace() as (redis_url, ns):
        env = {
            **pipeline_env(redis_url, ns, db_url),
            "DETEKTOR_CONFIG": str(config),
            "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
            "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{ns}:detections",
            "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
            "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
            "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
            "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
        }
        run_log = (tmp_path / "run.log").open("wb")
        embedded = subprocess.Popen(
            [
                sys.executable,
                *("-m", "detektor.cli", "run", "--port", str(run_port)),
                *("--duration", str(SOAK_S + 60)),
            ],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DETEKTOR_LOG__FORMAT": "json"},
            stdout=run_log,
            stderr=subprocess.STDOUT,
        )
        try:
            with (
                ServiceProcess("tracking", tmp_path, env) as tracking,
                ServiceProcess("notifier", tmp_path, env) as notifier,
                ServiceProcess("detector", tmp_path, env) as detector,
                ServiceProcess("capture", tmp_path, env) as capture,
                ServiceProcess("example", tmp_path, env) as example,
            ):
                urls = {
                    "run": f"http://127.0.0.1:{run_port}",
                    "tracking": tracking.url,
                    "notifier": notifier.url,
                    "detector": detector.url,
                    "capture": capture.url,
                    "example": example.url,
                }
                wait_for(lambda: _healthz(urls["run"])[0] == 200, 60, "detektor run to start")
                failures: list[str] = []
                samples = 0
                started = time.monotonic()
                while time.monotonic() - started < SOAK_S:
                    for name, url in urls.items():
                        status, body = _healthz(url)
                        if status != 200:
                            at = time.monotonic() - started
                            failures.append(f"{name} at {at:.0f}s: {status} {body[:300]}")
                    samples += 1
                    time.sleep(max(0.0, started + samples * EVERY_S - time.monotonic()))
                assert failures == [], "\n".join(failures)
                assert samples >= SOAK_S / EVERY_S * 0.9
                # Health meant progress: frames went all the way through both deployments.
                assert _completed(urls["tracking"], "yard") > 0
                assert _completed(urls["run"], "synthetic") > 0
        finally:
            embedded.terminate()
            try:
                embedded.wait(30)
            except subprocess.TimeoutExpired:
                embedded.kill()
                embedded.wait()
            run_log.close()
        assert embedded.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
