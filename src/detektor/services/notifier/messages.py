"""The event messages Home Assistant gets, in Frigate's shape, and their trace context.

One message per object lifecycle change, on ``<state>/events`` and
``<state>/<camera>/events``, not retained::

    {"type": "new" | "update" | "end", "before": {...} | null, "after": {...}}

``after`` is the object now; ``before`` the ``after`` sent last time (null for the first
message). Times come twice: ``start_time``/``end_time`` as epoch seconds (floats, as
Frigate sends them, for templates doing arithmetic) and ``started_at``/``ended_at``/
``last_seen`` as RFC 3339. ``snapshot_url`` is a signed link to the object's best snapshot,
null when there is no snapshot or no way to sign one.

The MQTT 5 user property ``traceparent`` (W3C trace-context-mqtt) carries the object
event's own trace context (the frame it was seen in), through a short producer span when
tracing is on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from detektor.domain.events import Envelope, EventType
from detektor.domain.fields import format_timestamp
from detektor.domain.frames import FrameId
from detektor.domain.object_events import ChangeKind, ObjectEvent, ObjectEventType, ObjectState
from detektor.kit.tracecontext import extract_context, inject_fields
from detektor.pipeline.events import lifecycle_event
from detektor.services.notifier.objects import Verdict
from detektor.services.notifier.snapshots import Link, clip_path, snapshot_path

tracer = trace.get_tracer("detektor.notifier")


def object_event(envelope: Envelope) -> ObjectEvent:
    """The ObjectEvent an (already validated) ``object.*`` envelope carries."""
    return ObjectEvent.from_data(
        ObjectEventType(envelope.type.value), envelope.frame_id, envelope.occurred_at, envelope.data
    )


def after_of(
    event: ObjectEvent,
    envelope: Envelope,
    entered: tuple[str, ...],
    snapshots: bool,
    link: Link | None,
    recorded: bool = False,
) -> dict[str, object]:
    """The object as the event shows it; ``recorded``: its camera is recorded, so it has a
    clip (cut when asked, from ``pre_s`` before it to ``post_s`` after it)."""
    ended = event.type is ObjectEventType.ENDED
    has_snapshot = snapshots and event.best is not None
    url = link(snapshot_path(event.object_id)) if has_snapshot and link is not None else None
    clip = link(clip_path(event.object_id)) if recorded and link is not None else None
    zones = [] if ended else list(event.zones)
    return {
        "id": event.object_id,
        "camera": event.camera,
        "label": event.label,
        "state": event.state.value,
        "stationary": event.state is ObjectState.STATIONARY,
        "active": event.state is ObjectState.ACTIVE,
        "score": event.score,
        "top_score": event.top_score,
        "median_score": event.median_score,
        "box": list(event.box),
        "zones": zones,
        "current_zones": zones,
        "entered_zones": list(entered),
        "start_time": event.first_seen.timestamp(),
        "end_time": event.at.timestamp() if ended else None,
        "started_at": format_timestamp(event.first_seen),
        "ended_at": format_timestamp(event.at) if ended else None,
        "last_seen": format_timestamp(event.last_seen),
        "frame_id": str(event.frame_id),
        "trace_id": envelope.trace_id,
        "has_snapshot": has_snapshot,
        "snapshot_url": url,
        "has_clip": recorded,
        "clip_url": clip,
        "changes": [c.to_dict() for c in event.changes],
    }


def event_message(
    verdict: Verdict,
    envelope: Envelope,
    event: ObjectEvent,
    snapshots: bool,
    link: Link | None,
    recorded: bool = False,
) -> tuple[str, dict[str, object]]:
    """(the JSON message, its ``after``) for an event the book decided to send."""
    assert verdict.kind is not None
    assert verdict.tracked is not None
    after = after_of(event, envelope, verdict.tracked.entered, snapshots, link, recorded)
    body = {"type": verdict.kind, "before": verdict.before, "after": after}
    return json.dumps(body), after


def frame_events(
    frame_id: FrameId, events: int, filtered: list[dict[str, object]], topic: str
) -> list[Envelope]:
    """The frame's lifecycle events: ``frame.published`` when at least one event message went
    out, then always ``frame.completed``, listing the object events not sent and why."""
    out = []
    if events:
        data = {"target": "mqtt", "events": events, "topic": topic}
        out.append(lifecycle_event(EventType.PUBLISHED, frame_id, data))
    done = {"stage": "notifier", "published": events, "filtered": filtered}
    out.append(lifecycle_event(EventType.COMPLETED, frame_id, done))
    return out


def better_snapshot(event: ObjectEvent) -> bool:
    return any(c.kind is ChangeKind.SNAPSHOT for c in event.changes)


@contextmanager
def traced(name: str, traceparent: str | None, frame_id: FrameId) -> Iterator[str | None]:
    """A producer span under the frame's context; yields the traceparent for its messages
    (the span's when tracing is on, else the frame's own)."""
    parent = extract_context({"traceparent": traceparent or ""})
    with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.PRODUCER) as span:
        span.set_attribute("detektor.frame.id", str(frame_id))
        span.set_attribute("detektor.camera", frame_id.camera)
        span.set_attribute("messaging.system", "mqtt")
        carrier: dict[str, str] = {}
        inject_fields(carrier)
        yield carrier.get("traceparent") or traceparent


def object_traceparent(envelope: Envelope, fallback: str | None) -> str | None:
    """The traceparent of an object event's message: from the envelope's trace and span ids
    (the frame's flags when it is the frame's trace, else sampled), else ``fallback``."""
    if envelope.trace_id is None or envelope.span_id is None:
        return fallback
    flags = "01"
    if fallback is not None and fallback.count("-") == 3:
        _, trace_id, _, frame_flags = fallback.split("-")
        if trace_id == envelope.trace_id:
            flags = frame_flags
    raw = f"00-{envelope.trace_id}-{envelope.span_id}-{flags}"
    with traced("publish object mqtt", raw, envelope.frame_id) as traceparent:
        trace.get_current_span().set_attribute("detektor.object.event", envelope.type.value)
        return traceparent
