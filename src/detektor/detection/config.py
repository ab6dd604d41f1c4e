"""What the ONNX detector needs to know, as plain values (no settings framework, no services).

The detector service's settings (``services/detector/settings.py``) validate the user's
configuration and hand it over as a ``ModelConfig``, so the dependency runs one way only:
services -> detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["nanodet", "yolo"]
Device = Literal["auto", "cuda", "cpu"]
Precision = Literal["auto", "fp32", "int8"]
DEFAULT_SCORE = 0.3
DEFAULT_IOU = 0.45
"""NMS overlap limit: 0.6 left up to 47 boxes on one walking person over 40 frames."""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    model: Path | None = None
    """an ONNX file; None: the bundled NanoDet-g-416"""
    format: Format = "nanodet"
    labels: tuple[str, ...] | None = None
    """class names in output order; None: COCO (nanodet) or the model's metadata (yolo)"""
    input_size: int | None = None
    """square input of a model with a dynamic input; None: 416 (nanodet), 640 (yolo)"""
    device: Device = "auto"
    precision: Precision = "auto"
    """which bundled model: auto is int8 on the CPU and fp32 on CUDA (ADR 29); a model of
    your own is used as given"""
    threads: int = 2
    score_threshold: float = DEFAULT_SCORE
    iou_threshold: float = DEFAULT_IOU


def precision_error(model: Path | None, precision: Precision) -> str | None:
    """Why ``precision`` cannot go with ``model``, or None: it picks among the bundled models,
    so a model of one's own with a precision other than auto is a contradiction."""
    if model is None or precision == "auto":
        return None
    return (
        f"detector.precision {precision} picks one of the bundled models, but detector.model "
        "is set and a model of your own is used as given: unset detector.precision, or "
        "quantise your model yourself and set detector.model to the result"
    )
