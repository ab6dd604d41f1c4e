"""Letterboxing: fit frames onto a fixed-size model canvas, and map boxes back to the frames.

This module owns the geometry between a source frame and the model input. A frame is scaled by
``min(W / w, H / h)`` (aspect kept), centred on a canvas of the model's size filled with one
grey level (black for NanoDet, 114 for Ultralytics), so that

    canvas = source * scale + (pad_x, pad_y)        source = (canvas - pad) / scale

``letterbox`` does one frame; ``letterbox_batch`` fills a preallocated ``[B, H, W, 3]`` batch
and keeps each frame's placement as arrays, so that ``Letterboxed.to_source`` maps the boxes of a
whole batch back to source pixels in one vectorised step (clipped to each frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.floating[Any]]
Size = int | tuple[int, int]
"""A model input size: one int for a square, or ``(width, height)``."""


def canvas_size(size: Size) -> tuple[int, int]:
    """``(width, height)`` of a model input ``size``; rejects non-positive sizes."""
    width, height = (size, size) if isinstance(size, int) else size
    if width <= 0 or height <= 0:
        raise ValueError(f"input size must be positive, got {size!r}")
    return int(width), int(height)


def as_bgr(image: npt.NDArray[Any]) -> Image:
    """A frame as ``H x W x 3`` uint8; grey ``H x W`` or ``H x W x 1`` frames are expanded.

    Raises ValueError, with the shape, for anything else (empty, 4 channels, wrong dtype).
    """
    if image.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"frame must be H x W x 3 (BGR) or H x W (grey), got {image.shape}")
    return image


def placement(width: int, height: int, size: Size) -> tuple[float, int, int, int, int]:
    """``(scale, pad_x, pad_y, scaled_width, scaled_height)`` of a frame on the canvas."""
    canvas_w, canvas_h = canvas_size(size)
    scale = min(canvas_w / width, canvas_h / height)
    new_w = min(canvas_w, max(1, round(width * scale)))
    new_h = min(canvas_h, max(1, round(height * scale)))
    return scale, (canvas_w - new_w) // 2, (canvas_h - new_h) // 2, new_w, new_h


def _draw(image: Image, canvas: Image, size: Size) -> tuple[float, int, int]:
    height, width = image.shape[:2]
    scale, pad_x, pad_y, new_w, new_h = placement(width, height, size)
    if (new_w, new_h) == (width, height):
        resized = image
    else:
        resized = np.asarray(
            cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
        )
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return scale, pad_x, pad_y


def letterbox(image: npt.NDArray[Any], size: Size, fill: int = 0) -> tuple[Image, float, int, int]:
    """One frame on a ``size`` canvas: ``(canvas HxWx3 uint8, scale, pad_x, pad_y)``."""
    image = as_bgr(image)
    width, height = canvas_size(size)
    canvas = np.full((height, width, 3), fill, dtype=np.uint8)
    scale, pad_x, pad_y = _draw(image, canvas, size)
    return canvas, scale, pad_x, pad_y


def unletterbox(
    boxes: npt.ArrayLike,
    scale: npt.ArrayLike,
    pad_x: npt.ArrayLike,
    pad_y: npt.ArrayLike,
    width: npt.ArrayLike,
    height: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Map ``[..., 4]`` x1y1x2y2 canvas boxes to source pixels, clipped to the frame.

    The other arguments are scalars, or arrays that broadcast against ``boxes[..., 0]`` (one
    value per box), so one call maps a whole batch.
    """
    out = np.array(boxes, dtype=np.float64)
    if out.shape[-1:] != (4,):
        raise ValueError(f"boxes must have shape [..., 4], got {out.shape}")
    scale_ = np.asarray(scale, dtype=np.float64)
    xs = (out[..., 0::2] - np.asarray(pad_x)[..., None]) / scale_[..., None]
    ys = (out[..., 1::2] - np.asarray(pad_y)[..., None]) / scale_[..., None]
    out[..., 0::2] = np.clip(xs, 0.0, np.asarray(width, dtype=np.float64)[..., None])
    out[..., 1::2] = np.clip(ys, 0.0, np.asarray(height, dtype=np.float64)[..., None])
    return out


@dataclass(frozen=True, slots=True)
class Letterboxed:
    """A batch of frames on the model canvas, and where each frame sits on it."""

    canvases: Image
    """``[B, H, W, 3]`` uint8, in the frames' channel order."""
    scale: npt.NDArray[np.float64]
    """``[B]``: canvas pixels per source pixel."""
    pad: npt.NDArray[np.int64]
    """``[B, 2]``: (pad_x, pad_y) of each frame on the canvas."""
    frame_size: npt.NDArray[np.int64]
    """``[B, 2]``: (width, height) of each source frame."""

    def __len__(self) -> int:
        return len(self.canvases)

    def to_source(self, boxes: npt.ArrayLike, image: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Canvas boxes ``[K, 4]`` of frames ``image`` (``[K]`` indices) to source pixels."""
        index = np.asarray(image, dtype=np.intp)
        return unletterbox(
            boxes,
            self.scale[index],
            self.pad[index, 0],
            self.pad[index, 1],
            self.frame_size[index, 0],
            self.frame_size[index, 1],
        )


def letterbox_batch(images: Sequence[npt.NDArray[Any]], size: Size, fill: int = 0) -> Letterboxed:
    """Letterbox frames of any sizes into one ``[B, H, W, 3]`` batch (see ``Letterboxed``)."""
    if not images:
        raise ValueError("letterbox_batch needs at least one frame")
    width, height = canvas_size(size)
    canvases = np.full((len(images), height, width, 3), fill, dtype=np.uint8)
    scale = np.empty(len(images), dtype=np.float64)
    pad = np.empty((len(images), 2), dtype=np.int64)
    frame_size = np.empty((len(images), 2), dtype=np.int64)
    for index, raw in enumerate(images):
        image = as_bgr(raw)
        frame_size[index] = image.shape[1], image.shape[0]
        scale[index], pad[index, 0], pad[index, 1] = _draw(image, canvases[index], size)
    return Letterboxed(canvases, scale, pad, frame_size)
