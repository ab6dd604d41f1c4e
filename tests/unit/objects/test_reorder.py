"""The reorder buffer: capture order per camera within the window, late items kept apart."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detektor.services.objects.reorder import ReorderBuffer

WINDOW = 0.5


def test_an_item_waits_for_the_window_unless_a_later_one_is_far_ahead() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(WINDOW)
    assert buf.push("a", (1000, 1), "f1", now=10.0) == []
    assert buf.push("a", (1200, 3), "f3", now=10.1) == []
    assert buf.push("a", (1100, 2), "f2", now=10.2) == []  # came late, within the window
    assert buf.due(10.49) == []
    assert buf.due(10.5) == ["f1"]
    assert buf.due(10.7) == ["f2", "f3"]  # f3 waited 0.6 s, and f2 was captured before it
    # A frame captured more than the window after the waiting ones releases them at once.
    assert buf.push("a", (2000, 4), "f4", now=11.0) == []
    assert buf.push("a", (2600, 5), "f5", now=11.0) == ["f4"]
    assert buf.flush() == ["f5"]


def test_a_due_item_takes_every_earlier_one_of_its_camera_with_it() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(WINDOW)
    buf.push("a", (1300, 3), "f3", now=10.0)
    buf.push("a", (1100, 1), "f1", now=10.4)  # arrived later, captured earlier
    assert buf.due(10.5) == ["f1", "f3"]  # f3 is due: f1 must not be left behind it


def test_cameras_are_ordered_apart() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(WINDOW)
    buf.push("a", (5000, 1), "a1", now=0.0)
    buf.push("b", (1000, 1), "b1", now=0.3)
    assert buf.due(0.5) == ["a1"]
    buf.push("b", (900, 0), "b0", now=0.6)
    assert buf.due(0.8) == ["b0", "b1"]


def test_an_item_older_than_what_was_released_is_late_never_lost() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(WINDOW)
    buf.push("a", (1000, 1), "f1", now=0.0)
    assert buf.due(1.0) == ["f1"]
    assert buf.push("a", (900, 0), "f0", now=1.1) == []
    assert buf.push("a", (1000, 1), "again", now=1.1) == []  # the same frame again: late too
    assert buf.take_late() == ["f0", "again"]
    assert buf.take_late() == []
    assert buf.late_total == 2
    assert buf.waiting("a") == []


def test_forget_returns_what_waited_and_mark_released_makes_older_ones_late() -> None:
    buf: ReorderBuffer[str] = ReorderBuffer(WINDOW)
    buf.push("a", (1000, 1), "f1", now=0.0)
    buf.push("a", (1100, 2), "f2", now=0.0)
    assert sorted(buf.forget("a")) == ["f1", "f2"]
    assert buf.flush() == []
    buf.mark_released("a", (1100, 2))
    buf.push("a", (1050, 9), "old", now=1.0)
    assert buf.take_late() == ["old"]


@st.composite
def arrivals(draw: st.DrawFn) -> list[tuple[str, int, int, float]]:
    """(camera, captured_ms, seq, arrival s): captures of two cameras at increasing times,
    each arriving after a delay shorter than the window, listed in arrival order."""
    out = []
    for camera in ("a", "b"):
        n = draw(st.integers(0, 25))
        gaps = draw(st.lists(st.integers(1, 400), min_size=n, max_size=n))
        ms = 1_000_000
        for seq, gap in enumerate(gaps):
            ms += gap
            delay = draw(st.integers(0, int(WINDOW * 1000) - 1)) / 1000
            out.append((camera, ms, seq, ms / 1000 + delay))
    return sorted(out, key=lambda a: a[3])


@settings(max_examples=300, deadline=None)
@given(arrivals(), st.lists(st.floats(0, 1), max_size=30))
def test_any_arrival_order_within_the_window_comes_out_in_capture_order_once(
    items: list[tuple[str, int, int, float]], polls: list[float]
) -> None:
    buf: ReorderBuffer[tuple[str, int, int]] = ReorderBuffer(WINDOW)
    out: list[tuple[str, int, int]] = []
    poll = iter(sorted(polls))
    for camera, ms, seq, at in items:
        # Some due() calls between arrivals, as the ticker does, at times before this one.
        for p in poll:
            if 1000 + p * 20 >= at:
                break
            out += buf.due(1000 + p * 20)
        out += buf.push(camera, (ms, seq), (camera, ms, seq), now=at)
    out += buf.flush()
    assert buf.take_late() == []
    assert sorted(out) == sorted((c, m, s) for c, m, s, _ in items)
    for camera in ("a", "b"):
        mine = [(m, s) for c, m, s in out if c == camera]
        assert mine == sorted(mine)
