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
    threads: int = 2
    score_threshold: float = DEFAULT_SCORE
    iou_threshold: float = DEFAULT_IOU
