"""The object lifecycle on scripted scenes: confirmation, start and end, stationary objects,
snapshot updates, and bad input."""

from __future__ import annotations

import itertools

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.object_events import ChangeKind, ObjectEventType, ObjectState
from detektor.domain.object_settings import LabelSettings, ObjectSettings
from detektor.domain.object_track import TrackedBox
from detektor.domain.objects import ObjectLifecycle

from .object_scenes import (
    CAMERA,
    changes,
    crossing,
    empty,
    events_of,
    feed,
    frame_at,
    of_type,
    parked,
    person,
    standing,
)

STARTED, UPDATED, ENDED = ObjectEventType.STARTED, ObjectEventType.UPDATED, ObjectEventType.ENDED


def test_a_person_crossing_is_one_object_started_once_and_ended_once() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = crossing(frames=45)
    events = events_of(feed(lifecycle, scene + empty(25)))
    assert [e.type for e in events] == [STARTED, ENDED]
    started, ended = events
    assert started.object_id == ended.object_id == f"{CAMERA}:{frame_at(0)[0].captured_ms}:1"
    assert started.frame_id == frame_at(2)[0]  # the third sighting confirms it
    assert started.first_seen == frame_at(0)[1]
    assert started.label == "person"
    assert started.state is ObjectState.ACTIVE
    # Ended from the last sighting, once it has been unseen for max_disappeared_s (2 s).
    assert ended.frame_id == frame_at(44)[0]
    assert ended.last_seen == frame_at(44)[1]
    assert ended.at == frame_at(64)[1]
    assert ended.state is ObjectState.ENDED
    assert ended.box == scene[44][0].box
    assert lifecycle.objects() == ()


def test_an_object_ends_only_after_max_disappeared() -> None:
    lifecycle = ObjectLifecycle(CAMERA, ObjectSettings(max_disappeared_s=1.0))
    steps = feed(lifecycle, crossing(frames=10) + empty(15))
    ended_at = [i for i, s in enumerate(steps) for e in s.events if e.type is ENDED]
    assert ended_at == [19]  # last seen at frame 9, gone for 1 s at frame 19


def test_a_one_frame_false_hit_gives_nothing() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = [*empty(10), [person(3, 200, score=0.95)], *empty(30)]
    assert events_of(feed(lifecycle, scene)) == []
    assert lifecycle.tentative == 0


def test_a_low_score_track_never_confirms_however_long_it_lasts() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    assert events_of(feed(lifecycle, crossing(frames=40, score=0.45) + empty(30))) == []


def test_confirmation_takes_the_median_of_the_last_scores() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scores = [0.9, 0.2, 0.2, 0.9, 0.9, 0.9]
    steps = feed(lifecycle, [[person(1, 100 + i, score=s)] for i, s in enumerate(scores)])
    started = [i for i, s in enumerate(steps) if s.events]
    # medians: 0.2 at 3 hits, 0.55 at 4, 0.9 at 5
    assert started == [4]
    assert steps[4].events[0].median_score == 0.9
    assert steps[4].events[0].top_score == 0.9


def test_each_label_has_its_own_threshold() -> None:
    settings = ObjectSettings(labels={"car": LabelSettings(threshold=0.8)})
    lifecycle = ObjectLifecycle(CAMERA, settings)
    car = [[TrackedBox(2, "car", (100 + i, 100, 300 + i, 200), 0.7)] for i in range(10)]
    walker = [[person(1, 300 + i * 5, score=0.7)] for i in range(10)]
    events = events_of(feed(lifecycle, [a + b for a, b in zip(car, walker, strict=True)]))
    assert [(e.type, e.label) for e in events] == [(STARTED, "person")]


def test_a_parked_car_starts_once_turns_stationary_once_and_never_repeats() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    steps = feed(lifecycle, parked(frames=300))
    events = events_of(steps)
    assert [e.type for e in events] == [STARTED, UPDATED]
    assert events[1].changes[0].kind is ChangeKind.STATIONARY
    assert len(events[1].changes) == 1
    # Stationary once it has held still for stationary_after_s (10 s) since first seen.
    assert events[1].frame_id == frame_at(100)[0]
    assert events[1].state is ObjectState.STATIONARY
    [car] = lifecycle.objects()
    assert car.state is ObjectState.STATIONARY
    # Missed for 5 s (a van drives past): still the same parked car, nothing new.
    later = feed(lifecycle, [*empty(50), *parked(frames=100)], start=300)
    assert events_of(later) == []
    assert [o.object_id for o in lifecycle.objects()] == [car.object_id]
    # Gone for good: one end, after stationary_max_disappeared_s (30 s).
    gone = events_of(feed(lifecycle, empty(310), start=450))
    assert [e.type for e in gone] == [ENDED]


def test_a_stray_box_does_not_wake_a_stationary_object() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = parked(frames=150)
    for i in (120, 121, 130):  # a two-frame glitch, then a single one
        scene[i] = [TrackedBox(7, "car", (360, 250, 560, 350), 0.85)]
    events = events_of(feed(lifecycle, scene))
    assert changes(events) == [ChangeKind.STATIONARY]


def test_stop_and_go_turns_stationary_then_active_again() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    walk_in = [[person(1, 100 + i * 12)] for i in range(20)]
    stop = standing(1, 100 + 20 * 12, frames=150)
    walk_on = [[person(1, 100 + 20 * 12 + i * 12)] for i in range(1, 20)]
    events = events_of(feed(lifecycle, walk_in + stop + walk_on + empty(25)))
    assert [e.type for e in events] == [STARTED, UPDATED, UPDATED, ENDED]
    assert changes(events) == [ChangeKind.STATIONARY, ChangeKind.ACTIVE]
    assert [e.state for e in events] == [
        ObjectState.ACTIVE,
        ObjectState.STATIONARY,
        ObjectState.ACTIVE,
        ObjectState.ENDED,
    ]
    assert len({e.object_id for e in events}) == 1
    # Active again after move_frames (3) boxes away from where it stood.
    assert events[2].frame_id == frame_at(20 + 150 + 2)[0]


def test_a_person_walking_toward_the_camera_gets_a_few_better_snapshots() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = []
    for i in range(60):
        h = 80 + 4 * i
        w = h * 3 / 8
        scene.append([TrackedBox(1, "person", (300 - w / 2, 120, 300 + w / 2, 120 + h), 0.9)])
    steps = feed(lifecycle, scene + empty(25))
    events = events_of(steps)
    snapshots = [e for e in events if ChangeKind.SNAPSHOT in {c.kind for c in e.changes}]
    assert 1 <= len(snapshots) <= 3
    announced = [events[0], *snapshots]
    for before, after in itertools.pairwise(announced):
        assert before.best is not None
        assert after.best is not None
        assert (after.at - before.at).total_seconds() >= 2.0
        assert after.best.quality >= 1.5 * before.best.quality
    # The best frame is kept exactly, every time it improves, for the snapshot writer.
    object_id = events[0].object_id
    assert sum(object_id in s.best_changed for s in steps) == 58  # frames 2..59
    assert of_type(events, ENDED)[0].best is not None
    assert of_type(events, ENDED)[0].best.frame_id == frame_at(59)[0]


def test_a_box_cut_by_the_frame_edge_gives_way_to_a_whole_one() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = [[person(1, 0)] for _ in range(30)] + [[person(1, 100 + i * 12)] for i in range(5)]
    events = events_of(feed(lifecycle, scene))
    assert [e.type for e in events] == [STARTED, UPDATED]
    assert events[0].best is not None
    assert events[0].best.cut
    assert [c.kind for c in events[1].changes] == [ChangeKind.SNAPSHOT]
    assert events[1].best is not None
    assert not events[1].best.cut
    assert events[1].frame_id == frame_at(30)[0]


def test_a_track_twice_in_one_frame_keeps_its_best_box() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = [[person(1, 100, score=0.3), person(1, 102, score=0.9)] for _ in range(3)]
    [started] = events_of(feed(lifecycle, scene))
    assert started.score == 0.9
    assert started.box == person(1, 102).box


def test_a_frame_older_than_the_last_is_ignored() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    feed(lifecycle, crossing(frames=2), start=5)
    frame_id, at = frame_at(3)
    step = lifecycle.observe(frame_id, at, [person(1, 50)])
    assert step.stale
    assert step.events == ()
    assert lifecycle.tentative == 1


def test_a_frame_of_another_camera_is_refused() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    _, at = frame_at(0)
    with pytest.raises(ValidationError, match="not from camera"):
        lifecycle.observe(FrameId("back-yard", 0, 0), at, [])


def test_close_ends_every_confirmed_object() -> None:
    lifecycle = ObjectLifecycle(CAMERA)
    scene = [[person(1, 100 + i), person(2, 400, score=0.3)] for i in range(10)]
    feed(lifecycle, scene)
    _, at = frame_at(10)
    step = lifecycle.close(at)
    assert [(e.type, e.track_id, e.state) for e in step.events] == [(ENDED, 1, ObjectState.ENDED)]
    assert lifecycle.objects() == ()
    assert lifecycle.tentative == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_hits": 0}, "min_hits"),
        ({"score_window": True}, "score_window"),
        ({"max_disappeared_s": -1}, "max_disappeared_s"),
        ({"snapshot_gain": 0.5}, "snapshot_gain"),
        ({"default": LabelSettings(threshold=0.5), "labels": {"car": 0.7}}, "labels.car"),
    ],
)
def test_settings_refuse_values_that_make_no_sense(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectSettings(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_label_settings_refuse_a_threshold_past_one() -> None:
    with pytest.raises(ValidationError, match="threshold"):
        LabelSettings(threshold=7)


@pytest.mark.parametrize(
    ("track_id", "label", "box", "score"),
    [
        (True, "person", (0, 0, 1, 1), 0.5),
        (1, "", (0, 0, 1, 1), 0.5),
        (1, "person", (5, 0, 1, 1), 0.5),
        (1, "person", (0, 0, float("nan"), 1), 0.5),
        (1, "person", (0, 0, 1, 1), 1.5),
    ],
)
def test_a_tracked_box_refuses_bad_values(
    track_id: int, label: str, box: tuple[float, float, float, float], score: float
) -> None:
    with pytest.raises(ValidationError):
        TrackedBox(track_id, label, box, score)
