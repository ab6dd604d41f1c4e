"""Issue 16: a camera on the in-memory bus publishes its decoded frames and encodes no JPEG;
on a wire bus (the default) it publishes JPEG as before."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest
from pydantic import SecretStr

from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.messages import FrameMessage
from detektor.services.capture.settings import CameraSettings, MotionSettings
from support.camera_worker import memory_camera_worker

pytestmark = pytest.mark.anyio


async def published(send_images: bool) -> list[FrameMessage]:
    camera = CameraSettings(
        name="cam",
        source=SecretStr("synthetic://?fps=20&size=160x120"),
        detect_fps=10,
        motion=MotionSettings(enabled=False),
    )
    worker, _, _ = memory_camera_worker(camera, send_images=send_images)
    task = asyncio.create_task(worker.run())
    bus = worker.bus
    assert isinstance(bus, MemoryFrameBus)
    for _ in range(100):
        await asyncio.sleep(0.05)
        if sum(await bus.backlog()) >= 3:
            break
    worker.stop()
    await asyncio.wait_for(task, 10)
    deliveries = await bus.consume("t", 100, block_ms=0)
    messages = [d.message for d in deliveries if d.message is not None]
    assert len(messages) == len(deliveries) >= 3
    return messages


async def test_with_send_images_the_frame_goes_decoded_and_no_jpeg_is_made() -> None:
    for msg in await published(send_images=True):
        assert msg.jpeg == b""
        assert isinstance(msg.image, np.ndarray)
        assert msg.image.shape == (120, 160, 3)
        assert msg.image.dtype == np.uint8


async def test_by_default_the_frame_goes_as_a_jpeg_of_its_size() -> None:
    for msg in await published(send_images=False):
        assert msg.image is None
        image = cv2.imdecode(np.frombuffer(msg.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        assert image.shape == (120, 160, 3)
