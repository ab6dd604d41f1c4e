"""Camera state with an injected clock: occupancy and its off-delay, counts, timestamps,
connectivity."""

from __future__ import annotations

from datetime import UTC, datetime

from detektor.services.notifier.state import CameraState, Change

AT = datetime(2026, 11, 27, 14, 3, 7, tzinfo=UTC)


def state(off_delay: float = 30.0, timeout: float = 60.0, interval: float = 10.0) -> CameraState:
    return CameraState(
        "front-door",
        ["person", "car"],
        off_delay_s=off_delay,
        camera_timeout_s=timeout,
        timestamp_interval_s=interval,
        started=1000.0,
    )


def kinds(changes: list[Change]) -> list[tuple[str, str | None, str]]:
    return [(c.kind, c.label, c.value) for c in changes]


def test_first_person_turns_on_counts_and_stamps() -> None:
    s = state()
    changes = s.observe({"person": 2}, 1000.0, AT, {"label": "person"})
    assert kinds(changes) == [
        ("connected", None, "ON"),
        ("occupancy", "person", "ON"),
        ("count", "person", "2"),
        ("last_detection", None, AT.isoformat()),
    ]
    assert changes[-1].attributes == {"label": "person"}
    assert s.is_on("person")
    assert not s.is_on("car")


def test_off_only_after_the_delay_without_the_label() -> None:
    s = state(off_delay=30)
    s.observe({"person": 1}, 1000.0, AT)
    assert s.observe({"person": 1}, 1005.0, AT) == []  # same count, timestamp throttled
    # The person leaves the picture: the count drops at once, occupancy holds.
    assert kinds(s.observe({}, 1006.0, AT)) == [("count", "person", "0")]
    assert s.expire(1034.9) == []
    assert kinds(s.expire(1035.0)) == [("occupancy", "person", "OFF")]
    assert s.expire(1040.0) == []


def test_a_detection_within_the_delay_restarts_it() -> None:
    s = state(off_delay=30)
    s.observe({"person": 1}, 1000.0, AT)
    s.observe({"person": 1}, 1020.0, AT)
    assert s.expire(1031.0) == []
    assert kinds(s.expire(1050.0)) == [("occupancy", "person", "OFF"), ("count", "person", "0")]


def test_when_frames_stop_altogether_off_also_zeroes_the_count() -> None:
    s = state(off_delay=5)
    s.observe({"person": 3}, 1000.0, AT)
    assert kinds(s.expire(1005.0)) == [
        ("occupancy", "person", "OFF"),
        ("count", "person", "0"),
    ]
    assert s.count("person") == 0


def test_last_detection_is_throttled_while_on_but_sent_on_every_turn_on() -> None:
    s = state(off_delay=2, interval=10)
    s.observe({"person": 1}, 1000.0, AT)
    assert s.observe({"person": 2}, 1001.0, AT) == [Change("count", "2", "person")]
    later = s.observe({"person": 2}, 1010.0, AT)
    assert [c.kind for c in later] == ["last_detection"]
    # A car turning on stamps at once, even inside the interval.
    assert "last_detection" in [c.kind for c in s.observe({"car": 1}, 1011.0, AT)]


def test_camera_connectivity_follows_frames() -> None:
    s = state(timeout=60)
    assert s.expire(1059.0) == []
    assert kinds(s.expire(1060.0)) == [("connected", None, "OFF")]  # never seen since start
    assert s.expire(1100.0) == []  # said once
    assert kinds(s.seen(1101.0)) == [("connected", None, "ON")]
    assert s.seen(1102.0) == []
    assert kinds(s.expire(1162.0)) == [("connected", None, "OFF")]


def test_snapshot_holds_every_known_value_for_a_reconnect() -> None:
    s = state()
    assert kinds(s.snapshot()) == [
        ("occupancy", "person", "OFF"),
        ("count", "person", "0"),
        ("occupancy", "car", "OFF"),
        ("count", "car", "0"),
    ]
    s.observe({"car": 1}, 1000.0, AT)
    snap = kinds(s.snapshot())
    assert ("occupancy", "car", "ON") in snap
    assert ("count", "car", "1") in snap
    assert ("last_detection", None, AT.isoformat()) in snap
    assert ("connected", None, "ON") in snap
