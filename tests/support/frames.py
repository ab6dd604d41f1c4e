"""Real frames for tests: JPEG-encoded scikit-image pictures wrapped in bus messages."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
from skimage import data

from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage


def astronaut_jpeg(width: int = 640, height: int = 480, shift: int = 0) -> bytes:
    """The astronaut picture resized, optionally shifted sideways, as JPEG bytes."""
    rgb = data.astronaut()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    image = cv2.resize(bgr, (width, height))
    if shift:
        image = np.roll(image, shift, axis=1)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


def message(
    camera: str = "cam",
    seq: int = 1,
    jpeg: bytes | None = None,
    traceparent: str | None = None,
    width: int = 640,
    height: int = 480,
) -> FrameMessage:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    return FrameMessage(
        frame_id=FrameId.make(camera, now_ms, seq),
        captured_ms=now_ms,
        pts=seq,
        width=width,
        height=height,
        jpeg=astronaut_jpeg(width, height, shift=seq * 7) if jpeg is None else jpeg,
        traceparent=traceparent,
    )
