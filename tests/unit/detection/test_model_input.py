"""The model's input type and fixed shape are read from the model: frames go through fp16
and fixed-size exports, and inputs that cannot be fed are refused at start."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from detektor.detection.config import ModelConfig
from detektor.detection.model_input import read_input
from detektor.detection.onnx_backend import ModelError, OnnxDetector
from support.onnx_models import yolo_like


def detector(path: Path, **extra: object) -> OnnxDetector:
    return OnnxDetector(ModelConfig(model=path, format="yolo", device="cpu", **extra))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("input_type", "shape", "frame", "box"),
    [
        # fp16 input at a fixed 320: the canvas box (160, 160, 64, 64) is twice as big on 640
        (TensorProto.FLOAT16, (1, 3, 320, 320), (640, 640), [256.0, 256.0, 384.0, 384.0]),
        # float32, fixed 256 high x 320 wide (not square), a 640 x 512 frame
        (TensorProto.FLOAT, (1, 3, 256, 320), (640, 512), [256.0, 192.0, 384.0, 320.0]),
        # fp16 with a dynamic batch and size: the default 640, frame 1280 x 1280
        (TensorProto.FLOAT16, ("batch", 3, "h", "w"), (1280, 1280), [256.0, 256.0, 384.0, 384.0]),
    ],
)
def test_a_frame_goes_through_models_of_any_input_type_and_fixed_size(
    tmp_path: Path,
    input_type: int,
    shape: Sequence[int | str],
    frame: tuple[int, int],
    box: list[float],
) -> None:
    cx, cy = (160, 160) if shape[2] != 256 else (160, 128)
    model = yolo_like(tmp_path / "m.onnx", input_type, shape, box=(cx, cy, 64, 64))
    found = detector(model)
    width, height = frame
    white = np.full((height, width, 3), 255, np.uint8)
    black = np.zeros((height, width, 3), np.uint8)
    result = found.detect([white, black, white])
    assert result[0] == [{"label": "person", "score": 1.0, "box": box}]
    assert result[1] == []  # the score is the pixels' mean: the frame itself went through
    assert result[2] == result[0]


@pytest.mark.parametrize(
    ("input_type", "shape", "extra", "reason"),
    [
        (TensorProto.FLOAT, (1, 3, 320), {}, r"shape \[1, 3, 320\]; expected \[N, 3, H, W\]"),
        (TensorProto.FLOAT, (1, 1, 320, 320), {}, "1 channel"),
        (TensorProto.UINT8, (1, 3, 320, 320), {}, "tensor\\(uint8\\); only float"),
        (TensorProto.FLOAT, (2, 3, 320, 320), {}, "fixed batch of 2"),
        (TensorProto.FLOAT, (1, 3, 320, 320), {"input_size": 640}, "input_size is 640"),
    ],
)
def test_an_input_that_cannot_be_fed_is_refused_at_start(
    tmp_path: Path,
    input_type: int,
    shape: Sequence[int],
    extra: dict[str, object],
    reason: str,
) -> None:
    model = yolo_like(tmp_path / "m.onnx", input_type, shape)
    with pytest.raises(ModelError, match="cannot be fed: .*" + reason):
        detector(model, **extra)


def test_read_input_takes_the_configured_size_only_where_the_model_leaves_it_open() -> None:
    assert read_input("x", "tensor(float)", ["n", 3, "h", "w"], 512, 640).size == 512
    assert read_input("x", "tensor(float)", ["n", 3, "h", "w"], None, 640).size == 640
    assert read_input("x", "tensor(float)", ["n", 3, 384, "w"], None, 640).size == (640, 384)
    spec = read_input("x", "tensor(float16)", [1, 3, 320, 320], 320, 640)
    assert (spec.size, spec.dtype, spec.fixed_batch) == (320, np.float16, True)
