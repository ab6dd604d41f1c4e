"""The ``onnx`` detector backend: ONNX Runtime on CUDA when it can, on the CPU when it cannot.

At start it picks the model (``detector.precision``: the bundled FP32 NanoDet or its INT8
version, made by ``scripts/quantize_model.py``; ``auto`` takes INT8 on the CPU and FP32 on
CUDA, ADR 29), checks it (a bundled one against its sha256), opens the session on the
requested device (``ort_session``: ``auto`` prefers CUDA and warns when it falls back to the
CPU; ``cuda`` refuses to start unless the session took CUDA), reads the input's type and
fixed shape from the model (``model_input``) and checks that the model's outputs fit the
configured format, so a wrong file fails at start with a message instead of on every frame.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detektor.detection import nanodet, ort_session, yolo
from detektor.detection.config import Device, ModelConfig, Precision, precision_error
from detektor.detection.device import DeviceInfo, describe_device
from detektor.detection.labels import COCO_LABELS
from detektor.detection.letterbox import canvas_size
from detektor.detection.model_input import InputSpec, read_input
from detektor.detection.nms import RawDetection
from detektor.detection.ort_session import CUDA, DeviceError, open_session

log = logging.getLogger(__name__)
BUNDLED = "nanodet-g-416.onnx"
BUNDLED_FILES = {"fp32": BUNDLED, "int8": "nanodet-g-416-int8.onnx"}


class ModelError(Exception):
    """The model cannot be used; the message says which file and why."""


def bundled_model(precision: str = "fp32") -> Path:
    return Path(str(files("detektor.models").joinpath(BUNDLED_FILES[precision])))


def bundled_precision(precision: Precision, device: Device) -> str:
    """fp32 or int8: ``auto`` is INT8 unless the session may get CUDA (INT8 was measured on
    the CPU only, ADR 29). A CUDA provider that then fails to start leaves FP32 on the CPU,
    with the fallback warning ``ort_session`` logs."""
    if precision != "auto":
        return precision
    return "fp32" if device != "cpu" and CUDA in ort_session.available_providers() else "int8"


def verify_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ModelError(
            f"model {path} has sha256 {digest[:16]}…, expected {expected[:16]}…: the file is "
            "corrupt or was replaced; reinstall detektor"
        )


class OnnxDetector:
    def __init__(self, settings: ModelConfig) -> None:
        self.settings = settings
        self.format = settings.format
        contradiction = precision_error(settings.model, settings.precision)
        if contradiction:
            raise ModelError(contradiction)
        self.precision = (
            None if settings.model else bundled_precision(settings.precision, settings.device)
        )
        path = settings.model or bundled_model(self.precision or "fp32")
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        if settings.model is None:
            sha_file = path.with_name(path.name + ".sha256")
            if not sha_file.is_file():
                raise ModelError(f"the bundled model's checksum {sha_file} is missing")
            verify_sha256(path, sha_file.read_text().split()[0])
        self.path = path
        self.name = path.stem
        try:
            self.session, _ = open_session(path, settings.device, settings.threads)
        except DeviceError as exc:
            raise ModelError(str(exc)) from None
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"cannot load model {path}: {exc}") from None
        self.provider = self.session.get_providers()[0]
        self.device: DeviceInfo = replace(
            describe_device(self.provider), model=self.name, precision=self.precision
        )
        self.input: InputSpec = self._input()
        self.size = self.input.size
        self.labels = self._labels()
        self._check_outputs()
        log.info(
            "detector model %s (%s) on %s: %s",
            self.name,
            self.format,
            self.provider,
            self.device.name,
            extra={
                "labels": len(self.labels),
                "input_size": self.size,
                "input_type": np.dtype(self.input.dtype).name,
            },
        )

    def _input(self) -> InputSpec:
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(
                f"model {self.path} has {len(inputs)} inputs ({[i.name for i in inputs]}); "
                "the detector feeds exactly one image input"
            )
        default = nanodet.INPUT_SIZE if self.format == "nanodet" else yolo.DEFAULT_SIZE
        try:
            return read_input(
                inputs[0].name, inputs[0].type, inputs[0].shape, self.settings.input_size, default
            )
        except ValueError as exc:
            raise ModelError(f"model {self.path} cannot be fed: {exc}") from None

    def _labels(self) -> list[str]:
        if self.format == "nanodet":
            return list(self.settings.labels or COCO_LABELS)
        if self.settings.labels:
            return list(self.settings.labels)
        names = self.session.get_modelmeta().custom_metadata_map.get("names")
        if not names:
            raise ModelError(
                f"model {self.path} names no classes; set detector.labels to its class names"
            )
        try:
            parsed = ast.literal_eval(names)  # Ultralytics writes a dict literal: {0: 'person'}
            if not isinstance(parsed, dict):
                raise TypeError(type(parsed).__name__)
        except (ValueError, SyntaxError, TypeError):
            raise ModelError(f"cannot read class names {names[:80]!r} from {self.path}") from None
        return [str(parsed[i]) for i in sorted(parsed)]

    def _check_outputs(self) -> None:
        shapes = [o.shape for o in self.session.get_outputs()]
        try:
            if self.format == "nanodet":
                nanodet.match_outputs(shapes, size=self.size, num_classes=len(self.labels))
            else:
                yolo.detect_layout(shapes[0], len(self.labels))
        except ValueError as exc:
            raise ModelError(
                f"model {self.path} does not fit format {self.format!r}: {exc}; check "
                "detector.format, detector.labels and detector.input_size"
            ) from None

    def warm_up(self, batch: int) -> float:
        """Run one batch of ``batch`` blank frames; the seconds it took. ONNX Runtime sizes
        its memory arena for the largest batch it has seen, so a service that warms up with
        its largest batch starts at its steady memory, instead of growing by a step the first
        time a full batch comes (seen as a 1.5x jump in the stack test's leak check), and its
        first real frame is not the slow one."""
        started = time.perf_counter()
        width, height = canvas_size(self.size)
        blank = np.full((height, width, 3), 114, dtype=np.uint8)
        self.detect([blank] * max(1, batch))
        return time.perf_counter() - started

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[list[RawDetection]]:
        """Detections per image (source pixels), one inference call per batch."""
        if self.input.fixed_batch and len(images) > 1:
            return [found for image in images for found in self.detect([image])]
        cfg = self.settings
        if self.format == "nanodet":
            tensor, placed = nanodet.prepare(images, self.size)
            outputs: list[Any] = self.session.run(None, {self.input.name: self._cast(tensor)})
            return nanodet.decode(
                outputs, placed, self.labels, cfg.score_threshold, cfg.iou_threshold
            )
        tensor, placed = yolo.prepare(images, self.size)
        output = self.session.run(None, {self.input.name: self._cast(tensor)})[0]
        return yolo.decode(output, placed, self.labels, cfg.score_threshold, cfg.iou_threshold)

    def _cast(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        return tensor if self.input.dtype is np.float32 else tensor.astype(self.input.dtype)
