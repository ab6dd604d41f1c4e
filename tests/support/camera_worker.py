"""A capture camera worker on in-memory parts, for tests that run one camera's loop."""

from __future__ import annotations

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings


def memory_camera_worker(
    camera: CameraSettings, *, send_images: bool = False
) -> tuple[CameraWorker, Metrics, Liveness]:
    """The worker, its metrics registry and its liveness, on a memory bus and event sink."""
    metrics = Metrics("capture", "test")
    liveness = Liveness()
    worker = CameraWorker(
        camera,
        MemoryFrameBus(),
        MemoryEventSink(),
        CaptureMetrics(metrics),
        PipelineMetrics(metrics),
        liveness,
        send_images=send_images,
    )
    return worker, metrics, liveness
