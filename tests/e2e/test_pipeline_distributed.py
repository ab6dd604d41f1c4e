"""Capture → Redis frame bus → detector (another process) → tracking on PostgreSQL.

Every service is a real subprocess, as in a deployment; traces go to a real OTLP receiver.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from support.otlp import OtlpReceiver
from support.postgres import temporary_database
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.rtsp import RtspServer
from support.waiting import wait_for


@pytest.fixture
def stack_env() -> Iterator[dict[str, str]]:
    with temporary_database("detektor_e2e") as db_url, redis_namespace() as (redis_url, ns):
        yield {
            "DETEKTOR_DATABASE_URL": db_url,
            "DETEKTOR_REDIS_URL": redis_url,
            "DETEKTOR_BUS__STREAM": f"{ns}:frames",
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_TRACKING__DEAD_LETTER_STREAM": f"{ns}:events:dead",
            "DETEKTOR_DETECTOR__DETECTIONS_STREAM": f"{ns}:detections",
            "DETEKTOR_PROCESSOR__CONSUMER": "detector-1",
            "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }


def all_frames(tracking_url: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{tracking_url}/v1/frames", params=params, timeout=10).json()
        frames += page["frames"]
        cursor = page["next_cursor"]
        if not cursor:
            return frames


@pytest.fixture(params=["rtsp", "synthetic"])
def camera(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A real RTSP server on loopback (Debian's gst-rtsp-server), or the synthetic scene."""
    if request.param == "synthetic":
        yield {"name": "yard", "source": "synthetic://?fps=10&size=640x480", "detect_fps": 5}
        return
    with RtspServer() as server:
        # The test pattern barely moves, so the motion gate is off: every frame goes through.
        yield {
            "name": "yard",
            "source": server.url,
            "detect_fps": 5,
            "motion": {"enabled": False},
        }


def test_camera_through_bus_detector_and_tracking(
    tmp_path: Path, stack_env: dict[str, str], camera: dict[str, Any]
) -> None:
    config = tmp_path / "cameras.yml"
    config.write_text(yaml.safe_dump({"cameras": [camera]}))
    with OtlpReceiver() as receiver:
        traced = {**stack_env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with (
            ServiceProcess("tracking", tmp_path, stack_env) as tracking,
            ServiceProcess("detector", tmp_path, traced) as detector,
        ):
            capture = ServiceProcess(
                "capture", tmp_path, {**traced, "DETEKTOR_CONFIG": str(config)}
            ).start()
            acc_url = f"{tracking.url}/v1/cameras/yard/accounting"
            wait_for(
                lambda: httpx.get(acc_url, timeout=5).json()["captured"] >= 15,
                60,
                "15 captured frames",
            )
            assert capture.stop() == 0
            acc = wait_for(
                lambda: (a := httpx.get(acc_url, timeout=5).json())["in_flight"] == 0 and a,
                60,
                "every frame to finish",
            )
            metrics = httpx.get(f"{detector.url}/metrics", timeout=5).text
            frames = all_frames(tracking.url)

            assert acc["balanced"] is True, acc
            assert acc["captured"] == len(frames) >= 15
            assert acc["completed"] >= 10  # the scene moves, so most frames are processed
            assert acc["failed"] == 0
            for row in frames:
                frame = httpx.get(f"{tracking.url}/v1/frames/{row['frame_id']}", timeout=5).json()
                kinds = [e["type"] for e in frame["events"]]
                if frame["state"] == "completed":
                    assert kinds == [
                        "frame.captured",
                        "frame.queued",
                        "frame.processing",
                        "frame.processed",
                        "frame.completed",
                    ], kinds
                    assert [s["name"] for s in frame["stages"]] == [
                        "captured",
                        "queued",
                        "processing",
                        "processed",
                    ]
                else:
                    assert frame["state"] in ("skipped", "dropped"), frame
                assert frame["anomalies"] == []
            assert 'detektor_frame_latency_seconds_count{camera="yard"}' in metrics
            assert 'detektor_inference_duration_seconds_count{device="cpu"' in metrics
            detections = redis.Redis.from_url(stack_env["DETEKTOR_REDIS_URL"])
            published = detections.xrange(stack_env["DETEKTOR_DETECTOR__DETECTIONS_STREAM"])
            detections.close()
            assert len(published) == acc["completed"]
            if camera["source"].startswith("synthetic://"):
                # The synthetic scene has a person walking: the detector finds them.
                scores = [
                    d["score"]
                    for _, entry in published
                    for d in json.loads(entry[b"detections"])
                    if d["label"] == "person"
                ]
                assert scores
                assert max(scores) >= 0.4

        # One trace runs from capture to the detector: the batch span links each frame's
        # create span, and both processes exported to the receiver.
        done = next(f for f in frames if f["state"] == "completed")
        trace_id = done["trace_id"]
        spans = receiver.wait_for(
            lambda ss: any(
                s.name.startswith("process") and any(link[0] == trace_id for link in s.links)
                for s in ss
            )
        )
        create = [s for s in spans if s.trace_id == trace_id and s.name == "create frames"]
        assert len(create) == 1
        assert create[0].service == "capture"
        assert create[0].attributes["detektor.camera"] == "yard"
        process = [
            s for s in spans if any(link == (trace_id, create[0].span_id) for link in s.links)
        ]
        assert len(process) == 1
        assert process[0].service == "detector"
