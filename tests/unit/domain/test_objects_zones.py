"""Zones on scripted scenes (inertia, flicker, leaving, loitering), the counts of objects now,
and the geometry beneath them."""

from __future__ import annotations

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.geometry import bottom_centre, contains, cut_by_edge, iou
from detektor.domain.object_events import ChangeKind, ObjectEventType, ObjectState
from detektor.domain.object_projection import StateCount, count_objects
from detektor.domain.objects import ObjectLifecycle
from detektor.domain.zones import Zone

from .object_scenes import (
    CAMERA,
    Frame,
    changes,
    empty,
    events_of,
    feed,
    frame_at,
    of_type,
    parked,
    person,
    standing,
)

DRIVEWAY = Zone("driveway", ((300, 250), (500, 250), (500, 480), (300, 480)))


def walk(track_id: int, frames: int, start_x: float = 100, step: float = 12) -> list[Frame]:
    return [[person(track_id, start_x + i * step)] for i in range(frames)]


def test_an_object_is_in_a_zone_after_inertia_frames_and_leaves_the_same_way() -> None:
    lifecycle = ObjectLifecycle(CAMERA, zones=[DRIVEWAY])
    # Feet at x = 130 + 12 i: inside from frame 15 (x 310) to frame 30 (x 490).
    events = events_of(feed(lifecycle, walk(1, 38)))
    updated = of_type(events, ObjectEventType.UPDATED)
    assert [(e.frame_id, [(c.kind, c.zone) for c in e.changes]) for e in updated] == [
        (frame_at(17)[0], [(ChangeKind.ENTERED_ZONE, "driveway")]),
        (frame_at(33)[0], [(ChangeKind.LEFT_ZONE, "driveway")]),
    ]
    assert [e.zones for e in updated] == [("driveway",), ()]
    assert events[0].zones == ()


def test_a_one_frame_flicker_into_a_zone_does_not_count() -> None:
    lifecycle = ObjectLifecycle(CAMERA, zones=[DRIVEWAY])
    scene = standing(1, 200, frames=40)
    scene[10] = [person(1, 300)]  # feet at x 330 for one frame
    scene[20] = scene[21] = [person(1, 300)]  # and for two: still short of inertia 3
    events = events_of(feed(lifecycle, scene))
    assert [e.type for e in events] == [ObjectEventType.STARTED]
    assert lifecycle.objects()[0].zones == ()


def test_an_object_confirmed_inside_a_zone_starts_there_without_an_extra_update() -> None:
    lifecycle = ObjectLifecycle(CAMERA, zones=[DRIVEWAY])
    events = events_of(feed(lifecycle, standing(1, 380, frames=20)))
    assert [(e.type, e.zones) for e in events] == [(ObjectEventType.STARTED, ("driveway",))]


def test_loitering_fires_once_per_visit() -> None:
    zone = Zone("porch", DRIVEWAY.polygon, loitering_s=5)
    lifecycle = ObjectLifecycle(CAMERA, zones=[zone])
    scene = walk(1, 20) + standing(1, 100 + 20 * 12, frames=200)
    events = events_of(feed(lifecycle, scene))
    loitering = [e for e in events if any(c.kind is ChangeKind.LOITERING for c in e.changes)]
    assert len(loitering) == 1
    # In the zone from frame 15 (the first sighting inside), loitering 5 s later.
    assert loitering[0].frame_id == frame_at(65)[0]
    assert loitering[0].changes == (loitering[0].changes[0],)
    assert changes(events).count(ChangeKind.LOITERING) == 1


def test_counts_split_active_and_stationary_per_label_and_per_zone() -> None:
    lifecycle = ObjectLifecycle(CAMERA, zones=[DRIVEWAY])
    car_and_walker = [
        c + w
        for c, w in zip(parked(frames=120, x=320), walk(2, 120, start_x=0, step=2), strict=True)
    ]
    feed(lifecycle, car_and_walker)
    counts = count_objects(
        lifecycle.objects(), labels=["person", "car", "dog"], zones=["driveway", "porch"]
    )
    assert counts.by_label == {
        "person": StateCount(active=1),
        "car": StateCount(stationary=1),
        "dog": StateCount(),
    }
    assert counts.by_zone["driveway"]["car"] == StateCount(stationary=1)
    assert counts.by_zone["driveway"]["person"] == StateCount()
    assert counts.by_zone["porch"] == dict.fromkeys(("person", "car", "dog"), StateCount())
    assert counts.to_dict()["labels"] == {
        "person": {"active": 1, "stationary": 0, "total": 1},
        "car": {"active": 0, "stationary": 1, "total": 1},
        "dog": {"active": 0, "stationary": 0, "total": 0},
    }
    # Once ended, nothing counts.
    feed(lifecycle, empty(320), start=120)
    assert count_objects(lifecycle.objects()).by_label == {}


def test_counts_skip_ended_objects() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    feed(lifecycle, walk(1, 10))
    [live] = lifecycle.objects()
    assert live.state is ObjectState.ACTIVE
    assert count_objects([live]).by_label == {"person": StateCount(active=1)}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "Front Door"}, "zone name"),
        ({"polygon": ((0, 0), (1, 1))}, "at least 3"),
        ({"polygon": ((0, 0), (1, 1), (2,))}, r"\[x, y\]"),
        ({"polygon": ((0, 0), (1, 1), (2, float("inf")))}, "finite"),
        ({"inertia": 0}, "inertia"),
        ({"loitering_s": 0}, "loitering_s"),
    ],
)
def test_a_zone_refuses_bad_settings(kwargs: dict[str, object], match: str) -> None:
    given: dict[str, object] = {"name": "yard", "polygon": ((0, 0), (10, 0), (0, 10)), **kwargs}
    with pytest.raises(ValidationError, match=match):
        Zone(**given)  # type: ignore[arg-type]


def test_zone_names_are_unique_per_camera() -> None:
    with pytest.raises(ValidationError, match="unique"):
        ObjectLifecycle(CAMERA, zones=[DRIVEWAY, DRIVEWAY])


def test_geometry() -> None:
    a = (0.0, 0.0, 10.0, 10.0)
    assert iou(a, a) == 1.0
    assert iou(a, (20.0, 20.0, 30.0, 30.0)) == 0.0
    assert iou(a, (5.0, 0.0, 15.0, 10.0)) == pytest.approx(50 / 150)
    assert iou((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0)) == 0.0
    assert bottom_centre((10.0, 20.0, 30.0, 60.0)) == (20.0, 60.0)
    ell = ((0.0, 0.0), (10.0, 0.0), (10.0, 4.0), (4.0, 4.0), (4.0, 10.0), (0.0, 10.0))
    assert contains(ell, (2.0, 8.0))
    assert contains(ell, (8.0, 2.0))
    assert not contains(ell, (8.0, 8.0))
    assert not contains(ell, (-1.0, 2.0))
    assert cut_by_edge((0.0, 10.0, 50.0, 50.0), (640, 480), 2.0)
    assert cut_by_edge((10.0, 10.0, 50.0, 479.0), (640, 480), 2.0)
    assert not cut_by_edge((10.0, 10.0, 50.0, 50.0), (640, 480), 2.0)
    assert not cut_by_edge((0.0, 0.0, 640.0, 480.0), None, 2.0)
