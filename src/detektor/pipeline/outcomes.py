"""What a batch that was processed leaves behind: the events that record its outcome
(``frame.processed``, and ``frame.completed`` at the last stage) and its count in the
metrics (outcomes, end-to-end latency).

``ProcessorRunner`` builds the events before the results go onward and counts only once
they are emitted and the frames acknowledged; the order is its business, not this module's.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from datetime import datetime

from detektor.domain.events import Envelope, EventType
from detektor.pipeline.decoding import Frame
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processing import Result


def outcome_events(
    processor: str,
    frames: list[Frame],
    results: list[Result],
    elapsed: float,
    *,
    last_stage: bool,
) -> list[Envelope]:
    """One ``frame.processed`` per frame (the batch's time shared out evenly), each followed
    by ``frame.completed`` when this is the last stage."""
    events = []
    per_frame_ms = round(elapsed * 1000 / len(frames), 3)
    for frame, result in zip(frames, results, strict=True):
        msg = frame.message
        events.append(
            lifecycle_event(
                EventType.PROCESSED,
                msg.frame_id,
                {
                    "processor": processor,
                    "duration_ms": per_frame_ms,
                    "detections": result.detections,
                },
            )
        )
        if last_stage:
            events.append(lifecycle_event(EventType.COMPLETED, msg.frame_id))
    return events


def count_outcomes(
    metrics: PipelineMetrics,
    frames: list[Frame],
    finished: datetime,
    latencies: MutableSequence[float],
    *,
    last_stage: bool,
) -> None:
    """Count the frames as processed; at the last stage also as completed, with their
    latency from capture to `finished` observed and appended to `latencies`."""
    for frame in frames:
        msg = frame.message
        metrics.outcome(msg.camera, "processed")
        if last_stage:
            metrics.outcome(msg.camera, "completed")
            latency = max((finished - msg.captured_at).total_seconds(), 0.0)
            metrics.frame_latency.labels(msg.camera).observe(latency)
            latencies.append(latency)
