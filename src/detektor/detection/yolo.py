"""YOLO-format ONNX exports (Ultralytics v5/v8/v9/v11): input convention and output decode.

This module owns any detector a user brings as a YOLO-format ONNX file, with its labels and
input size:

* **Input** (Ultralytics convention): frames letterboxed, centred, on a canvas of grey 114,
  **RGB**, scaled to ``[0, 1]`` (``/ 255``), NCHW float32.
* **Outputs.** One tensor whose layout ``detect_layout`` reads from its shape and the number
  of labels ``nc``:

  - ``"v8"``: ``[B, 4 + nc, A]``, rows cx, cy, w, h then class scores, no objectness
    (v8, v9, v11 exports);
  - ``"v8t"``: the same transposed, ``[B, A, 4 + nc]`` (some third-party exports);
  - ``"v5"``: ``[B, A, 5 + nc]``, cx, cy, w, h, objectness, class scores; score is
    objectness x class score.

  Boxes are in input pixels. Each anchor keeps its best class (as Ultralytics' predict does);
  then class-aware NMS (``nms``) and the boxes go back to source pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detektor.detection.config import DEFAULT_IOU
from detektor.detection.letterbox import Letterboxed, Size, canvas_size, letterbox_batch
from detektor.detection.nms import Candidates, RawDetection, detections

Layout = Literal["v8", "v8t", "v5"]
DEFAULT_SIZE = 640
PAD_FILL = 114


def preprocess(canvases_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """``[B, H, W, 3]`` uint8 BGR canvases to the ``[B, 3, H, W]`` RGB ``/255`` input."""
    if canvases_bgr.ndim != 4 or canvases_bgr.shape[-1] != 3:
        raise ValueError(f"expected [B, H, W, 3] BGR canvases, got {canvases_bgr.shape}")
    batch, height, width, _ = canvases_bgr.shape
    tensor = np.empty((batch, 3, height, width), dtype=np.float32)
    for channel in range(3):  # RGB planes from BGR pixels
        np.multiply(
            canvases_bgr[..., 2 - channel],
            np.float32(1 / 255),
            out=tensor[:, channel],
            dtype=np.float32,
        )
    return tensor


def prepare(
    frames_bgr: Sequence[npt.NDArray[Any]], size: Size = DEFAULT_SIZE
) -> tuple[npt.NDArray[np.float32], Letterboxed]:
    """Letterbox (grey 114, centred) and preprocess a batch: ``(input tensor, placements)``."""
    letterboxed = letterbox_batch(frames_bgr, size, fill=PAD_FILL)
    return preprocess(letterboxed.canvases), letterboxed


def detect_layout(shape: Sequence[Any], num_classes: int) -> Layout:
    """The output layout from its shape ``[B, X, Y]`` (or ``[X, Y]``) and the label count.

    Raises ValueError, naming the shape, when it fits none of the layouts.
    """
    dims = list(shape)[-2:]
    if len(shape) in (2, 3) and num_classes > 0:
        if dims[0] == 4 + num_classes:
            return "v8"
        if dims[1] == 5 + num_classes:
            return "v5"
        if dims[1] == 4 + num_classes:
            return "v8t"
    raise ValueError(
        f"model output {list(shape)} does not fit a YOLO export with {num_classes} labels: "
        f"expected [B, {4 + num_classes}, A] (v8/v9/v11) or [B, A, {5 + num_classes}] (v5)"
    )


def candidates(
    output: npt.NDArray[Any],
    num_classes: int,
    score_threshold: float,
    size: Size = DEFAULT_SIZE,
    layout: Layout | None = None,
) -> Candidates:
    """Decode one raw YOLO output into candidates above ``score_threshold``, input pixels."""
    array = np.asarray(output, dtype=np.float32)
    array = array[None] if array.ndim == 2 else array
    layout = layout or detect_layout(array.shape, num_classes)
    if layout == "v5":
        image, anchor = np.nonzero(array[..., 4] > score_threshold)
        rows = array[image, anchor]  # [K, 5 + nc]
        class_scores = rows[:, 5:] * rows[:, 4:5]
    else:
        if layout == "v8":  # best score per anchor on the native layout, then rows of a view
            best = array[:, 4:, :].max(axis=1)
            array = array.transpose(0, 2, 1)
        else:
            best = array[..., 4:].max(axis=-1)
        image, anchor = np.nonzero(best > score_threshold)
        rows = array[image, anchor]  # [K, 4 + nc]
        class_scores = rows[:, 4:]
    scores, classes = class_scores.max(axis=1), class_scores.argmax(axis=1)
    keep = scores > score_threshold
    image, cxcywh, scores, classes = image[keep], rows[keep, :4], scores[keep], classes[keep]
    width, height = canvas_size(size)
    half = cxcywh[:, 2:4] / 2
    boxes = np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    return Candidates(
        image.astype(np.intp),
        boxes.astype(np.float32),
        scores.astype(np.float32),
        classes.astype(np.intp),
    )


def decode(
    output: npt.NDArray[Any],
    letterboxed: Letterboxed,
    labels: Sequence[str],
    score_threshold: float = 0.25,
    iou_threshold: float = DEFAULT_IOU,
    top_k: int = 100,
    layout: Layout | None = None,
) -> list[list[RawDetection]]:
    """A raw YOLO output of a batch to detections in source pixels, one list per frame."""
    batch = len(output) if np.ndim(output) == 3 else 1
    if batch != len(letterboxed):
        raise ValueError(f"output holds batch {batch} but {len(letterboxed)} frames")
    height, width = letterboxed.canvases.shape[1:3]
    found = candidates(output, len(labels), score_threshold, (width, height), layout)
    return detections(found, letterboxed, labels, iou_threshold, top_k)
