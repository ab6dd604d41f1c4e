"""The recordings metrics capture exposes: what the index keeps, what retention deletes, the
free space of the recordings volume, and per camera whether recording keeps up and the gaps
in it."""

from __future__ import annotations

from detektor.kit.metrics import Metrics


class RecordingMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.bytes = metrics.gauge(
            "detektor_recording_bytes", "Bytes of footage in the recording index", ["camera"]
        )
        self.segments = metrics.gauge(
            "detektor_recording_segments", "Segments in the recording index", ["camera"]
        )
        self.deleted = metrics.counter(
            "detektor_recording_deleted_segments_total",
            "Segments deleted by retention, by reason (age, objects_age, disk_low, max_bytes)",
            ["reason"],
        )
        self.free_bytes = metrics.gauge(
            "detektor_recording_free_bytes", "Free bytes on the recordings volume"
        )
        self.min_free_bytes = metrics.gauge(
            "detektor_recording_min_free_bytes", "The configured free-space floor"
        )
        self.last_segment = metrics.gauge(
            "detektor_recording_last_segment_timestamp_seconds",
            "Unix time at which the camera's last segment closed",
            ["camera"],
        )
        self.segment_s = metrics.gauge(
            "detektor_recording_segment_seconds", "The camera's configured segment_s", ["camera"]
        )
        self.stalled = metrics.gauge(
            "detektor_recording_stalled",
            "1 while the camera's recorder cannot write (disk error) or is paused",
            ["camera"],
        )
        self.paused = metrics.gauge(
            "detektor_recording_paused",
            "1 while recording is paused because the free-space floor cannot be met",
        )
        self.index_failures = metrics.counter(
            "detektor_recording_index_failures_total",
            "Failed writes to the recording index (each is retried)",
        )
        self.index_backlog = metrics.gauge(
            "detektor_recording_index_backlog", "Closed segments and spans waiting to be indexed"
        )
        self.gaps = metrics.counter(
            "detektor_recording_gaps_total",
            "Gaps between a camera's segments, by reason (reconnect, stalled)",
            ["camera", "reason"],
        )
        self.gap_seconds = metrics.counter(
            "detektor_recording_gap_seconds_total",
            "Seconds not recorded between a camera's segments, by reason",
            ["camera", "reason"],
        )
        self.sweep_failures = metrics.counter(
            "detektor_recording_sweep_failures_total", "Retention sweeps that failed"
        )
