"""A recorded camera's loop tells its motion sink each sampled frame's verdict, at the frame's
wall-clock time, and flushes it whenever a connection ends (here: the file ends, each time a
looped file starts again)."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings

pytestmark = pytest.mark.anyio

FRAMES, FPS = 20, 20  # one second: 5 sampled frames at detect_fps 5


class Sink:
    def __init__(self) -> None:
        self.frames: list[tuple[int, bool]] = []
        self.calls: list[str] = []

    def frame(self, wall_ms: int, moving: bool) -> None:
        self.frames.append((wall_ms, moving))
        self.calls.append("frame")

    def flush(self) -> None:
        self.calls.append("flush")


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("motion") / "still.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for _ in range(FRAMES):
            image = np.full((120, 160, 3), 100, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def worker(path: Path, sink: Sink, **settings: object) -> CameraWorker:
    camera = CameraSettings.model_validate(
        {"name": "clip", "source": str(path), "detect_fps": 5, **settings}
    )
    metrics = Metrics("capture", "test")
    return CameraWorker(
        camera,
        MemoryFrameBus(),
        MemoryEventSink(),
        CaptureMetrics(metrics),
        PipelineMetrics(metrics),
        Liveness(),
        motion=sink,
    )


async def test_each_sampled_frame_is_told_and_the_end_of_the_file_flushes(
    still_clip: Path,
) -> None:
    sink = Sink()
    before = time.time_ns() // 1_000_000
    camera = worker(still_clip, sink, motion={"warmup_frames": 1})
    await asyncio.wait_for(camera.run(), 10)
    assert camera.finished
    assert len(sink.frames) == camera.sampled > 1
    assert sink.calls[-1] == "flush"
    assert sink.calls.count("flush") == 1
    # The first frame moves (the gate knows nothing yet); a still picture does not.
    assert [moving for _, moving in sink.frames] == [True] + [False] * (camera.sampled - 1)
    assert all(before <= wall_ms <= time.time_ns() // 1_000_000 for wall_ms, _ in sink.frames)


async def test_with_the_gate_off_every_frame_moves_and_a_loop_flushes_each_time(
    still_clip: Path,
) -> None:
    sink = Sink()
    camera = worker(still_clip, sink, motion={"enabled": False}, loop=True)
    task = asyncio.create_task(camera.run())
    await asyncio.sleep(2.5)  # real time: the file plays twice, and a third time starts
    camera.stop()
    await asyncio.wait_for(task, 10)
    assert sink.frames
    assert all(moving for _, moving in sink.frames)
    assert sink.calls.count("flush") >= 2
    assert sink.calls[-1] == "flush"
