"""NanoDet-g-416 pre- and post-processing written from the model's description, independently
of ``detektor.detection``: the yardstick ``bench/detector.py`` holds our code against.

Plain numpy (and ``cv2.resize`` for the resize), the way NanoDet's authors process the model:
letterbox onto a black 416 x 416 canvas, ``(BGR - mean) / std``, NCHW; GFL head decode (cell
centres at ``(i + 0.5) * stride``, softmax over 11 bins per side, expected distance times the
stride); every (cell, class) above the score threshold; per-class greedy NMS as in Fast R-CNN's
``py_cpu_nms``; boxes back to source pixels; the 100 best.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)
Meta = tuple[float, int, int, int, int]  # scale, pad x, pad y, width, height


def preprocess(images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Meta]]:
    batch = np.zeros((len(images), 3, SIZE, SIZE), np.float32)
    metas: list[Meta] = []
    for index, image in enumerate(images):
        height, width = image.shape[:2]
        scale = min(SIZE / width, SIZE / height)
        new_w, new_h = round(width * scale), round(height * scale)
        canvas = np.zeros((SIZE, SIZE, 3), np.uint8)
        pad_x, pad_y = (SIZE - new_w) // 2, (SIZE - new_h) // 2
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(image, (new_w, new_h))
        batch[index] = ((canvas.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
        metas.append((scale, pad_x, pad_y, width, height))
    return batch, metas


def py_cpu_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]))
        inter = w * h
        overlap = inter / np.maximum(areas[i] + areas[order[1:]] - inter, 1e-9)
        order = order[np.where(overlap <= threshold)[0] + 1]
    return keep


def postprocess(
    outputs: dict[str, np.ndarray],
    metas: list[Meta],
    labels: Sequence[str],
    score_threshold: float,
    iou_threshold: float,
) -> list[list[dict[str, Any]]]:
    """``outputs`` by name (``cls_s8`` ... ``reg_s32``), as the exported model names them."""
    results = []
    for frame, (scale, pad_x, pad_y, width, height) in enumerate(metas):
        boxes, scores, classes = [], [], []
        for stride in STRIDES:
            cls, reg = outputs[f"cls_s{stride}"][frame], outputs[f"reg_s{stride}"][frame]
            cell, label = np.nonzero(cls > score_threshold)
            grid_w = -(-SIZE // stride)
            cy, cx = np.divmod(cell, grid_w)
            logits = reg[cell].reshape(-1, 4, BINS)
            prob = np.exp(logits - logits.max(axis=2, keepdims=True))
            prob /= prob.sum(axis=2, keepdims=True)
            dist = (prob * np.arange(BINS, dtype=np.float32)).sum(axis=2) * stride
            x, y = (cx + 0.5) * stride, (cy + 0.5) * stride
            box = np.stack([x - dist[:, 0], y - dist[:, 1], x + dist[:, 2], y + dist[:, 3]], 1)
            boxes.append(np.clip(box, 0, SIZE))
            scores.append(cls[cell, label])
            classes.append(label)
        all_boxes, all_scores = np.concatenate(boxes), np.concatenate(scores)
        all_classes = np.concatenate(classes)
        found = []
        for label in np.unique(all_classes):
            mine = np.nonzero(all_classes == label)[0]
            for i in py_cpu_nms(all_boxes[mine], all_scores[mine], iou_threshold):
                box = (all_boxes[mine[i]] - [pad_x, pad_y, pad_x, pad_y]) / scale
                box = np.clip(box, 0, [width, height, width, height])
                found.append(
                    {"label": labels[label], "score": float(all_scores[mine[i]]), "box": box}
                )
        found.sort(key=lambda d: -d["score"])
        results.append(found[:100])
    return results
