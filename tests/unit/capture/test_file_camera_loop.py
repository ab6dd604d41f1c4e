"""A file camera with ``loop: true`` plays its file again at its end, paced in real time, and
never counts as a reconnect; without it, the camera finishes at the end of the file (the
stack test's video-file camera must run as long as the stack)."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import pytest

from detektor.kit.metrics import Metrics
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene
from support.camera_worker import memory_camera_worker

pytestmark = pytest.mark.anyio

FRAMES, FPS = 10, 20  # half a second of video


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loop") / "clip.mp4"
    scene = SyntheticScene(SceneSpec(fps=FPS, width=160, height=120, seed=3))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(scene.render(i), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _worker(path: Path, *, loop: bool) -> tuple[CameraWorker, Metrics]:
    camera = CameraSettings(name="clip", source=str(path), detect_fps=5, loop=loop)  # type: ignore[arg-type]
    worker, metrics, _ = memory_camera_worker(camera)
    return worker, metrics


async def test_a_looped_file_plays_again_in_real_time(short_clip: Path) -> None:
    worker, metrics = _worker(short_clip, loop=True)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(1.7)
    decoded = worker.decoded
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert not worker.finished
    # Real time: about 1.7 s x 20 fps = 34 frames, three times through the file; as fast as
    # it decodes, it would be hundreds.
    assert 2 * FRAMES < decoded <= 2 * 1.7 * FPS, decoded
    reconnects = metrics.registry.get_sample_value(
        "detektor_camera_reconnects_total", {"camera": "clip"}
    )
    assert not reconnects, "a looped file counted as a reconnect"


async def test_without_loop_the_file_camera_finishes(short_clip: Path) -> None:
    worker, _ = _worker(short_clip, loop=False)
    await asyncio.wait_for(worker.run(), 10)
    assert worker.finished
    assert worker.decoded == FRAMES
