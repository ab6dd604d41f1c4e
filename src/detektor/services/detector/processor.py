"""The detector as a processor: backends keyed by type, per-camera filters, device metrics.

A backend is anything with ``detect(images) -> detections per image`` and a ``device``;
``BACKENDS`` maps a ``detector.type`` to its constructor, so adding one is one entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from detektor.detection.device import DeviceInfo
from detektor.detection.nms import RawDetection
from detektor.kit.app import ServiceKit
from detektor.kit.metrics import Metrics, exemplar
from detektor.pipeline.decoding import Frame
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processing import Processor, Result
from detektor.services.capture.settings import CameraSettings
from detektor.services.detector.settings import DetectorSettings
from detektor.settings import ConfigError, Settings

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Backend(Protocol):
    name: str
    device: DeviceInfo

    def detect(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[list[RawDetection]]: ...


def _onnx(settings: DetectorSettings) -> Backend:
    from detektor.detection.onnx_backend import OnnxDetector

    return OnnxDetector(settings.detection_config())


log = logging.getLogger(__name__)

BACKENDS: dict[str, Callable[[DetectorSettings], Backend]] = {"onnx": _onnx}


class DetectorMetrics:
    def __init__(self, metrics: Metrics, backend: Backend) -> None:
        device = backend.device
        info = metrics.gauge(
            "detektor_detector_device_info",
            "The device the detector runs on (value 1); memory in bytes as a label-free gauge",
            ["provider", "device"],
        )
        info.labels(device.provider, device.name).set(1)
        if device.memory_bytes is not None:
            metrics.gauge(
                "detektor_detector_device_memory_bytes", "Memory of the inference device"
            ).set(device.memory_bytes)
        self.inference = metrics.histogram(
            "detektor_inference_duration_seconds",
            "Time of one inference call (a batch), pre- and post-processing included",
            ["model", "device"],
        ).labels(backend.name, device.kind)
        self.batch_size = metrics.histogram(
            "detektor_inference_batch_frames",
            "Frames per inference call",
            ["model"],
            buckets=BATCH_BUCKETS,
        ).labels(backend.name)
        self.frames = metrics.counter(
            "detektor_inference_frames_total", "Frames run through the model", ["model", "device"]
        ).labels(backend.name, device.kind)


class DetectorProcessor(Processor):
    name = "detector"

    def __init__(
        self, backend: Backend, cameras: Sequence[CameraSettings], metrics: DetectorMetrics
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.filters = {c.name: (set(c.labels) if c.labels else None, c.min_score) for c in cameras}

    def process(self, frames: Sequence[Frame]) -> list[Result]:
        started = time.perf_counter()
        found = self.backend.detect([f.image for f in frames])
        self.metrics.inference.observe(time.perf_counter() - started, exemplar=exemplar())
        self.metrics.batch_size.observe(len(frames))
        self.metrics.frames.inc(len(frames))
        return [
            self._keep(frame.message.camera, dets)
            for frame, dets in zip(frames, found, strict=True)
        ]

    def _keep(self, camera: str, detections: list[RawDetection]) -> Result:
        labels, min_score = self.filters.get(camera, (None, 0.4))
        kept = [
            dict(d)
            for d in detections
            if d["score"] >= min_score and (labels is None or d["label"] in labels)
        ]
        return Result(detections=kept)


def build_processor(
    settings: DetectorSettings, cameras: Sequence[CameraSettings], metrics: Metrics
) -> tuple[Processor, DeviceInfo | None]:
    """The configured processor, and the device it runs on (None for motion regions)."""
    if settings.type == "motion_regions":
        return MotionRegionsProcessor(), None
    backend = BACKENDS[settings.type](settings)
    return DetectorProcessor(backend, cameras, DetectorMetrics(metrics, backend)), backend.device


def load_processor(
    settings: Settings, kit: ServiceKit, cameras: Sequence[CameraSettings] | None = None
) -> tuple[Processor, DeviceInfo | None]:
    """The processor for a service (per-camera filters from ``cameras``, default the
    configured ones); a model that cannot be used is a ConfigError (exit 2), and the device
    it runs on is shown by /info."""
    from detektor.detection.onnx_backend import ModelError, OnnxDetector

    cams = settings.cameras if cameras is None else cameras
    try:
        processor, device = build_processor(settings.detector, cams, kit.metrics)
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(processor, DetectorProcessor) and isinstance(processor.backend, OnnxDetector):
        batch = settings.processor.batch_size
        took = processor.backend.warm_up(batch)
        log.info("detector warmed up with a batch of %d in %.2f s", batch, took)
    if device is not None:
        kit.device = device.summary()
    return processor, device
