"""Camera state with an injected clock: occupancy and counts from the objects present (per
label and per zone, active and stationary apart), the minimum hold, connectivity."""

from __future__ import annotations

from dataclasses import dataclass

from detektor.domain.object_events import ObjectState
from detektor.domain.object_projection import count_objects
from detektor.services.notifier.state import CameraState, Change

ACTIVE, STATIONARY = ObjectState.ACTIVE, ObjectState.STATIONARY


@dataclass(frozen=True)
class Obj:
    label: str
    state: ObjectState = ACTIVE
    zones: tuple[str, ...] = ()


def state(hold: float = 5.0, timeout: float = 60.0, zones: tuple[str, ...] = ()) -> CameraState:
    return CameraState(
        "front-door",
        ["person", "car"],
        hold_s=hold,
        camera_timeout_s=timeout,
        started=1000.0,
        zones=list(zones),
    )


def apply(
    s: CameraState, now: float, *objects: Obj
) -> list[tuple[str, str | None, str | None, str]]:
    return kinds(s.apply(count_objects(objects, s.labels, s.zones), now))


def kinds(changes: list[Change]) -> list[tuple[str, str | None, str | None, str]]:
    return [(c.kind, c.label, c.zone, c.value) for c in changes]


def test_an_object_turns_its_label_on_and_counts_it() -> None:
    s = state()
    assert apply(s, 1000.0, Obj("person"), Obj("person")) == [
        ("occupancy", "person", None, "ON"),
        ("count", "person", None, "2"),
    ]
    assert s.is_on("person")
    assert not s.is_on("car")
    assert apply(s, 1001.0, Obj("person"), Obj("person")) == []  # nothing changed


def test_active_and_stationary_are_counted_apart_and_both_keep_it_on() -> None:
    s = state()
    apply(s, 1000.0, Obj("car"))
    assert apply(s, 1010.0, Obj("car", STATIONARY)) == [
        ("count", "car", None, "0"),
        ("stationary", "car", None, "1"),
    ]
    assert s.is_on("car")  # a parked car is still there
    assert s.count("car") == (0, 1)


def test_off_when_the_last_object_ends_once_held_long_enough() -> None:
    s = state(hold=5)
    apply(s, 1000.0, Obj("person"))
    # Gone after 2 s: the count drops at once, occupancy holds until 5 s after it turned on.
    assert apply(s, 1002.0) == [("count", "person", None, "0")]
    assert s.expire(1004.9) == []
    assert kinds(s.expire(1005.0)) == [("occupancy", "person", None, "OFF")]
    assert s.expire(1010.0) == []
    # Gone after the hold: off at once.
    apply(s, 1020.0, Obj("person"))
    assert apply(s, 1030.0) == [
        ("count", "person", None, "0"),
        ("occupancy", "person", None, "OFF"),
    ]


def test_a_new_object_within_the_hold_keeps_it_on_without_an_off() -> None:
    s = state(hold=5)
    apply(s, 1000.0, Obj("person"))
    apply(s, 1001.0)
    assert apply(s, 1003.0, Obj("person")) == [("count", "person", None, "1")]
    s.seen(1099.0)
    assert s.expire(1100.0) == []  # present: time alone never turns it off


def test_zones_have_their_own_occupancy_and_counts() -> None:
    s = state(zones=("porch",))
    assert apply(s, 1000.0, Obj("person", zones=("porch",)), Obj("person")) == [
        ("occupancy", "person", None, "ON"),
        ("count", "person", None, "2"),
        ("occupancy", "person", "porch", "ON"),
        ("count", "person", "porch", "1"),
    ]
    assert s.add_zone("drive")
    assert not s.add_zone("drive")
    assert apply(s, 1010.0, Obj("car", STATIONARY, ("drive",))) == [
        ("count", "person", None, "0"),
        ("occupancy", "car", None, "ON"),
        ("stationary", "car", None, "1"),
        ("count", "person", "porch", "0"),
        ("occupancy", "car", "drive", "ON"),
        ("stationary", "car", "drive", "1"),
        ("occupancy", "person", None, "OFF"),
        ("occupancy", "person", "porch", "OFF"),
    ]


def test_camera_connectivity_follows_frames() -> None:
    s = state(timeout=60)
    assert s.expire(1059.0) == []
    assert kinds(s.expire(1060.0)) == [("connected", None, None, "OFF")]  # never seen
    assert s.expire(1100.0) == []  # said once
    assert kinds(s.seen(1101.0)) == [("connected", None, None, "ON")]
    assert s.seen(1102.0) == []
    assert kinds(s.expire(1162.0)) == [("connected", None, None, "OFF")]


def test_snapshot_holds_every_known_value_for_a_reconnect() -> None:
    s = state(zones=("porch",))
    snap = kinds(s.snapshot())
    assert ("occupancy", "person", None, "OFF") in snap
    assert ("stationary", "car", "porch", "0") in snap
    assert len(snap) == 2 * 2 * 3  # (camera + porch) x labels x (occupancy, count, still)
    apply(s, 1000.0, Obj("car", STATIONARY, ("porch",)))
    s.seen(1000.0)
    stamp = s.stamp("2026-11-27T14:03:07.000000Z", {"label": "car"})
    snap = kinds(s.snapshot())
    assert ("occupancy", "car", "porch", "ON") in snap
    assert ("stationary", "car", None, "1") in snap
    assert ("last_detection", None, None, "2026-11-27T14:03:07.000000Z") in snap
    assert ("connected", None, None, "ON") in snap
    assert stamp.attributes == {"label": "car"}
