"""A real RTSP camera (gst-rtsp-server) recorded by a camera worker with capture's
``Recording`` into a SQLite recording index is killed and restarted: the worker reconnects,
and the time between the last segment before and the first after is stored in the index as a
``reconnect`` gap span, logged and counted in the gap metrics."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import anyio
import pytest

from detektor.domain.recordings import Segment, SpanKind
from detektor.ports import SegmentQuery
from detektor.services.capture.settings import CameraSettings
from detektor.settings import Settings
from support.recording_rig import recording_rig
from support.rtsp import RtspServer, require_rtsp_server
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_camera_killed_and_restarted_leaves_a_reconnect_gap_in_the_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_rtsp_server()
    caplog.set_level(logging.INFO, logger="detektor.services.recordings.recording")
    server = RtspServer()
    camera = CameraSettings.model_validate(
        {"name": "cam", "source": server.url, "detect_fps": 1, "record": {"segment_s": 1}}
    )
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "recordings": {
                "root": str(tmp_path / "recordings"),
                "min_free_bytes": 0,
                "sweep_interval_s": 3600,
            },
        }
    )
    rig = await recording_rig(tmp_path, settings, camera, events=False)
    kit, recording, index = rig.kit, rig.recording, rig.index
    worker = rig.worker()

    def segments() -> list[Segment]:
        found = index.segments(SegmentQuery(camera="cam", limit=1000)).segments
        return sorted(found, key=lambda s: s.start)

    server.start()
    recording.start()
    task = asyncio.create_task(worker.run())
    try:
        await wait_until(lambda: len(segments()) >= 2, 30, "two segments")
        server.kill()
        await anyio.sleep(2)
        before = segments()
        server.start()
        await wait_until(lambda: len(segments()) >= len(before) + 2, 60, "segments after it")
    finally:
        worker.stop()
        await task
        server.stop()
        await recording.stop(5)
    try:
        after = segments()
        gaps = index.spans(SpanKind.GAP, after[0].start, after[-1].end, camera="cam")
    finally:
        index.close()
    [gap] = gaps
    assert gap.reason == "reconnect"
    # Neighbours: the last segment that ended by the gap's start and the first after it.
    previous = max((s for s in after if s.end <= gap.start), key=lambda s: s.end)
    following = min((s for s in after if s.start >= gap.end), key=lambda s: s.start)
    assert abs((gap.start - previous.end).total_seconds()) < 1
    assert abs((gap.end - following.start).total_seconds()) < 1
    assert following is after[after.index(previous) + 1]  # nothing recorded in between
    seconds = (gap.end - gap.start).total_seconds()
    assert seconds > 1.5  # the camera was down for 2 s
    registry = kit.metrics.registry
    labels = {"camera": "cam", "reason": "reconnect"}
    assert registry.get_sample_value("detektor_recording_gaps_total", labels) == 1
    counted = registry.get_sample_value("detektor_recording_gap_seconds_total", labels)
    assert counted == pytest.approx(seconds, abs=1e-3)
    assert any("not recorded (reconnect)" in r.getMessage() for r in caplog.records)
