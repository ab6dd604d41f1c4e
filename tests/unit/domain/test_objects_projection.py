"""The object projection folded from object events, and the events' `data` round trip."""

from __future__ import annotations

import json
import random

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.object_events import ObjectEvent, ObjectEventType, ObjectState
from detektor.domain.object_projection import advance_object, fold_objects
from detektor.domain.objects import ObjectLifecycle
from detektor.domain.zones import Zone

from .object_scenes import CAMERA, crossing, empty, events_of, feed, frame_at, person, standing

PORCH = Zone("porch", ((300, 250), (500, 250), (500, 480), (300, 480)))


def _scene_events() -> list[ObjectEvent]:
    """Two people: one walks through the porch, stops there 12 s and walks on; one crosses."""
    lifecycle = ObjectLifecycle(CAMERA, zones=[PORCH])
    walk_in = [[person(1, 100 + i * 12)] for i in range(20)]
    stop = standing(1, 340, frames=120)
    walk_on = [[person(1, 340 + i * 12)] for i in range(1, 20)]
    one = walk_in + stop + walk_on
    two = [[] for _ in range(60)] + crossing(track_id=2, frames=40, score=0.8)
    two += empty(len(one) - len(two))
    return events_of(feed(lifecycle, [a + b for a, b in zip(one, two, strict=True)] + empty(30)))


def test_the_fold_gives_each_object_its_state_scores_zones_and_best_frame() -> None:
    events = _scene_events()
    views = fold_objects(events)
    assert len(views) == 2
    first, second = sorted(views.values(), key=lambda v: v.first_seen)
    assert first.label == "person"
    assert first.state is ObjectState.ENDED
    assert first.first_seen == frame_at(0)[1]
    assert first.last_seen == frame_at(158)[1]
    assert first.ended_at == frame_at(178)[1]
    assert first.top_score == 0.9
    assert first.median_score == 0.9
    assert first.zones_entered == ("porch",)
    assert first.zones == ()
    own = [e for e in events if e.object_id == first.object_id]
    assert first.best == own[-1].best
    assert first.best_frame_id == own[-1].best.frame_id  # type: ignore[union-attr]
    assert first.events == len(own)
    assert first.frame_ids == tuple(e.frame_id for e in own)
    assert second.label == "person"
    assert second.top_score == 0.8
    assert second.zones_entered == ("porch",)
    assert second.first_seen == frame_at(60)[1]
    assert first.to_dict()["zones"] == ["porch"]
    assert first.to_dict()["state"] == "ended"


def test_the_fold_does_not_depend_on_arrival_order() -> None:
    events = _scene_events()
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert fold_objects(shuffled) == fold_objects(events)


def test_a_view_before_its_end_shows_the_object_live() -> None:
    events = _scene_events()
    object_id = events[0].object_id
    own = [e for e in events if e.object_id == object_id]
    view = None
    for event in own[:-1]:
        view = advance_object(view, event)
    assert view is not None
    assert view.state is ObjectState.ACTIVE
    assert view.ended_at is None
    stationary = [e for e in own if e.state is ObjectState.STATIONARY]
    assert stationary


def test_an_update_after_the_end_does_not_revive_the_object() -> None:
    events = _scene_events()
    own = [e for e in events if e.object_id == events[0].object_id]
    view = None
    for event in [*own, own[1]]:
        view = advance_object(view, event)
    assert view is not None
    assert view.state is ObjectState.ENDED


def test_events_survive_a_trip_through_json() -> None:
    for event in _scene_events():
        data = json.loads(json.dumps(event.to_data()))
        assert ObjectEvent.from_data(event.type, event.frame_id, event.at, data) == event


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"label": None}, "data.label"),
        ({"state": "parked"}, "data.state"),
        ({"box": [5, 0, 1, 1]}, "data.box"),
        ({"score": 1.5}, "data.score"),
        ({"zones": ["Front Porch"]}, "data.zones"),
        ({"changes": [{"kind": "teleported"}]}, "data.changes[].kind"),
        ({"changes": [{"kind": ["stationary"]}]}, "data.changes[].kind"),
        (
            {"best": {"frame_id": "x", "box": [0, 0, 1, 1], "score": 1, "cut": False}},
            "data.best.frame_id",
        ),
        (
            {"best": {"frame_id": "front-door:1:000001", "box": [0, 0, 1, 1], "score": 1}},
            "data.best.cut",
        ),
        ({"first_seen": "yesterday"}, "data.first_seen"),
    ],
)
def test_malformed_data_is_refused_with_the_field_named(
    change: dict[str, object], field: str
) -> None:
    event = _scene_events()[0]
    data = {**event.to_data(), **change}
    with pytest.raises(ValidationError) as caught:
        ObjectEvent.from_data(event.type, event.frame_id, event.at, data)
    assert caught.value.field == field


def test_missing_data_is_refused() -> None:
    event = _scene_events()[0]
    data = event.to_data()
    del data["object_id"]
    with pytest.raises(ValidationError, match="required"):
        ObjectEvent.from_data(ObjectEventType.STARTED, event.frame_id, event.at, data)
