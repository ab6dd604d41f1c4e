"""Pipeline metrics shared by capture and processors (design §5)."""

from __future__ import annotations

from detektor.kit.metrics import Metrics

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PipelineMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.frames = metrics.counter(
            "detektor_frames_total",
            "Sampled frames by camera and lifecycle outcome (captured, skipped, queued, "
            "processed, completed, dropped, failed) with the reason where there is one",
            ["camera", "outcome", "reason"],
        )
        self.stage_duration = metrics.histogram(
            "detektor_stage_duration_seconds",
            "Time a stage spent on one frame or batch",
            ["stage"],
        )
        self.frame_latency = metrics.histogram(
            "detektor_frame_latency_seconds",
            "End-to-end latency of a frame, from capture to completion",
            ["camera"],
            buckets=LATENCY_BUCKETS,
        )
        self.bus_backlog = metrics.gauge(
            "detektor_bus_backlog_entries",
            "Frame-bus entries waiting (undelivered) or being processed (pending)",
            ["state"],
        )
        self.dead_letters = metrics.counter(
            "detektor_bus_dead_letters_total",
            "Frame-bus entries moved to the dead-letter stream, by stage",
            ["stage"],
        )

    def outcome(self, camera: str, outcome: str, reason: str = "") -> None:
        self.frames.labels(camera, outcome, reason).inc()
