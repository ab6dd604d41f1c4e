"""The recording's per-camera motion feed: frame times in epoch milliseconds become the spans'
UTC times, closed spans are offered, and a failure is logged instead of stopping capture."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detektor.domain.motion_spans import MotionSpans
from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.services.recordings.recording import MotionFeed

T0_MS = 1_796_000_000_000


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_frames_become_spans_offered_when_they_close() -> None:
    offered: list[RecordingSpan] = []
    feed = MotionFeed(MotionSpans("yard", interval_s=0.5), offered.append)
    feed.frame(T0_MS, True)
    feed.frame(T0_MS + 500, True)
    assert offered == []
    feed.flush()
    assert offered == [RecordingSpan("yard", SpanKind.MOTION, at(T0_MS), at(T0_MS + 1000))]


def test_a_failing_offer_is_logged_and_capture_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(span: RecordingSpan) -> None:
        raise RuntimeError("queue gone")

    feed = MotionFeed(MotionSpans("yard", interval_s=0.5), refuse)
    feed.frame(T0_MS, True)
    feed.flush()  # does not raise
    assert "motion spans failed" in caplog.text
    feed.frame(T0_MS + 5000, True)  # and the next span starts afresh
    assert feed.spans.open == (at(T0_MS + 5000), at(T0_MS + 5500))
