"""Building lifecycle events inside the current span, so each stores its trace context."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from opentelemetry import trace

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId


def lifecycle_event(
    type: EventType,
    frame_id: FrameId,
    data: Mapping[str, object] | None = None,
    occurred_at: datetime | None = None,
    span: trace.Span | None = None,
) -> Envelope:
    """An event for ``frame_id`` carrying the trace and span ids of ``span`` (default: the
    current span), or none when nothing is being traced."""
    ctx = (span or trace.get_current_span()).get_span_context()
    trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
    span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
    return Envelope.new(type, frame_id, data, occurred_at, trace_id=trace_id, span_id=span_id)
