"""YOLO-format decode on output tensors built by hand, for the v8 and v5 layouts."""

from __future__ import annotations

import numpy as np
import pytest

from detektor.detection import yolo
from detektor.detection.letterbox import letterbox_batch

LABELS = ["person", "car", "dog"]


def v8_output(rows: list[tuple[float, float, float, float, list[float]]], anchors: int = 50):
    """``[1, 4 + nc, A]``: one anchor per row (cx, cy, w, h, class scores), others empty."""
    out = np.zeros((1, 4 + len(LABELS), anchors), np.float32)
    for anchor, (cx, cy, w, h, scores) in enumerate(rows):
        out[0, :, anchor * 3] = [cx, cy, w, h, *scores]
    return out


def v5_output(rows: list[tuple[float, float, float, float, float, list[float]]], anchors: int = 50):
    """``[1, A, 5 + nc]``: cx, cy, w, h, objectness, class scores per anchor."""
    out = np.zeros((1, anchors, 5 + len(LABELS)), np.float32)
    for anchor, (cx, cy, w, h, obj, scores) in enumerate(rows):
        out[0, anchor * 2] = [cx, cy, w, h, obj, *scores]
    return out


def frames(width: int = 640, height: int = 640, count: int = 1):
    return letterbox_batch([np.zeros((height, width, 3), np.uint8)] * count, 640, fill=114)


def test_layouts_are_told_apart_by_shape_and_label_count() -> None:
    assert yolo.detect_layout((1, 84, 8400), 80) == "v8"
    assert yolo.detect_layout(("batch", 6, 8400), 2) == "v8"
    assert yolo.detect_layout((1, 25200, 85), 80) == "v5"
    assert yolo.detect_layout((1, 8400, 84), 80) == "v8t"
    with pytest.raises(ValueError, match=r"\[1, 84, 8400\] does not fit.*3 labels"):
        yolo.detect_layout((1, 84, 8400), 3)


def test_v8_rows_decode_to_the_best_class_with_boxes_in_source_pixels() -> None:
    out = v8_output([(320, 320, 100, 200, [0.1, 0.9, 0.3]), (100, 100, 20, 20, [0.2, 0.1, 0.0])])
    # a 1280x720 frame: scale 0.5, 140 rows of padding above
    found = yolo.decode(out, frames(1280, 720), LABELS, score_threshold=0.25)
    box = [(320 - 50) * 2, (320 - 100 - 140) * 2, (320 + 50) * 2, (320 + 100 - 140) * 2]
    assert found == [[{"label": "car", "score": 0.9, "box": [float(v) for v in box]}]]


def test_v5_scores_are_objectness_times_class_score() -> None:
    out = v5_output(
        [
            (320, 320, 64, 64, 0.8, [0.1, 0.2, 0.9]),  # 0.72 dog
            (100, 100, 20, 20, 0.9, [0.2, 0.0, 0.1]),  # 0.18: under the threshold
            (500, 500, 20, 20, 0.2, [1.0, 0.0, 0.0]),  # objectness under the threshold
        ]
    )
    found = yolo.decode(out, frames(), LABELS, score_threshold=0.25)
    assert found == [[{"label": "dog", "score": 0.72, "box": [288.0, 288.0, 352.0, 352.0]}]]


def test_the_transposed_v8_layout_gives_the_same_result() -> None:
    out = v8_output([(320, 320, 100, 200, [0.1, 0.9, 0.3])])
    expected = yolo.decode(out, frames(), LABELS)
    assert yolo.decode(out.transpose(0, 2, 1), frames(), LABELS) == expected
    assert yolo.candidates(out.transpose(0, 2, 1), 3, 0.25, 640).classes.tolist() == [1]


def test_boxes_are_clipped_and_batches_decode_per_frame() -> None:
    out = np.concatenate(
        [
            v8_output([(10, 630, 40, 40, [0.0, 0.0, 0.5])]),
            v8_output([(320, 320, 64, 64, [0.6, 0, 0])]),
        ]
    )
    found = yolo.decode(out, frames(count=2), LABELS)
    assert found[0] == [{"label": "dog", "score": 0.5, "box": [0.0, 610.0, 30.0, 640.0]}]
    assert found[1] == [{"label": "person", "score": 0.6, "box": [288.0, 288.0, 352.0, 352.0]}]


def test_overlapping_boxes_of_one_class_are_suppressed_but_not_across_classes() -> None:
    out = v8_output(
        [
            (320, 320, 100, 100, [0.9, 0, 0]),
            (325, 322, 100, 100, [0.8, 0, 0]),  # same person, lower score: suppressed
            (322, 320, 100, 100, [0, 0.7, 0]),  # a car on the same spot: kept
        ]
    )
    found = yolo.decode(out, frames(), LABELS, iou_threshold=0.45)
    assert [(d["label"], d["score"]) for d in found[0]] == [("person", 0.9), ("car", 0.7)]


def test_an_output_that_does_not_fit_the_labels_or_the_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit a YOLO export with 2 labels"):
        yolo.decode(v8_output([]), frames(), ["a", "b"])
    with pytest.raises(ValueError, match="batch 1 but 2 frames"):
        yolo.decode(v8_output([]), frames(count=2), LABELS)


def test_preprocess_is_rgb_scaled_to_one_on_grey_114() -> None:
    frame = np.zeros((320, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    tensor, letterboxed = yolo.prepare([frame], 640)
    assert tensor.shape == (1, 3, 640, 640)
    assert tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0, :, 320, 320], [0.0, 0.0, 1.0])  # R, G, B
    np.testing.assert_allclose(tensor[0, :, 0, 0], [114 / 255] * 3)  # padding
    assert letterboxed.pad.tolist() == [[0, 160]]
