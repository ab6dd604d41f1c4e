"""The notifier's Prometheus metrics (all ``detektor_notifier_*``)."""

from __future__ import annotations

from detektor.kit.metrics import Metrics

# Publishing is a broker round trip: sub-millisecond on a LAN, so finer buckets at the low end.
PUBLISH_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
END_TO_END_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
KINDS = ("discovery", "availability", "state", "event", "image")


class NotifierMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.messages = metrics.counter(
            "detektor_notifier_messages_total",
            "MQTT messages the broker acknowledged, by kind (discovery, availability, state, "
            "event, image)",
            ["kind"],
        )
        for kind in KINDS:
            self.messages.labels(kind)
        self.publish_duration = metrics.histogram(
            "detektor_notifier_publish_duration_seconds",
            "From reading a frame's entry to the broker's acknowledgement of every message it "
            "caused",
            buckets=PUBLISH_BUCKETS,
        )
        self.end_to_end = metrics.histogram(
            "detektor_notifier_end_to_end_seconds",
            "From a frame's capture to the broker's acknowledgement of its object events",
            ["camera"],
            buckets=END_TO_END_BUCKETS,
        )
        self.connected = metrics.gauge(
            "detektor_notifier_connected",
            "1 while connected to the MQTT broker, else 0",
        )
        self.connections = metrics.counter(
            "detektor_notifier_connections_total",
            "Successful connections to the MQTT broker (the first and every reconnect)",
        )
        self.filtered = metrics.counter(
            "detektor_notifier_filtered_total",
            "Object events not sent, by camera and reason (stale, label_not_configured, "
            "below_min_score, outside_required_zones, never_announced, duplicate, after_end)",
            ["camera", "reason"],
        )
        self.dead_letters = metrics.counter(
            "detektor_notifier_dead_letters_total",
            "Stream entries that could not be used, moved to the dead-letter stream",
        )
        self.consumer_lag = metrics.gauge(
            "detektor_notifier_consumer_lag_entries",
            "Detection-stream entries not yet read by the notifier group",
        )
