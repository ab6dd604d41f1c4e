"""Motion spans from the motion gate's verdicts: a moving frame opens or extends the span by
one sample interval, a pause shorter than the join time joins, a longer one closes it, long
movement is handed over in chunks, and a stop or a clock stepped back flushes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.motion_spans import MotionSpans
from detektor.domain.recordings import RecordingSpan, SpanKind

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def span(start: float, end: float) -> RecordingSpan:
    return RecordingSpan("porch", SpanKind.MOTION, at(start), at(end))


def feed(spans: MotionSpans, frames: list[tuple[float, bool]]) -> list[RecordingSpan]:
    closed: list[RecordingSpan] = []
    for seconds, moving in frames:
        closed += spans.frame(at(seconds), moving)
    return closed


def test_moving_frames_make_one_span_that_closes_after_the_join_time() -> None:
    spans = MotionSpans("porch", interval_s=0.5, join_s=2)
    # Moving from 0 to 1.5 s, then still: the span ends one interval after the last move.
    frames = [(0, True), (0.5, True), (1, True), (1.5, True), (2, False), (2.5, False)]
    assert feed(spans, frames) == []
    assert spans.open == (at(0), at(2))
    assert feed(spans, [(3.5, False)]) == []  # 1.5 s still: not yet
    assert feed(spans, [(4, False)]) == [span(0, 2)]  # 2 s still: closed
    assert spans.open is None
    assert feed(spans, [(4.5, False), (10, False)]) == []


def test_a_pause_shorter_than_the_join_time_joins_two_stretches() -> None:
    spans = MotionSpans("porch", interval_s=0.5, join_s=2)
    frames = [(0, True), (0.5, False), (1, False), (2, False), (2.5, True), (3, False)]
    assert feed(spans, frames) == []
    assert spans.open == (at(0), at(3))
    # A stretch after a longer pause is a span of its own; the first closes.
    assert feed(spans, [(5.5, True)]) == [span(0, 3)]
    assert spans.open == (at(5.5), at(6))


def test_a_moving_frame_after_a_silence_without_frames_starts_a_new_span() -> None:
    spans = MotionSpans("porch", interval_s=1, join_s=2)
    assert feed(spans, [(0, True), (10, True)]) == [span(0, 1)]
    assert spans.open == (at(10), at(11))


def test_long_movement_is_handed_over_in_chunks_of_at_most_chunk_s() -> None:
    spans = MotionSpans("porch", interval_s=1, join_s=2, chunk_s=30)
    closed = feed(spans, [(s, True) for s in range(75)])
    assert closed == [span(0, 30), span(30, 60)]
    assert spans.open == (at(60), at(75))
    assert spans.flush() == [span(60, 75)]
    # A frame never stands for more than one chunk.
    slow = MotionSpans("porch", interval_s=100, chunk_s=30)
    assert feed(slow, [(0, True)]) == []
    assert slow.flush() == [span(0, 30)]


def test_flush_closes_the_open_span_once_and_the_next_frame_starts_afresh() -> None:
    spans = MotionSpans("porch", interval_s=0.5)
    assert spans.flush() == []
    feed(spans, [(0, True), (0.5, True)])
    assert spans.flush() == [span(0, 1)]
    assert spans.flush() == []
    assert feed(spans, [(1, True)]) == []  # a reconnect: a new span, not the old one's
    assert spans.open == (at(1), at(1.5))


def test_a_clock_stepped_back_closes_the_span_instead_of_running_it_backwards() -> None:
    spans = MotionSpans("porch", interval_s=1)
    feed(spans, [(10, True), (11, True)])
    assert feed(spans, [(5, True)]) == [span(10, 12)]
    assert spans.open == (at(5), at(6))


def test_a_frame_inside_the_open_span_changes_nothing() -> None:
    spans = MotionSpans("porch", interval_s=2)
    feed(spans, [(0, True), (0.5, True)])
    assert spans.open == (at(0), at(2.5))
    feed(spans, [(0.2, True)])
    assert spans.open == (at(0), at(2.5))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": float("inf")}, "interval_s"),
        ({"interval_s": 1, "join_s": -1}, "join_s"),
        ({"interval_s": 1, "chunk_s": 0}, "chunk_s"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        MotionSpans("porch", **kwargs)


def test_naive_frame_times_and_bad_cameras_are_refused() -> None:
    with pytest.raises(ValidationError, match="naive"):
        MotionSpans("porch", 1).frame(datetime(2026, 12, 6), True)
    spans = MotionSpans("no such camera!", 1)
    with pytest.raises(ValidationError):
        feed(spans, [(0, True)]) + spans.flush()
