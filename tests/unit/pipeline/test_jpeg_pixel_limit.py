"""A JPEG's size is read from its header before decoding: a few bytes that claim billions of
pixels are dead-lettered with the reason, never decoded, and the frames after them go on."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.events import EventType
from detektor.domain.messages import FrameMessage
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.decoding import decode, jpeg_size
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from detektor.ports import Delivery
from support.frames import message


def jpeg(width: int, height: int, *flags: int) -> bytes:
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), np.uint8)
    ok, data = cv2.imencode(".jpg", image, list(flags))
    assert ok
    return data.tobytes()


def claiming(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) rewritten to claim another size."""
    sof = data.index(b"\xff\xc0")
    size = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return data[: sof + 5] + size + data[sof + 9 :]


def delivery(msg: FrameMessage) -> Delivery:
    return Delivery("1-0", msg, msg.to_fields(), 1)


@pytest.mark.parametrize(
    ("width", "height", "flags"),
    [
        (16, 8, ()),
        (641, 479, ()),
        (320, 200, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),  # SOF2
        (1920, 1080, (cv2.IMWRITE_JPEG_QUALITY, 30)),
    ],
)
def test_the_size_is_read_from_the_frame_header(
    width: int, height: int, flags: tuple[int, ...]
) -> None:
    assert jpeg_size(jpeg(width, height, *flags)) == (width, height)


def test_no_frame_header_gives_no_size() -> None:
    data = jpeg(16, 16)
    assert jpeg_size(b"not a jpeg") is None
    assert jpeg_size(data[:20]) is None  # truncated before the frame header
    assert jpeg_size(claiming(data, 16, 0)) is None  # height deferred (DNL): refused too


def test_a_real_frame_over_a_low_limit_is_refused_before_decoding() -> None:
    msg = message(width=64, height=48, jpeg=jpeg(64, 48))
    frame, problem = decode(delivery(msg), max_pixels=64 * 48 - 1)
    assert frame is None
    assert problem == "JPEG header says 64x48 = 3072 pixels, over the limit of 3071; not decoded"
    frame, problem = decode(delivery(msg), max_pixels=64 * 48)
    assert problem is None
    assert frame is not None
    assert frame.image.shape == (48, 64, 3)


def _run(
    settings: ProcessorSettings, *messages: FrameMessage
) -> tuple[MemoryFrameBus, MemoryEventSink]:
    """Publish ``messages``, run a runner until a frame completes, stop it."""
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    runner = ProcessorRunner(
        MotionRegionsProcessor(),
        bus,
        sink,
        PipelineMetrics(Metrics("unit", "0")),
        settings,
        Liveness(),
    )

    async def scenario() -> None:
        for msg in messages:
            await bus.publish(msg)
        task = asyncio.create_task(runner.run())
        for _ in range(400):
            if any(e.type is EventType.COMPLETED for e in sink.events):
                break
            await asyncio.sleep(0.01)
        runner.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    return bus, sink


def test_the_runner_takes_its_pixel_limit_from_the_settings() -> None:
    big = message(seq=1, width=64, height=48, jpeg=jpeg(64, 48))
    small = message(seq=2, width=16, height=8, jpeg=jpeg(16, 8))
    settings = ProcessorSettings(
        batch_size=4, max_wait_ms=20, consumer="c1", max_frame_pixels=200, max_frame_age_ms=0
    )
    bus, sink = _run(settings, big, small)
    assert [reason for _, reason in bus.dead] == [
        "JPEG header says 64x48 = 3072 pixels, over the limit of 200; not decoded"
    ]
    completed = [e.frame_id for e in sink.events if e.type is EventType.COMPLETED]
    assert completed == [small.frame_id]


def test_a_tiny_jpeg_claiming_60000_squared_pixels_is_dead_lettered() -> None:
    bomb = message(seq=1, width=60000, height=60000, jpeg=claiming(jpeg(16, 16), 60000, 60000))
    assert len(bomb.jpeg) < 2000
    good = message(seq=2)
    settings = ProcessorSettings(batch_size=4, max_wait_ms=20, consumer="c1", max_frame_age_ms=0)
    bus, sink = _run(settings, bomb, good)
    assert len(bus.dead) == 1
    assert "60000x60000 = 3600000000 pixels, over the limit" in bus.dead[0][1]
    failed = [e for e in sink.events if e.type is EventType.FAILED]
    assert [e.frame_id for e in failed] == [bomb.frame_id]
    assert "over the limit" in str(failed[0].data["error"])
    completed = [e.frame_id for e in sink.events if e.type is EventType.COMPLETED]
    assert completed == [good.frame_id]


def test_opencv_refusing_a_frame_is_a_reason_not_a_crash() -> None:
    # a limit set above OpenCV's own (2^30 pixels): OpenCV raises, and that is the reason
    bomb = message(width=60000, height=60000, jpeg=claiming(jpeg(16, 16), 60000, 60000))
    frame, problem = decode(delivery(bomb), max_pixels=10**10)
    assert frame is None
    assert problem is not None
    assert problem.startswith("undecodable JPEG (")
    assert "CV_IO_MAX_IMAGE_PIXELS" in problem
