"""The ``onnx`` detector backend: ONNX Runtime on CUDA when it can, on the CPU when it cannot.

At start it checks the model (the bundled one against its sha256), picks the execution
provider (``device: auto`` prefers CUDA and warns when it falls back to the CPU; ``cuda``
refuses to start without it), and checks that the model's outputs fit the configured format,
so a wrong file fails at start with a message instead of on the first frame.
"""

from __future__ import annotations

import ast
import hashlib
import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from detektor.detection import nanodet, yolo
from detektor.detection.device import DeviceInfo, describe_device
from detektor.detection.labels import COCO_LABELS
from detektor.detection.nms import RawDetection
from detektor.services.detector.settings import DetectorSettings

log = logging.getLogger(__name__)
BUNDLED = "nanodet-g-416.onnx"


class ModelError(Exception):
    """The model cannot be used; the message says which file and why."""


def bundled_model() -> Path:
    return Path(str(files("detektor.models").joinpath(BUNDLED)))


def verify_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ModelError(
            f"model {path} has sha256 {digest[:16]}…, expected {expected[:16]}…: the file is "
            "corrupt or was replaced; reinstall detektor"
        )


class OnnxDetector:
    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self.format = settings.format
        path = settings.model or bundled_model()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        if settings.model is None:
            sha_file = path.with_name(BUNDLED + ".sha256")
            if not sha_file.is_file():
                raise ModelError(f"the bundled model's checksum {sha_file} is missing")
            verify_sha256(path, sha_file.read_text().split()[0])
        self.path = path
        self.name = path.stem
        providers = choose_providers(settings.device)
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"cannot load model {path}: {exc}") from None
        self.provider = self.session.get_providers()[0]
        self.device: DeviceInfo = describe_device(self.provider)
        self.input = self.session.get_inputs()[0]
        self.labels = self._labels()
        self.size = settings.input_size or (
            nanodet.INPUT_SIZE if self.format == "nanodet" else yolo.DEFAULT_SIZE
        )
        # A model exported with a fixed batch of 1 is fed one frame at a time.
        self.fixed_batch = isinstance(self.input.shape[0], int)
        self._check_outputs()
        log.info(
            "detector model %s (%s) on %s: %s",
            self.name,
            self.format,
            self.provider,
            self.device.name,
            extra={"labels": len(self.labels), "input_size": self.size},
        )

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

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[list[RawDetection]]:
        """Detections per image (source pixels), one inference call per batch."""
        if self.fixed_batch and len(images) > 1:
            return [found for image in images for found in self.detect([image])]
        cfg = self.settings
        if self.format == "nanodet":
            tensor, placed = nanodet.prepare(images, self.size)
            outputs: list[Any] = self.session.run(None, {self.input.name: tensor})
            return nanodet.decode(
                outputs, placed, self.labels, cfg.score_threshold, cfg.iou_threshold
            )
        tensor, placed = yolo.prepare(images, self.size)
        output = self.session.run(None, {self.input.name: tensor})[0]
        return yolo.decode(output, placed, self.labels, cfg.score_threshold, cfg.iou_threshold)


def choose_providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise ModelError(
            "detector.device is cuda but ONNX Runtime has no CUDA provider (available: "
            f"{', '.join(available)}); install detektor[gpu] on a machine with an NVIDIA GPU, "
            "or set detector.device to auto or cpu"
        )
    if device == "auto" and not has_cuda:
        log.warning("no CUDA provider in ONNX Runtime: the detector runs on the CPU")
    if device in ("auto", "cuda") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
