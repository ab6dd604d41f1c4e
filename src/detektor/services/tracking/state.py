"""What the tracking service's routes and workers share at run time."""

from __future__ import annotations

from dataclasses import dataclass

from detektor.ports import EventStore
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.settings import TrackingSettings


@dataclass
class TrackingState:
    settings: TrackingSettings
    store: EventStore
    metrics: TrackingMetrics
    ingestor: Ingestor
    jaeger_ui_url: str | None = None
    # When retention last ran (event-loop time): kept here, not in the jobs loop, so that a
    # restarted loop does not purge again at once.
    last_purge: float | None = None

    def trace_url(self, trace_id: str | None) -> str | None:
        """A link to the frame's trace in the Jaeger UI, when both are known."""
        if not (trace_id and self.jaeger_ui_url):
            return None
        return f"{self.jaeger_ui_url.rstrip('/')}/trace/{trace_id}"
