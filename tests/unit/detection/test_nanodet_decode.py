"""NanoDet's GFL decode on output tensors built by hand: a known peak gives a known box."""

from __future__ import annotations

import numpy as np
import pytest

from detektor.detection import nanodet
from detektor.detection.labels import COCO_LABELS
from detektor.detection.letterbox import Letterboxed, letterbox_batch

CELLS = {8: 52, 16: 26, 32: 13}
PEAK = 40.0  # a bin logit this high puts (almost) all the softmax mass on that bin


def blank(batch: int = 1) -> dict[str, np.ndarray]:
    """All-zero outputs as the model names them (scores 0; uniform box distributions)."""
    out = {}
    for stride, grid in CELLS.items():
        out[f"cls_s{stride}"] = np.zeros((batch, grid * grid, 80), np.float32)
        out[f"reg_s{stride}"] = np.zeros((batch, grid * grid, 44), np.float32)
    return out


def put(
    out: dict[str, np.ndarray],
    stride: int,
    row: int,
    col: int,
    label: int,
    score: float,
    bins: tuple[int, int, int, int],
    image: int = 0,
) -> None:
    """A detection at a cell: ``bins`` = distances left, top, right, bottom in strides."""
    cell = row * CELLS[stride] + col
    out[f"cls_s{stride}"][image, cell, label] = score
    reg = out[f"reg_s{stride}"][image, cell].reshape(4, 11)
    reg[:] = 0
    for side, distance in enumerate(bins):
        reg[side, distance] = PEAK


def one_frame(width: int = 416, height: int = 416) -> Letterboxed:
    return letterbox_batch([np.zeros((height, width, 3), np.uint8)], 416)


def test_a_peak_at_a_known_cell_gives_the_expected_box_in_input_pixels() -> None:
    out = blank()
    put(out, 16, row=10, col=5, label=0, score=0.9, bins=(2, 3, 4, 1))
    found = nanodet.candidates(list(out.values()), score_threshold=0.3)
    assert len(found) == 1
    cx, cy = (5 + 0.5) * 16, (10 + 0.5) * 16
    np.testing.assert_allclose(
        found.boxes[0], [cx - 2 * 16, cy - 3 * 16, cx + 4 * 16, cy + 1 * 16], atol=1e-3
    )
    assert found.classes[0] == 0
    assert found.scores[0] == pytest.approx(0.9)


def test_the_expected_distance_is_the_softmax_mean_over_the_bins() -> None:
    logits = np.zeros((1, 44), np.float32)
    logits[0, :11] = -50.0
    logits[0, 2:4] = 0.0  # equal mass on bins 2 and 3
    np.testing.assert_allclose(nanodet.distances(logits)[0, 0], 2.5, atol=1e-4)
    np.testing.assert_allclose(nanodet.distances(logits)[0, 1:], 5.0, atol=1e-4)  # uniform


def test_decode_maps_boxes_to_source_pixels_with_labels() -> None:
    out = blank()
    # on a 640x480 frame, scale 0.65 and 52 rows of padding above
    put(out, 32, row=6, col=6, label=15, score=0.8, bins=(1, 1, 1, 1))
    found = nanodet.decode(list(out.values()), one_frame(640, 480))
    centre = 6.5 * 32
    expected = [(centre - 32) / 0.65, (centre - 32 - 52) / 0.65]
    expected += [(centre + 32) / 0.65, (centre + 32 - 52) / 0.65]
    assert found == [[{"label": "cat", "score": 0.8, "box": [round(v, 1) for v in expected]}]]


def test_outputs_are_matched_by_shape_whatever_their_order() -> None:
    out = blank()
    put(out, 8, row=51, col=0, label=2, score=0.7, bins=(1, 10, 10, 1))
    shuffled = [out[k] for k in ["reg_s32", "cls_s8", "reg_s8", "cls_s32", "reg_s16", "cls_s16"]]
    found = nanodet.candidates(shuffled, 0.3)
    # centre (4, 412); the box reaches past the left and bottom edges and is clipped there
    np.testing.assert_allclose(found.boxes[0], [0, 412 - 80, 4 + 80, 416], atol=1e-3)
    levels = nanodet.match_outputs([o.shape for o in shuffled])
    assert [(lv.stride, lv.cls_index, lv.reg_index) for lv in levels] == [
        (8, 1, 2),
        (16, 5, 4),
        (32, 3, 0),
    ]


def test_symbolic_batch_dimensions_are_fine_for_matching() -> None:
    shapes = [["batch", n * n, c] for n in (52, 26, 13) for c in (80, 44)]
    assert [lv.stride for lv in nanodet.match_outputs(shapes)] == [8, 16, 32]


def test_outputs_that_do_not_fit_nanodet_are_refused_naming_the_shapes() -> None:
    out = blank()
    with pytest.raises(ValueError, match=r"do not fit NanoDet.*\[B, 169, 80\]"):
        nanodet.candidates([out["cls_s8"], out["reg_s8"], out["cls_s16"], out["reg_s16"]], 0.3)
    with pytest.raises(ValueError, match="do not fit NanoDet"):
        nanodet.match_outputs([o.shape for o in out.values()], num_classes=2)


def test_multi_label_batched_decode_and_threshold() -> None:
    out = blank(batch=2)
    put(out, 8, row=20, col=20, label=0, score=0.9, bins=(3, 3, 3, 3), image=1)
    out["cls_s8"][1, 20 * 52 + 20, 56] = 0.5  # the same cell also scores "chair"
    out["cls_s16"][0, 0, 0] = 0.29  # below the threshold
    frames = letterbox_batch([np.zeros((416, 416, 3), np.uint8)] * 2, 416)
    found = nanodet.decode(list(out.values()), frames, score_threshold=0.3)
    assert found[0] == []
    assert [(d["label"], d["score"]) for d in found[1]] == [("person", 0.9), ("chair", 0.5)]
    assert found[1][0]["box"] == found[1][1]["box"] == [140.0, 140.0, 188.0, 188.0]


def test_a_batch_size_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="batch"):
        nanodet.decode(list(blank(batch=2).values()), one_frame())


def test_preprocess_normalises_bgr_into_nchw() -> None:
    canvas = np.zeros((1, 416, 416, 3), np.uint8)
    canvas[..., 0], canvas[..., 1], canvas[..., 2] = 103, 116, 124  # B, G, R
    tensor, _ = nanodet.prepare([canvas[0]])
    assert tensor.shape == (1, 3, 416, 416)
    assert tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    np.testing.assert_allclose(
        tensor[0, :, 0, 0],
        (np.array([103, 116, 124]) - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395],
        rtol=1e-5,
    )
    assert len(COCO_LABELS) == 80
