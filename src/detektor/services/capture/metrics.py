"""The capture service's per-camera metrics."""

from __future__ import annotations

from detektor.kit.metrics import Metrics


class CaptureMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.up = metrics.gauge(
            "detektor_camera_up", "1 while the camera delivers frames, 0 otherwise", ["camera"]
        )
        self.reconnects = metrics.counter(
            "detektor_camera_reconnects_total",
            "Reconnect attempts after a camera failed, stalled or ended",
            ["camera"],
        )
        self.decoded = metrics.counter(
            "detektor_frames_decoded_total",
            "Frames decoded from the camera, sampled or not",
            ["camera"],
        )
        self.target_fps = metrics.gauge(
            "detektor_camera_target_fps", "The camera's configured detect_fps", ["camera"]
        )
        self.fps = metrics.gauge(
            "detektor_camera_fps",
            "Frames per second over the last few seconds, decoded and sampled",
            ["camera", "kind"],
        )
