"""NanoDet (GFL head) pre- and post-processing: the bundled default model's input and decode.

This module owns what is specific to NanoDet-g-416 (see ``detektor/models/NOTICE``):

* **Input.** Frames letterboxed (centred, black) onto a 416 x 416 canvas, **BGR**, normalised
  as ``(p - MEAN) / STD`` per channel, NCHW float32, a batch of N.
* **Outputs.** For strides 8/16/32, one ``[B, cells, 80]`` map of (already sigmoid) class
  scores and one ``[B, cells, 44]`` map of box distributions (4 sides x 11 bins), cells in
  row-major order over the ``ceil(416 / stride)`` square grid. ``match_outputs`` pairs them up
  by shape only (80 vs 44 channels; 2704 / 676 / 169 cells give the stride), never by name.
* **Decode (GFL).** Cell centres at ``(col + 0.5, row + 0.5) * stride``; per side, the
  softmax over the 11 bins gives the expected distance (in bins) times the stride, measured
  from the centre; boxes are clipped to the canvas. Every (cell, class) pair above the score
  threshold is a candidate (multi-label, as NanoDet's own post-processing), then ``nms``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detektor.detection.config import DEFAULT_IOU
from detektor.detection.labels import COCO_LABELS
from detektor.detection.letterbox import Letterboxed, Size, canvas_size, letterbox_batch
from detektor.detection.nms import Candidates, RawDetection, detections

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_MAX = 10
"""Bins per side minus one: distances are 0..10 strides."""
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)


def preprocess(canvases_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """``[B, H, W, 3]`` uint8 BGR canvases to the normalised ``[B, 3, H, W]`` float32 input."""
    if canvases_bgr.ndim != 4 or canvases_bgr.shape[-1] != 3:
        raise ValueError(f"expected [B, H, W, 3] BGR canvases, got {canvases_bgr.shape}")
    batch, height, width, _ = canvases_bgr.shape
    tensor = np.empty((batch, 3, height, width), dtype=np.float32)
    for channel in range(3):
        plane = tensor[:, channel]
        np.subtract(canvases_bgr[..., channel], MEAN_BGR[channel], out=plane, dtype=np.float32)
        plane *= np.float32(1.0) / STD_BGR[channel]
    return tensor


def prepare(
    frames_bgr: Sequence[npt.NDArray[Any]], size: Size = INPUT_SIZE
) -> tuple[npt.NDArray[np.float32], Letterboxed]:
    """Letterbox (black, centred) and preprocess a batch: ``(input tensor, placements)``."""
    letterboxed = letterbox_batch(frames_bgr, size, fill=0)
    return preprocess(letterboxed.canvases), letterboxed


@dataclass(frozen=True, slots=True)
class Level:
    """One FPN level: its stride, grid and which model outputs hold its scores and boxes."""

    stride: int
    grid_w: int
    grid_h: int
    cls_index: int
    reg_index: int


def levels(size: Size = INPUT_SIZE, strides: Sequence[int] = STRIDES) -> list[tuple[int, int, int]]:
    """``(stride, grid_w, grid_h)`` per level for an input ``size``."""
    width, height = canvas_size(size)
    return [(s, math.ceil(width / s), math.ceil(height / s)) for s in strides]


def match_outputs(
    shapes: Sequence[Sequence[Any]],
    size: Size = INPUT_SIZE,
    num_classes: int = len(COCO_LABELS),
    reg_max: int = REG_MAX,
    strides: Sequence[int] = STRIDES,
) -> list[Level]:
    """Pair the model's outputs per level from their shapes alone (names and order are free).

    ``shapes`` are the outputs' shapes, e.g. from ``session.get_outputs()`` (a symbolic batch
    dimension is fine) or from the arrays themselves. Raises ValueError, naming the shapes,
    when they do not fit NanoDet at this input size and class count.
    """
    cls: dict[int, int] = {}
    reg: dict[int, int] = {}
    for index, shape in enumerate(shapes):
        if len(shape) not in (2, 3) or not all(isinstance(d, int) for d in shape[-2:]):
            continue
        cells, channels = int(shape[-2]), int(shape[-1])
        target = cls if channels == num_classes else reg if channels == 4 * (reg_max + 1) else None
        if target is not None and cells not in target:
            target[cells] = index
    found = []
    for stride, grid_w, grid_h in levels(size, strides):
        cells = grid_w * grid_h
        if cells not in cls or cells not in reg:
            raise ValueError(
                f"model outputs {[list(s) for s in shapes]} do not fit NanoDet: expected "
                f"[B, {cells}, {num_classes}] scores and [B, {cells}, {4 * (reg_max + 1)}] "
                f"boxes for stride {stride} at input {canvas_size(size)}"
            )
        found.append(Level(stride, grid_w, grid_h, cls[cells], reg[cells]))
    return found


def _batched(output: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    array = np.asarray(output, dtype=np.float32)
    return array[None] if array.ndim == 2 else array


@functools.cache
def centres(level: Level) -> npt.NDArray[np.float32]:
    """``[cells, 2]`` x, y cell centres of a level, in input pixels, row-major (read-only)."""
    xs = (np.arange(level.grid_w, dtype=np.float32) + 0.5) * level.stride
    ys = (np.arange(level.grid_h, dtype=np.float32) + 0.5) * level.stride
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    points.setflags(write=False)
    return points


def distances(reg: npt.NDArray[Any], reg_max: int = REG_MAX) -> npt.NDArray[np.float32]:
    """``[..., 4 * (reg_max + 1)]`` bin logits to ``[..., 4]`` expected distances (in bins)."""
    logits = np.asarray(reg, dtype=np.float32).reshape(*reg.shape[:-1], 4, reg_max + 1)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    bins = np.arange(reg_max + 1, dtype=np.float32)
    expected: npt.NDArray[np.float32] = (weights @ bins) / weights.sum(axis=-1)
    return expected


def candidates(
    outputs: Sequence[npt.NDArray[Any]],
    score_threshold: float,
    size: Size = INPUT_SIZE,
    num_classes: int = len(COCO_LABELS),
    reg_max: int = REG_MAX,
) -> Candidates:
    """GFL decode of raw outputs into candidates above ``score_threshold``, in input pixels."""
    arrays = [_batched(output) for output in outputs]
    width, height = canvas_size(size)
    parts: list[Candidates] = []
    for level in match_outputs([a.shape for a in arrays], size, num_classes, reg_max):
        scores, reg = arrays[level.cls_index], arrays[level.reg_index]
        if scores.shape[0] != reg.shape[0]:
            raise ValueError(f"batch sizes differ: scores {scores.shape}, boxes {reg.shape}")
        # flat indices: far cheaper than a 3-D np.nonzero
        frame_cell, label = np.divmod(np.flatnonzero(scores > score_threshold), num_classes)
        if not frame_cell.size:
            continue
        image, cell = np.divmod(frame_cell, scores.shape[1])
        # decode each distinct (frame, cell) once, even when several classes pass
        key, inverse = np.unique(frame_cell, return_inverse=True)
        frames, cells = np.divmod(key, scores.shape[1])
        dist = distances(reg[frames, cells], reg_max) * level.stride
        centre = centres(level)[cells]
        boxes = np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1)
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        parts.append(
            Candidates(
                image.astype(np.intp),
                boxes[inverse.ravel()].astype(np.float32),
                scores[image, cell, label],
                label.astype(np.intp),
            )
        )
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return Candidates(empty, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), empty)
    return Candidates(
        np.concatenate([p.image for p in parts]),
        np.concatenate([p.boxes for p in parts]),
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.classes for p in parts]),
    )


def decode(
    outputs: Sequence[npt.NDArray[Any]],
    letterboxed: Letterboxed,
    labels: Sequence[str] = COCO_LABELS,
    score_threshold: float = 0.3,
    iou_threshold: float = DEFAULT_IOU,
    top_k: int = 100,
) -> list[list[RawDetection]]:
    """Raw NanoDet outputs of a batch to detections in source pixels, one list per frame."""
    batch = {len(o) if np.ndim(o) == 3 else 1 for o in outputs}
    if batch != {len(letterboxed)}:
        raise ValueError(f"outputs hold batch {sorted(batch)} but {len(letterboxed)} frames")
    height, width = letterboxed.canvases.shape[1:3]
    found = candidates(outputs, score_threshold, (width, height), num_classes=len(labels))
    return detections(found, letterboxed, labels, iou_threshold, top_k)
