"""A camera's heartbeat follows its frames, not its connections: while frames flow, the
camera stays live however long the connection lasts (issue 11: /healthz turned 503 after
90 s of a healthy stream because the camera beat only when a connection started)."""

from __future__ import annotations

import asyncio

import pytest

from detektor.services.capture.settings import CameraSettings
from support.camera_worker import memory_camera_worker

pytestmark = pytest.mark.anyio


async def test_the_camera_beats_on_every_frame_of_one_connection() -> None:
    camera = CameraSettings(name="beat", source="synthetic://?fps=20&size=160x120", detect_fps=5)  # type: ignore[arg-type]
    worker, _, liveness = memory_camera_worker(camera)
    task = asyncio.create_task(worker.run())
    beats: list[float] = []
    for _ in range(6):
        await asyncio.sleep(0.25)
        beat = liveness.last_beat("camera:beat")
        if beat is not None:
            beats.append(beat)
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert worker.decoded > 5, "the synthetic camera produced no frames"
    assert len(beats) >= 5
    assert len(set(beats)) == len(beats), f"the heartbeat did not advance with frames: {beats}"
