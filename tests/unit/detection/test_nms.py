"""Class-aware NMS, the per-frame caps and the result dicts shared by every decoder."""

from __future__ import annotations

import numpy as np
import pytest

from detektor.detection.letterbox import letterbox_batch
from detektor.detection.nms import Candidates, cap_per_image, detections, iou, nms


def candidates(rows: list[tuple[int, list[float], float, int]]) -> Candidates:
    return Candidates(
        np.array([r[0] for r in rows], np.intp),
        np.array([r[1] for r in rows], np.float32).reshape(-1, 4),
        np.array([r[2] for r in rows], np.float32),
        np.array([r[3] for r in rows], np.intp),
    )


def test_iou_of_known_boxes() -> None:
    box = np.array([0, 0, 10, 10.0])
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [3, 3, 3, 3.0]])
    np.testing.assert_allclose(iou(box, others), [1.0, 50 / 150, 0.0, 0.0])
    assert iou(np.zeros(4), np.zeros((1, 4))).tolist() == [0.0]  # empty boxes: no NaN


def test_nms_keeps_the_best_of_an_overlapping_group_and_orders_by_score() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.0]])
    scores = np.array([0.6, 0.9, 0.5, 0.7])
    same_group = np.zeros(4, np.intp)
    assert nms(boxes, scores, same_group, 0.5).tolist() == [1, 2]
    # a higher threshold lets the moderately overlapping boxes through (IoU 81/119 = 0.68)
    assert nms(boxes, scores, same_group, 0.7).tolist() == [1, 3, 2]
    # different groups never suppress each other
    assert nms(boxes, scores, np.arange(4), 0.5).tolist() == [1, 3, 0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.intp), 0.5).tolist() == []


def test_detections_are_per_frame_per_class_with_top_k() -> None:
    frames = letterbox_batch([np.zeros((100, 100, 3), np.uint8)] * 2, 100)
    found = detections(
        candidates(
            [
                (0, [0, 0, 10, 10], 0.9, 0),
                (0, [0, 0, 10, 10], 0.8, 1),  # same box, other class: kept
                (1, [0, 0, 10, 10], 0.7, 0),  # same box and class, other frame: kept
                (0, [1, 1, 10, 10], 0.6, 0),  # suppressed by the first
                (0, [50, 50, 60, 60], 0.5, 0),  # past top_k = 2
            ]
        ),
        frames,
        ["person", "car"],
        iou_threshold=0.5,
        top_k=2,
    )
    assert found == [
        [
            {"label": "person", "score": 0.9, "box": [0.0, 0.0, 10.0, 10.0]},
            {"label": "car", "score": 0.8, "box": [0.0, 0.0, 10.0, 10.0]},
        ],
        [{"label": "person", "score": 0.7, "box": [0.0, 0.0, 10.0, 10.0]}],
    ]


def test_no_candidates_give_an_empty_list_per_frame() -> None:
    frames = letterbox_batch([np.zeros((10, 10, 3), np.uint8)] * 3, 10)
    assert detections(candidates([]), frames, ["a"], 0.5, 10) == [[], [], []]


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_the_candidate_cap_keeps_the_best_of_each_frame(limit: int) -> None:
    rows = [(i % 2, [i, i, i + 5, i + 5], 0.1 * (i + 1), 0) for i in range(8)]
    capped = cap_per_image(candidates(rows), limit)
    for image in (0, 1):
        kept = sorted(capped.scores[capped.image == image].tolist(), reverse=True)
        best = sorted([r[2] for r in rows if r[0] == image], reverse=True)[:limit]
        np.testing.assert_allclose(kept, best, rtol=1e-6)
