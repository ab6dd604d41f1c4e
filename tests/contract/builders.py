"""Builders for the event store contract suite: frames on a fixed clock and valid events.

A plain module rather than conftest.py, since pytest advises against importing conftest."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

from detektor.adapters.objectkit import object_event
from detektor.domain.accounting import Accounting, account
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.object_projection import ObjectView, fold_objects
from detektor.domain.projection import FrameRow, row_from_view
from detektor.ports import AppendResult, AppendStatus, EventStore

E = EventType
T0 = datetime(2025, 11, 27, 14, 3, 7, 123000, tzinfo=UTC)
T0_MS = 1764252187123
assert FrameId("x", T0_MS, 0).captured_at == T0

VALID_DATA: Mapping[EventType, dict[str, object]] = {
    E.CAPTURED: {"width": 640, "height": 480, "pts": 9000, "source": "synthetic://"},
    E.SKIPPED: {"reason": "no_motion"},
    E.QUEUED: {"stream": "detektor:frames"},
    E.PROCESSING: {"processor": "yolox-s", "batch_id": "b-1"},
    E.PROCESSED: {
        "processor": "yolox-s",
        "duration_ms": 12.5,
        "detections": [{"label": "person", "score": 0.91, "box": [10, 20, 110, 220]}],
    },
    E.PUBLISHED: {"target": "mqtt"},
    E.COMPLETED: {},
    E.DROPPED: {"reason": "bus_full"},
    E.FAILED: {"stage": "detector", "error": "CUDA out of memory"},
}


def object_data(
    camera: str = "front-door", track_id: int = 1, **overrides: object
) -> dict[str, object]:
    """What `ObjectEvent.to_data` writes for a person seen by `camera`, as JSON."""
    data: dict[str, object] = {
        "object_id": f"{camera}:{T0_MS}:{track_id}",
        "track_id": track_id,
        "label": "person",
        "state": "active",
        "box": [10.0, 20.0, 110.0, 220.0],
        "score": 0.91,
        "top_score": 0.93,
        "median_score": 0.9,
        "first_seen": "2025-11-27T14:03:07.123000Z",
        "last_seen": "2025-11-27T14:03:07.123000Z",
        "zones": ["porch"],
        "best": None,
        "changes": [],
    }
    data.update(overrides)
    return data


# A frame's whole way through the pipeline, one event per millisecond.
COMPLETE = (E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PUBLISHED, E.COMPLETED)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def frame(seq: int = 1, camera: str = "front-door", at_ms: int = 0) -> FrameId:
    """A frame captured `at_ms` milliseconds after T0."""
    return FrameId(camera, T0_MS + at_ms, seq)


def event(
    event_type: EventType,
    frame_id: FrameId,
    at_ms: float | None = None,
    *,
    data: Mapping[str, object] | None = None,
    reason: str | None = None,
    trace_id: str | None = None,
) -> Envelope:
    """A valid event; by default it occurs at the frame's capture time."""
    payload = dict(VALID_DATA[event_type]) if data is None else dict(data)
    if reason is not None:
        payload["reason"] = reason
    when = frame_id.captured_at if at_ms is None else T0 + ms(at_ms)
    return Envelope.new(event_type, frame_id, payload, occurred_at=when, trace_id=trace_id)


def lifecycle(
    frame_id: FrameId,
    types: Iterable[EventType] = COMPLETE,
    *,
    start_ms: float | None = None,
    step_ms: float = 1,
    reason: str | None = None,
) -> list[Envelope]:
    """Events of `types` for one frame, `step_ms` apart, from its capture time by default;
    `reason` goes on the skip or drop among them."""
    start = (frame_id.captured_at - T0) / ms(1) if start_ms is None else start_ms
    return [
        event(
            t,
            frame_id,
            start + i * step_ms,
            reason=reason if t in (E.SKIPPED, E.DROPPED) else None,
        )
        for i, t in enumerate(types)
    ]


# --- objects ---------------------------------------------------------------------------


def life(
    track_id: int = 1,
    start_ms: int = 0,
    *,
    camera: str = "front-door",
    label: str = "person",
    zones: tuple[tuple[str, ...], ...] = (("porch",), ("porch", "drive"), ("drive",)),
    states: tuple[str, ...] = (),
    ended: bool = True,
) -> list[Envelope]:
    """One object's events in time order: started, then an update per further sighting (one
    frame 100 ms apart, each with its `zones` and a better score), then ended 1 s later."""
    object_id = f"{camera}:{T0_MS + start_ms}:{track_id}"
    first = T0 + ms(start_ms)
    events: list[Envelope] = []
    best: dict[str, object] | None = None
    for i, now_in in enumerate(zones):
        seen = frame(i + 1, camera, at_ms=start_ms + 100 * i)  # objects share frames
        score = round(0.5 + 0.1 * i, 2)
        box = [10.0 + i, 20.0, 110.0 + 3 * i, 220.0]
        if i % 2 == 0:
            best = {"frame_id": str(seen), "box": box, "score": score, "cut": False}
        data = {
            "object_id": object_id,
            "track_id": track_id,
            "label": label,
            "state": states[i] if i < len(states) else "active",
            "box": box,
            "score": score,
            "top_score": score,
            "median_score": round(0.5 + 0.05 * i, 3),
            "first_seen": first.isoformat(),
            "last_seen": seen.captured_at.isoformat(),
            "zones": list(now_in),
            "best": best,
            "changes": [{"kind": "entered_zone", "zone": z} for z in now_in],
        }
        kind = E.OBJECT_STARTED if i == 0 else E.OBJECT_UPDATED
        events.append(event(kind, seen, start_ms + 100 * i + 2, data=data))
    if ended:
        last = events[-1]
        data = {**dict(last.data), "state": "ended", "changes": []}
        at = (last.occurred_at - T0) / ms(1) + 1000
        events.append(event(E.OBJECT_ENDED, last.frame_id, at, data=data))
    return events


def folded(events: list[Envelope]) -> ObjectView:
    """`fold_objects` of one object's events."""
    views = fold_objects(object_event(e) for e in events)
    assert len(views) == 1
    return next(iter(views.values()))


def oid(events: list[Envelope]) -> str:
    return str(events[0].data["object_id"])


# --- assertions shared by the contract modules ---------------------------------------------

APPENDED, DUPLICATE, CONFLICT = AppendStatus.APPENDED, AppendStatus.DUPLICATE, AppendStatus.CONFLICT
MINUTE = timedelta(minutes=1)


def positions(results: list[AppendResult]) -> list[int]:
    found = [r.position for r in results]
    assert None not in found
    return cast(list[int], found)


def increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def whole_log(store: EventStore) -> list[tuple[int, Envelope]]:
    return store.read_log(0, 100_000)


def all_rows(store: EventStore) -> list[FrameRow]:
    return store.frame_rows(None, 100_000)


def folded_row(store: EventStore, frame_id: FrameId) -> FrameRow:
    view = store.frame(frame_id)
    assert view is not None, f"no events stored for {frame_id}"
    return row_from_view(view)


def reference_accounting(
    store: EventStore, camera: str, now: datetime, stale_after: timedelta
) -> Accounting:
    """What `domain.accounting.account` says over the folded timelines of the camera's frames."""
    views = [store.frame(row.frame_id) for row in all_rows(store) if row.camera == camera]
    return account(camera, [v.summary() for v in views if v is not None], now, stale_after)
