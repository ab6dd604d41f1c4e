"""Object events (`object.*`) as envelopes: their data is what the tracker writes, and they sit
beside a frame's lifecycle without moving it."""

from __future__ import annotations

import json
import random

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.events import OBJECT_EVENT_TYPES, Envelope, EventType
from detektor.domain.geometry import Box
from detektor.domain.object_events import ObjectEvent, ObjectEventType, ObjectState
from detektor.domain.projection import row_from_view
from detektor.domain.timeline import fold, view_of

from .builders import FRAME, T0, make_event, object_data

E = EventType
COMPLETE = (E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PUBLISHED, E.COMPLETED)


def lifecycle() -> list[Envelope]:
    return [make_event(t, i) for i, t in enumerate(COMPLETE)]


def raw(event_type: EventType = E.OBJECT_STARTED, **data: object) -> dict[str, object]:
    return {
        **make_event(event_type).to_dict(),
        "data": object_data(**data),
    }


def test_the_tracker_s_own_events_are_valid_envelopes() -> None:
    box: Box = (1.0, 2.0, 30.0, 40.0)
    sighting = ObjectEvent(
        type=ObjectEventType.ENDED,
        object_id=f"{FRAME.camera}:{FRAME.captured_ms}:7",
        camera=FRAME.camera,
        frame_id=FRAME,
        at=T0,
        track_id=7,
        label="car",
        state=ObjectState.ENDED,
        box=box,
        score=0.5,
        top_score=0.8,
        median_score=0.6,
        first_seen=T0,
        last_seen=T0,
        zones=(),
        best=None,
    )
    envelope = Envelope.new(E(sighting.type.value), FRAME, sighting.to_data(), occurred_at=T0)
    assert envelope.is_object_event
    again = Envelope.from_dict(json.loads(json.dumps(envelope.to_dict())))
    assert again == envelope
    assert ObjectEvent.from_data(sighting.type, FRAME, T0, again.data) == sighting


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"object_id": 3}, "data.object_id"),
        ({"label": None}, "data.label"),
        ({"box": [10, 20, 5, 220]}, "data.box"),
        ({"score": 1.5}, "data.score"),
        ({"state": "asleep"}, "data.state"),
        ({"zones": ["Not A Zone!"]}, "data.zones"),
        ({"first_seen": "yesterday"}, "data.first_seen"),
        ({"changes": [{"kind": "teleported"}]}, "data.changes[].kind"),
        ({"best": {"frame_id": "x", "box": [0, 0, 1, 1], "score": 0.5, "cut": False}}, None),
    ],
)
def test_malformed_object_data_is_refused_naming_the_field(
    data: dict[str, object], field: str | None
) -> None:
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(raw(**data))
    if field is not None:
        assert info.value.field == field
    else:
        assert info.value.field.startswith("data.best")


@pytest.mark.parametrize("name", ["object_id", "track_id", "box", "score", "zones", "best"])
def test_a_missing_object_field_is_named(name: str) -> None:
    broken = raw()
    data = broken["data"]
    assert isinstance(data, dict)
    del data[name]
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(broken)
    assert (info.value.field, info.value.message) == (f"data.{name}", "is required")


def test_an_object_of_another_camera_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(raw(object_id="back-yard:1764252187123:1"))
    assert info.value.field == "data.object_id"
    assert "camera 'front-door'" in info.value.message


def test_object_events_leave_the_frame_as_it_was_and_are_listed() -> None:
    frame_only = lifecycle()
    started = make_event(E.OBJECT_STARTED, 3)
    # After frame.completed: the tracker runs behind the pipeline, and that is no anomaly.
    ended = make_event(E.OBJECT_ENDED, 500, object_data(track_id=2, label="car"))
    plain = fold(enumerate(frame_only, start=1))
    mixed = fold(enumerate([*frame_only, started, ended], start=1))
    assert row_from_view(mixed) == row_from_view(plain)
    as_dict, before = mixed.to_dict(), plain.to_dict()
    objects = as_dict.pop("objects")
    assert before.pop("objects") == []
    assert as_dict == before
    assert objects == [
        {
            "object_id": "front-door:1764252187123:1",
            "type": "object.started",
            "label": "person",
            "score": 0.91,
            "box": [10.0, 20.0, 110.0, 220.0],
            "zones": ["porch"],
            "occurred_at": "2025-11-27T14:03:07.126000Z",
        },
        {
            "object_id": "front-door:1764252187123:1",
            "type": "object.ended",
            "label": "car",
            "score": 0.91,
            "box": [10.0, 20.0, 110.0, 220.0],
            "zones": ["porch"],
            "occurred_at": "2025-11-27T14:03:07.623000Z",
        },
    ]


def test_arrival_order_does_not_change_the_view() -> None:
    events = [
        *lifecycle(),
        make_event(E.OBJECT_STARTED, -5),  # a skewed clock: before the capture
        make_event(E.OBJECT_UPDATED, 4, object_data(state="stationary")),
    ]
    numbered = list(enumerate(events, start=1))
    expected = fold(numbered).to_dict()
    rng = random.Random(13)
    for _ in range(50):
        rng.shuffle(numbered)
        first = next(i for i, (_, e) in enumerate(numbered) if not e.is_object_event)
        view = fold([numbered[first]])
        for position, envelope in numbered:
            view.add(position, envelope)
        assert view.to_dict() == {**expected, "events": view.to_dict()["events"]}
        assert view.objects == expected["objects"]
        assert row_from_view(view) == row_from_view(fold(numbered))


def test_object_events_alone_make_no_frame() -> None:
    alone = [(1, make_event(E.OBJECT_STARTED)), (2, make_event(E.OBJECT_UPDATED))]
    assert view_of(alone) is None
    with pytest.raises(ValueError, match="at least one event"):
        fold(alone)


def test_a_duplicate_object_event_is_listed_once() -> None:
    started = make_event(E.OBJECT_STARTED, 2)
    view = fold(enumerate(lifecycle(), start=1))
    view.add(10, started)
    view.add(11, started)
    view.apply(12, started)
    assert len(view.objects) == 1


def test_every_object_type_is_an_object_event() -> None:
    assert {t.value for t in OBJECT_EVENT_TYPES} == {t.value for t in ObjectEventType}
    for t in OBJECT_EVENT_TYPES:
        assert make_event(t).is_object_event
    assert not make_event(E.CAPTURED).is_object_event
