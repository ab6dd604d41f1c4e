"""Pictures of objects: boxes with "label score" drawn on a frame, and crops around a box.

Line widths and text grow with the frame, so a box is as easy to see on a 4K snapshot shrunk
to a phone notification as on a 640 x 480 one. Colours come from the label, so one kind of
object keeps its colour from picture to picture.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import cv2
import numpy as np

from detektor.objects.model import Box
from detektor.pipeline.decoding import Image

Labelled = tuple[str, float, Box]
# BGR; bright enough to stand out on night-time greys and on daylight colours alike.
_PALETTE = (
    (0, 255, 0),
    (0, 200, 255),
    (255, 128, 0),
    (255, 0, 255),
    (0, 255, 255),
    (80, 80, 255),
    (255, 255, 0),
)
CROP_MARGIN = 0.25
"""Context kept around a box in a crop, as a fraction of the box's longer side."""


def check_image(image: object) -> Image:
    """``image`` when it is a BGR uint8 frame (height x width x 3), else ValueError."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a numpy uint8 array")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be height x width x 3 (BGR), got shape {image.shape}")
    return image


def check_box(box: Sequence[float]) -> Box:
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise ValueError(f"box must be four finite numbers (x1, y1, x2, y2), got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1, y1, x2, y2)


def draw_boxes(image: Image, detections: Sequence[Labelled]) -> Image:
    """A copy of ``image`` with each box and its "label score" drawn on it."""
    out = image.copy()
    height, width = out.shape[:2]
    side = min(width, height)
    thickness = max(2, round(side / 240))
    font_scale = max(0.5, side / 700)
    text_thickness = max(1, round(font_scale * 1.8))
    for label, score, box in detections:
        x1, y1, x2, y2 = _clip(check_box(box), width, height)
        x2, y2 = min(x2, width - 1), min(y2, height - 1)  # the last pixel, not one past it
        colour = _PALETTE[zlib.crc32(label.encode()) % len(_PALETTE)]
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        text = f"{label} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness)
        pad = max(2, thickness)
        # Above the box where there is room, else just inside its top edge.
        top = y1 - th - base - 2 * pad if y1 - th - base - 2 * pad >= 0 else y1
        left = min(x1, max(0, width - tw - 2 * pad))
        bottom = top + th + base + 2 * pad
        cv2.rectangle(out, (left, top), (left + tw + 2 * pad, bottom), colour, cv2.FILLED)
        luma = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
        ink = (0, 0, 0) if luma > 140 else (255, 255, 255)
        cv2.putText(
            out,
            text,
            (left + pad, bottom - base - pad),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            ink,
            text_thickness,
            cv2.LINE_AA,
        )
    return out


def crop_around(image: Image, box: Box) -> Image:
    """The part of ``image`` around ``box`` with a margin, clipped to the frame; the whole
    frame when the box lies outside it."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = check_box(box)
    margin = CROP_MARGIN * max(x2 - x1, y2 - y1, 0.0)
    left, top, right, bottom = _clip(
        (x1 - margin, y1 - margin, x2 + margin, y2 + margin), width, height
    )
    if right <= left or bottom <= top:
        return image.copy()
    return np.ascontiguousarray(image[top:bottom, left:right])


def _clip(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    return (
        int(min(max(math.floor(x1), 0), width)),
        int(min(max(math.floor(y1), 0), height)),
        int(min(max(math.ceil(x2), 0), width)),
        int(min(max(math.ceil(y2), 0), height)),
    )
