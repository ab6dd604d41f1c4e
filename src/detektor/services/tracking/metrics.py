"""The tracking service's Prometheus metrics."""

from __future__ import annotations

from detektor.domain.accounting import Accounting
from detektor.kit.metrics import Metrics


class TrackingMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.appended = metrics.counter(
            "detektor_tracking_events_appended_total", "Lifecycle events stored, by type", ["type"]
        )
        self.duplicates = metrics.counter(
            "detektor_tracking_events_duplicate_total",
            "Events received again (same event_id) and ignored",
            ["source"],
        )
        self.rejected = metrics.counter(
            "detektor_tracking_events_rejected_total",
            "Events refused as invalid, by source and the field at fault",
            ["source", "field"],
        )
        self.anomalies = metrics.counter(
            "detektor_tracking_anomalies_total",
            "Stored events that contradict the frame state machine",
            ["camera"],
        )
        self.append_duration = metrics.histogram(
            "detektor_tracking_append_duration_seconds",
            "Time to store one batch of events with its projections",
            ["source"],
        )
        self.dead_letters = metrics.counter(
            "detektor_tracking_dead_letters_total",
            "Stream entries moved to the dead-letter stream",
        )
        self.consumer_lag = metrics.gauge(
            "detektor_tracking_consumer_lag_entries",
            "Entries in the events stream not yet delivered to the tracking group",
        )
        self.consumer_pending = metrics.gauge(
            "detektor_tracking_consumer_pending_entries",
            "Entries delivered to the tracking group but not yet acknowledged",
        )
        self.frames = metrics.gauge(
            "detektor_accounting_frames",
            "Frames per camera by outcome (captured, completed, skipped, dropped, failed, "
            "in_flight, stale), from the event store",
            ["camera", "outcome", "reason"],
        )
        self.imbalance = metrics.gauge(
            "detektor_accounting_imbalance_frames",
            "captured - (completed + skipped + dropped + failed + in_flight); 0 when balanced",
            ["camera"],
        )

    def publish_accounting(self, acc: Accounting) -> None:
        cam = acc.camera
        for outcome, count in (
            ("captured", acc.captured),
            ("completed", acc.completed),
            ("failed", acc.failed),
            ("in_flight", acc.in_flight),
            ("stale", acc.stale),
        ):
            self.frames.labels(cam, outcome, "").set(count)
        for outcome, by_reason in (("skipped", acc.skipped), ("dropped", acc.dropped)):
            for reason, count in by_reason.items():
                self.frames.labels(cam, outcome, reason).set(count)
        self.imbalance.labels(cam).set(acc.imbalance)
