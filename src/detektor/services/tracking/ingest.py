"""Turning outside input into stored events: validation, the append, and per-event answers.

HTTP batches and stream entries both come through here, so both validate the same way and
count the same metrics. One bad event never costs the others: invalid ones are answered
``rejected`` with the field at fault, the rest are appended in one transaction. When the store
itself refuses a batch for its data (a value PostgreSQL or SQLite cannot hold, a constraint),
the batch is split in halves until the refused events are found: they are answered
``rejected`` with the store's reason and every other event is stored, in order. Connection
and other errors propagate, for the caller to retry the whole batch.
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
from detektor.kit.transient import is_transient
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


# SQLSTATE classes that say "this data", not "this connection": data exception,
# integrity constraint violation, program limit exceeded (a value too big or too deep).
_DATA_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
_DATA_ERROR_NAMES = frozenset({"DataError", "IntegrityError"})  # DB-API, psycopg and sqlite3


def is_rejection(exc: BaseException) -> bool:
    """Whether the store refused the data itself, so retrying the same events cannot help."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        # Before the transient test: psycopg files "program limit exceeded" (a value too
        # big for an index, JSON too deep) under OperationalError, like a lost connection.
        return sqlstate[:2] in _DATA_SQLSTATE_CLASSES
    if is_transient(exc):
        return False
    if isinstance(exc, ValueError | OverflowError | RecursionError):
        return True  # encoding the value failed: a lone surrogate, an int beyond 64 bits
    return any(cls.__name__ in _DATA_ERROR_NAMES for cls in type(exc).__mro__)


def parse(raw: object) -> Envelope | Outcome:
    """An envelope, or the rejection saying which field is wrong and why."""
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    try:
        return Envelope.from_dict(raw)
    except ValidationError as exc:
        reason, field = f"{exc.field}: {exc.message}", exc.field
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Validation should name the field; whatever slips past it still rejects one event.
        reason, field = f"envelope: {type(exc).__name__}: {exc}", "envelope"
    return Outcome(
        event_id=event_id if isinstance(event_id, str) else None,
        status="rejected",
        reason=reason,
        field=field,
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
        appended = await self.split_append(valid, source, checkpoint) if valid or checkpoint else []
        stored = iter(appended)
        return [p if isinstance(p, Outcome) else next(stored) for p in parsed]

    async def split_append(
        self, events: Sequence[Envelope], source: str, checkpoint: Checkpoint | None
    ) -> list[Outcome]:
        """``append``; when the store refuses the data, halve the batch to find which events
        it refuses. The checkpoint travels with the last half, so it is committed last."""
        try:
            return await self.append(events, source, checkpoint)
        except Exception as exc:
            if not events or not is_rejection(exc):
                raise
            if len(events) > 1:
                mid = len(events) // 2
                first = await self.split_append(events[:mid], source, None)
                return first + await self.split_append(events[mid:], source, checkpoint)
            if checkpoint is not None:
                await self.append([], source, checkpoint)
            return [self._refused(events[0], source, exc)]

    def _refused(self, envelope: Envelope, source: str, exc: Exception) -> Outcome:
        self.metrics.rejected.labels(source, "store").inc()
        # psycopg's text adds DETAIL and CONTEXT lines, the latter quoting the data itself.
        text = " ".join(str(exc).split())[:300]
        reason = f"refused by the store: {type(exc).__name__}: {text}"
        log.warning("event %s %s", envelope.event_id, reason)
        return Outcome(event_id=str(envelope.event_id), status="rejected", reason=reason)

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
