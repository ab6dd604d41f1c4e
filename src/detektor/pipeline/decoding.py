"""Turning a frame-bus delivery into a decoded frame, or the reason it cannot be used.

A JPEG's size is read from its frame header (SOF marker) before it is decoded, so that a few
bytes claiming 60000 x 60000 pixels are refused without allocating gigabytes: over
``max_pixels``, or not the size the entry states, the entry is dead-lettered with the reason.

A message from the in-memory bus may carry its decoded image instead (issue 16): it is used as
it is, with no JPEG round trip, after the same size check. ``jpeg_of`` encodes a JPEG for such
a frame when something needs one after all.
"""

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
MAX_PIXELS = 7680 * 4320
"""Largest frame decoded (8K UHD, about 100 MB as BGR); cameras send 4K at most."""
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but not
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# markers that stand alone, without a length: TEM, RST0..7, SOI
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


@dataclass(frozen=True, slots=True)
class Frame:
    message: FrameMessage
    image: Image  # BGR: decoded from the message's JPEG, or the message's own image


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's frame header, or None where there is none before the
    scan (not a JPEG, truncated, or a height deferred to a DNL marker)."""
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header came first
            return None
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            header = data[at + 5 : at + 9]
            if length < 8 or len(header) < 4:
                return None
            height, width = int.from_bytes(header[:2], "big"), int.from_bytes(header[2:], "big")
            return (width, height) if width and height else None
        at += 2 + length
    return None


def decode(delivery: Delivery, max_pixels: int = MAX_PIXELS) -> tuple[Frame | None, str | None]:
    """The frame, or None and why it must be dead-lettered. Never raises: whatever one entry
    does to a decoder is that entry's reason, not the batch's end."""
    try:
        return _decode(delivery, max_pixels)
    except Exception as exc:
        return None, f"unusable entry: {type(exc).__name__}: {str(exc)[:200]}"


def _decode(delivery: Delivery, max_pixels: int) -> tuple[Frame | None, str | None]:
    msg = delivery.message
    if msg is None:
        return None, f"malformed entry: {delivery.error}"
    if msg.traceparent is not None and span_context_of({"traceparent": msg.traceparent}) is None:
        return None, f"malformed traceparent {msg.traceparent[:80]!r}"
    if msg.image is not None:
        return _carried(msg)
    size = jpeg_size(msg.jpeg)
    if size is not None and size != (msg.width, msg.height):
        return None, f"JPEG is {size[0]}x{size[1]} but the entry says {msg.width}x{msg.height}"
    image = decode_jpeg(msg.jpeg, max_pixels)
    if isinstance(image, str):
        return None, image
    if image.shape[1] != msg.width or image.shape[0] != msg.height:
        return None, (
            f"JPEG is {image.shape[1]}x{image.shape[0]} but the entry says {msg.width}x{msg.height}"
        )
    return Frame(msg, image), None


def _carried(msg: FrameMessage) -> tuple[Frame | None, str | None]:
    """The frame from the image an in-memory message carries, if it is the stated size."""
    image = msg.image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return (
            None,
            f"image is a {type(image).__name__} of {getattr(image, 'dtype', '?')}, not uint8",
        )
    if image.shape != (msg.height, msg.width, 3):
        return None, f"image is {image.shape} but the entry says {msg.width}x{msg.height}"
    return Frame(msg, cast(Image, image)), None


def decode_jpeg(data: bytes, max_pixels: int = MAX_PIXELS) -> Image | str:
    """The BGR image, or why not: the header is read first, so a JPEG claiming more than
    ``max_pixels`` is refused before a decoder allocates for it."""
    size = jpeg_size(data)
    if size is None:
        return f"undecodable JPEG ({len(data)} bytes): no frame header"
    if size[0] * size[1] > max_pixels:
        return (
            f"JPEG header says {size[0]}x{size[1]} = {size[0] * size[1]} pixels, over the "
            f"limit of {max_pixels}; not decoded"
        )
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV raises, rather than returns None, past its own limits
        return f"undecodable JPEG ({len(data)} bytes): {str(exc).strip()[-200:]}"
    if decoded is None:
        return f"undecodable JPEG ({len(data)} bytes)"
    return cast(Image, decoded)


def jpeg_of(msg: FrameMessage, quality: int = 85) -> bytes:
    """The message's JPEG, encoded from its image when it travelled without one (the
    in-memory bus); empty when it has neither or the encoder fails."""
    if msg.jpeg or not isinstance(msg.image, np.ndarray):
        return msg.jpeg
    ok, buf = cv2.imencode(".jpg", msg.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def raw_frame_id(delivery: Delivery) -> FrameId | None:
    """The frame id of an entry that failed to parse, when its frame_id field is readable."""
    if not delivery.frame_id:
        return None
    try:
        return FrameId.parse(delivery.frame_id)
    except ValidationError:
        return None
