"""Letterboxing: frames centred on the model canvas, and boxes mapped back to source pixels."""

from __future__ import annotations

import numpy as np
import pytest

from detektor.detection.letterbox import letterbox, letterbox_batch, placement, unletterbox


def frame(width: int, height: int, value: int = 200) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def test_a_wide_frame_is_scaled_to_the_width_and_centred_vertically() -> None:
    canvas, scale, pad_x, pad_y = letterbox(frame(640, 480), 416)
    assert canvas.shape == (416, 416, 3)
    assert scale == pytest.approx(416 / 640)
    assert (pad_x, pad_y) == (0, 52)  # 480 * 0.65 = 312 rows, (416 - 312) / 2 above
    assert (canvas[:52] == 0).all()
    assert (canvas[52 : 52 + 312] == 200).all()
    assert (canvas[52 + 312 :] == 0).all()


def test_a_tall_frame_is_centred_horizontally_and_fill_is_configurable() -> None:
    canvas, scale, pad_x, pad_y = letterbox(frame(300, 600), (640, 640), fill=114)
    assert scale == pytest.approx(640 / 600)
    new_w = round(300 * scale)
    assert (pad_x, pad_y) == ((640 - new_w) // 2, 0)
    assert (canvas[:, :pad_x] == 114).all()
    assert (canvas[:, pad_x : pad_x + new_w] == 200).all()


def test_boxes_round_trip_through_the_canvas() -> None:
    rng = np.random.default_rng(3)
    for width, height in [(640, 480), (1920, 1080), (300, 600), (100, 80)]:
        scale, pad_x, pad_y, _, _ = placement(width, height, 416)
        xy = rng.uniform(0, 1, (50, 2, 2)) * [width, height]
        source = np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)
        on_canvas = source * scale + [pad_x, pad_y, pad_x, pad_y]
        back = unletterbox(on_canvas, scale, pad_x, pad_y, width, height)
        np.testing.assert_allclose(back, source, atol=1e-6)


def test_boxes_are_clipped_to_the_frame() -> None:
    # a box reaching into the padding above and beyond the right edge of a 640x480 frame
    back = unletterbox([[-10.0, 10.0, 500.0, 300.0]], 0.65, 0, 52, 640, 480)
    np.testing.assert_allclose(back, [[0.0, 0.0, 640.0, (300 - 52) / 0.65]])


def test_a_batch_of_mixed_sizes_maps_each_frame_with_its_own_placement() -> None:
    frames = [frame(640, 480, 10), frame(480, 640, 20), np.full((200, 200), 30, np.uint8)]
    batch = letterbox_batch(frames, 320)
    assert batch.canvases.shape == (3, 320, 320, 3)
    assert len(batch) == 3
    np.testing.assert_array_equal(batch.frame_size, [[640, 480], [480, 640], [200, 200]])
    np.testing.assert_array_equal(batch.pad, [[0, 40], [40, 0], [0, 0]])
    assert (batch.canvases[2] == 30).all()  # the grey frame became three equal channels
    # the full canvas of each frame maps back to its whole frame
    full = np.array([[0.0, 0.0, 320.0, 320.0]] * 3)
    np.testing.assert_allclose(
        batch.to_source(full, [0, 1, 2]), [[0, 0, 640, 480], [0, 0, 480, 640], [0, 0, 200, 200]]
    )
    single, scale, pad_x, pad_y = letterbox(frames[1], 320)
    np.testing.assert_array_equal(batch.canvases[1], single)
    assert (batch.scale[1], *batch.pad[1]) == (scale, pad_x, pad_y)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((2, 10, 10, 3), np.uint8),
    ],
    ids=["empty", "four-channels", "float", "four-dims"],
)
def test_frames_of_the_wrong_shape_are_refused_with_their_shape(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="frame must be"):
        letterbox(bad, 416)


def test_an_empty_batch_and_a_bad_size_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        letterbox_batch([], 416)
    with pytest.raises(ValueError, match="positive"):
        letterbox(frame(10, 10), 0)
