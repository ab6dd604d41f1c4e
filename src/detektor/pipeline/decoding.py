"""Turning a frame-bus delivery into a decoded frame, or the reason it cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
from numpy.typing import NDArray

from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.kit.tracecontext import span_context_of
from detektor.ports import Delivery

Image = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    message: FrameMessage
    image: Image  # BGR, decoded from the message's JPEG


def decode(delivery: Delivery) -> tuple[Frame | None, str | None]:
    """The frame, or None and why it must be dead-lettered."""
    msg = delivery.message
    if msg is None:
        return None, f"malformed entry: {delivery.error}"
    if msg.traceparent is not None and span_context_of({"traceparent": msg.traceparent}) is None:
        return None, f"malformed traceparent {msg.traceparent[:80]!r}"
    decoded = cv2.imdecode(np.frombuffer(msg.jpeg, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        return None, f"undecodable JPEG ({len(msg.jpeg)} bytes)"
    image = cast(Image, decoded)
    if image.shape[1] != msg.width or image.shape[0] != msg.height:
        return None, (
            f"JPEG is {image.shape[1]}x{image.shape[0]} but the entry says {msg.width}x{msg.height}"
        )
    return Frame(msg, image), None


def raw_frame_id(delivery: Delivery) -> FrameId | None:
    """The frame id of an entry that failed to parse, when its frame_id field is readable."""
    if not delivery.frame_id:
        return None
    try:
        return FrameId.parse(delivery.frame_id)
    except ValidationError:
        return None
