"""What a model's input takes, read from the model itself: element type, batch and size.

Exports differ: Ultralytics writes fp16 inputs with ``half=True`` and fixed shapes unless
``dynamic=True`` (e.g. ``[1, 3, 320, 320]``). A frame fed in the wrong type or size fails
inside ONNX Runtime on every frame, so the input is read at start: frames are letterboxed to
the model's fixed height and width and cast to its element type, and an input this detector
cannot feed (not NCHW with 3 channels, an integer type, a fixed batch above 1, a fixed size
that contradicts ``detector.input_size``) is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detektor.detection.letterbox import Size

DTYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
}


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    dtype: type[np.floating[Any]]
    size: Size
    """``int`` (square) or ``(width, height)`` of the canvas frames are letterboxed onto"""
    fixed_batch: bool
    """the model takes one frame per call"""


def _fixed(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def read_input(
    name: str, type_name: str, shape: Sequence[Any], configured: int | None, default: int
) -> InputSpec:
    """The input spec from ORT's ``NodeArg`` fields; ValueError says why it cannot be fed."""
    dtype = DTYPES.get(type_name)
    if dtype is None:
        raise ValueError(
            f"input {name!r} is {type_name}; only float32, float16 and float64 inputs are fed"
        )
    if len(shape) != 4:
        raise ValueError(f"input {name!r} has shape {list(shape)}; expected [N, 3, H, W]")
    batch, channels, height, width = (_fixed(d) for d in shape)
    if channels is not None and channels != 3:
        raise ValueError(
            f"input {name!r} has {channels} channel(s) (shape {list(shape)}); expected "
            "[N, 3, H, W] colour frames"
        )
    if batch is not None and batch != 1:
        raise ValueError(
            f"input {name!r} has a fixed batch of {batch}; export the model with batch 1 "
            "or a dynamic batch"
        )
    for fixed in (height, width):
        if fixed is not None and configured is not None and fixed != configured:
            raise ValueError(
                f"input {name!r} is fixed at {list(shape)} but detector.input_size is "
                f"{configured}; unset detector.input_size or make it match"
            )
    side = configured or default
    canvas = (width or side, height or side)
    size: Size = canvas[0] if canvas[0] == canvas[1] else canvas
    return InputSpec(name, dtype, size, fixed_batch=batch is not None)
