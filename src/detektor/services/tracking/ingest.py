"""Turning outside input into stored events: validation, the append, and per-event answers.

HTTP batches and stream entries both come through here, so both validate the same way and
count the same metrics. One bad event never costs the others: invalid ones are answered
``rejected`` with the field at fault, the rest are appended in one transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from anyio import to_thread

from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.kit.metrics import exemplar
from detektor.ports import AppendStatus, Checkpoint, EventStore
from detektor.services.tracking.metrics import TrackingMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer for one submitted event, in the API's shape."""

    event_id: str | None
    status: str  # appended | duplicate | rejected
    reason: str | None = None
    field: str | None = None
    position: int | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"event_id": self.event_id, "status": self.status}
        for key in ("reason", "field", "position"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def parse(raw: object) -> Envelope | Outcome:
    """An envelope, or the rejection saying which field is wrong and why."""
    try:
        return Envelope.from_dict(raw)
    except ValidationError as exc:
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        return Outcome(
            event_id=event_id if isinstance(event_id, str) else None,
            status="rejected",
            reason=f"{exc.field}: {exc.message}",
            field=exc.field,
        )


class Ingestor:
    def __init__(self, store: EventStore, metrics: TrackingMetrics) -> None:
        self.store = store
        self.metrics = metrics

    async def ingest(
        self, raw_events: Sequence[object], source: str, checkpoint: Checkpoint | None = None
    ) -> list[Outcome]:
        parsed = [parse(raw) for raw in raw_events]
        valid = [p for p in parsed if isinstance(p, Envelope)]
        for p in parsed:
            if isinstance(p, Outcome):
                self.metrics.rejected.labels(source, p.field or "envelope").inc()
        stored = iter(await self.append(valid, source, checkpoint) if valid or checkpoint else [])
        return [p if isinstance(p, Outcome) else next(stored) for p in parsed]

    async def append(
        self, events: Sequence[Envelope], source: str, checkpoint: Checkpoint | None
    ) -> list[Outcome]:
        """Store valid envelopes in one transaction; one outcome per envelope, in order."""
        start = time.perf_counter()
        results = await to_thread.run_sync(lambda: self.store.append(events, checkpoint=checkpoint))
        self.metrics.append_duration.labels(source).observe(
            time.perf_counter() - start, exemplar=exemplar()
        )
        outcomes = []
        for envelope, result in zip(events, results, strict=True):
            if result.status is AppendStatus.APPENDED:
                self.metrics.appended.labels(envelope.type.value).inc()
            elif result.status is AppendStatus.DUPLICATE:
                self.metrics.duplicates.labels(source).inc()
            if result.anomaly is not None:
                self.metrics.anomalies.labels(envelope.camera).inc()
                log.warning(
                    "anomaly on %s: %s",
                    envelope.frame_id,
                    result.anomaly,
                    extra={"frame_id": str(envelope.frame_id), "event_type": envelope.type.value},
                )
            outcomes.append(
                Outcome(
                    event_id=str(envelope.event_id),
                    status=result.status.value,
                    reason=result.reason,
                    position=result.position,
                )
            )
        return outcomes
