"""Settings of the detector (section ``detector``, env ``DETEKTOR_DETECTOR__*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detektor.detection.config import (
    DEFAULT_IOU,
    DEFAULT_SCORE,
    Device,
    Format,
    ModelConfig,
    Precision,
    precision_error,
)


class DetectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["onnx", "motion_regions"] = Field(
        default="onnx", description="onnx: object detection; motion_regions: boxes what changed"
    )
    model: Path | None = Field(
        default=None, description="an ONNX file; unset: the bundled NanoDet-g-416 (COCO)"
    )
    format: Format = Field(
        default="nanodet", description="output format of the model: nanodet, or yolo (v5/v8/v9/v11)"
    )
    labels: list[str] | None = Field(
        default=None, description="class names of a YOLO model, in order (else its metadata)"
    )
    input_size: int | None = Field(
        default=None, ge=32, le=2048, description="square input size (nanodet 416, yolo 640)"
    )
    device: Device = Field(
        default="auto", description="auto: CUDA when present, else the CPU with a warning"
    )
    precision: Precision = Field(
        default="auto",
        description="bundled model only: fp32, int8 (about 2x faster on the CPU, the same "
        "confident detections: bench/RESULTS.md), auto: int8 on the CPU, fp32 on CUDA",
    )
    threads: int = Field(default=2, ge=1, le=64, description="CPU inference threads")
    score_threshold: float = Field(
        default=DEFAULT_SCORE, gt=0, lt=1, description="lowest score kept before per-camera filters"
    )
    iou_threshold: float = Field(default=DEFAULT_IOU, gt=0, le=1, description="NMS overlap limit")
    detections_stream: str = Field(
        default="detektor:detections", description="Redis stream the results are published on"
    )
    pictures_ttl_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="keep each processed frame's JPEG in Redis this long, for the objects "
        "service's snapshots (0: no pictures, no snapshots in the distributed setup)",
    )

    @model_validator(mode="after")
    def _model_fits_format_and_precision(self) -> DetectorSettings:
        if self.format == "yolo" and self.model is None:
            raise ValueError("format yolo needs detector.model: the path of your YOLO ONNX file")
        contradiction = precision_error(self.model, self.precision)
        if contradiction:
            raise ValueError(contradiction)
        return self

    def detection_config(self) -> ModelConfig:
        """The plain values the ``detection`` package runs the model with."""
        return ModelConfig(
            model=self.model,
            format=self.format,
            labels=tuple(self.labels) if self.labels is not None else None,
            input_size=self.input_size,
            device=self.device,
            precision=self.precision,
            threads=self.threads,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
        )
