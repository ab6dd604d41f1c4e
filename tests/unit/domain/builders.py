"""Builders shared by the domain tests: a fixed clock and valid data for every event type.

A plain module rather than conftest.py, since pytest advises against importing conftest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId

T0 = datetime(2025, 11, 27, 14, 3, 7, 123000, tzinfo=UTC)
FRAME = FrameId("front-door", 1764252187123, 42)


def object_data(camera: str = "front-door", **overrides: object) -> dict[str, object]:
    """What `ObjectEvent.to_data` writes for a person seen by `camera`, as JSON."""
    data: dict[str, object] = {
        "object_id": f"{camera}:1764252187123:1",
        "track_id": 1,
        "label": "person",
        "state": "active",
        "box": [10.0, 20.0, 110.0, 220.0],
        "score": 0.91,
        "top_score": 0.93,
        "median_score": 0.9,
        "first_seen": "2025-11-27T14:03:07.123000Z",
        "last_seen": "2025-11-27T14:03:07.123000Z",
        "zones": ["porch"],
        "best": {
            "frame_id": f"{camera}:1764252187123:000042",
            "box": [10.0, 20.0, 110.0, 220.0],
            "score": 0.93,
            "cut": False,
        },
        "changes": [{"kind": "entered_zone", "zone": "porch"}],
    }
    data.update(overrides)
    return data


VALID_DATA: Mapping[EventType, dict[str, object]] = {
    EventType.CAPTURED: {"width": 640, "height": 480, "pts": 9000, "source": "synthetic://"},
    EventType.SKIPPED: {"reason": "no_motion"},
    EventType.QUEUED: {"stream": "detektor:frames"},
    EventType.PROCESSING: {"processor": "yolox-s", "batch_id": "b-1"},
    EventType.PROCESSED: {
        "processor": "yolox-s",
        "duration_ms": 12.5,
        "detections": [{"label": "person", "score": 0.91, "box": [10, 20, 110, 220]}],
    },
    EventType.PUBLISHED: {"target": "mqtt"},
    EventType.COMPLETED: {},
    EventType.DROPPED: {"reason": "bus_full"},
    EventType.FAILED: {"stage": "detector", "error": "CUDA out of memory"},
    EventType.OBJECT_STARTED: object_data(),
    EventType.OBJECT_UPDATED: object_data(state="stationary", changes=[{"kind": "stationary"}]),
    EventType.OBJECT_ENDED: object_data(state="ended", changes=[]),
}


def make_event(
    event_type: EventType,
    at_ms: float = 0,
    data: Mapping[str, object] | None = None,
    *,
    frame: FrameId = FRAME,
    trace_id: str | None = None,
) -> Envelope:
    """A valid event `at_ms` milliseconds after T0."""
    return Envelope.new(
        event_type,
        frame,
        dict(VALID_DATA[event_type]) if data is None else data,
        occurred_at=T0 + timedelta(milliseconds=at_ms),
        trace_id=trace_id,
    )
