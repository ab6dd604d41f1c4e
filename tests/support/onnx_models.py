"""Tiny real ONNX detectors, built with ``onnx.helper``, for tests of the model's input handling.

``yolo_like`` is a valid YOLO v8-layout export (``[1, 4 + nc, A]``): its first anchor holds
one fixed box (in canvas pixels) of class 0 whose score is the mean of that frame's input, so a
white frame gives score 1 and a black one 0: the output depends on the pixels fed. Its input
element type and shape are the caller's, e.g. fp16 at a fixed 320 x 320.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ANCHORS = 16


def yolo_like(
    path: Path,
    input_type: int = TensorProto.FLOAT16,
    input_shape: Sequence[int | str] = (1, 3, 320, 320),
    box: tuple[float, float, float, float] = (160, 160, 64, 64),
    labels: Sequence[str] = ("person", "car"),
) -> Path:
    """Write the model to ``path``; ``box`` is cx, cy, w, h on the canvas."""
    rows = 4 + len(labels)
    constant = np.zeros((1, rows, ANCHORS), np.float32)
    constant[0, :4, 0] = box
    mask = np.zeros_like(constant)
    mask[0, 4, 0] = 1.0  # the mean lands on anchor 0's class-0 score
    out_type = input_type if input_type in (TensorProto.FLOAT16, TensorProto.DOUBLE) else 1
    nodes = [
        helper.make_node("Cast", ["images"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node(
            "ReduceMean", ["as_float"], ["mean"], axes=list(range(1, len(input_shape)))
        ),
        helper.make_node("Reshape", ["mean", "per_frame"], ["mean_3d"]),  # [B, 1, 1]
        helper.make_node("Mul", ["mean_3d", "mask"], ["score"]),
        helper.make_node("Add", ["score", "boxes"], ["as_output"]),
        helper.make_node("Cast", ["as_output"], ["output0"], to=out_type),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo_like",
        [helper.make_tensor_value_info("images", input_type, list(input_shape))],
        [helper.make_tensor_value_info("output0", out_type, [input_shape[0], rows, ANCHORS])],
        initializer=[
            numpy_helper.from_array(constant, "boxes"),
            numpy_helper.from_array(mask, "mask"),
            numpy_helper.from_array(np.array([0, 1, 1], np.int64), "per_frame"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    names = {index: name for index, name in enumerate(labels)}
    helper.set_model_props(model, {"names": repr(names)})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
