"""The RecordingIndex's span contract (gaps and motion beside the segments), run against every
adapter (memory, SQLite, PostgreSQL): idempotent adds, overlap queries, retention by kind, and
malformed input refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.ports import RecordingIndex

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
GAP, MOTION = SpanKind.GAP, SpanKind.MOTION


def span(
    camera: str, second: float, length: float = 5, kind: SpanKind = GAP, reason: str | None = None
) -> RecordingSpan:
    if reason is None:
        reason = "reconnect" if kind is GAP else ""
    start = T0 + second * S
    return RecordingSpan(camera, kind, start, start + length * S, reason)


def forged(**fields: object) -> RecordingSpan:
    """A span with `fields` set around its checks, as a buggy caller could build one."""
    made = span("porch", 0)
    for name, value in fields.items():
        object.__setattr__(made, name, value)
    return made


def fill(index: RecordingIndex, spans: list[RecordingSpan]) -> None:
    for s in spans:
        assert index.add_span(s) is True


def everything(index: RecordingIndex, kind: SpanKind = GAP) -> list[RecordingSpan]:
    return index.spans(kind, T0 - 1000 * S, T0 + 1000 * S)


def test_a_span_comes_back_as_it_went_in(recordings: RecordingIndex) -> None:
    plus_two = timezone(timedelta(hours=2))
    s = span("porch", 0.123456, 2.5, reason="stalled")
    odd_zone = RecordingSpan(
        s.camera, s.kind, s.start.astimezone(plus_two), s.end.astimezone(plus_two), s.reason
    )
    assert recordings.add_span(odd_zone) is True
    [back] = everything(recordings)
    assert back == s
    assert back.start.tzinfo is UTC
    assert back.end.tzinfo is UTC


def test_adding_is_idempotent_on_camera_kind_and_start(recordings: RecordingIndex) -> None:
    s = span("porch", 0)
    assert recordings.add_span(s) is True
    assert recordings.add_span(s) is False  # the feed's retry
    assert recordings.add_span(span("porch", 0, 9, reason="stalled")) is False  # first kept
    assert recordings.add_span(span("porch", 0, kind=MOTION)) is True  # another kind
    assert recordings.add_span(span("garden", 0)) is True  # another camera
    assert everything(recordings, GAP) == [span("garden", 0), s]
    assert everything(recordings, MOTION) == [span("porch", 0, kind=MOTION)]


def test_another_handle_sees_what_one_added(index_opener: Callable[[], RecordingIndex]) -> None:
    first, second = index_opener(), index_opener()
    assert first.add_span(span("porch", 0)) is True
    assert second.add_span(span("porch", 0)) is False
    assert everything(second) == [span("porch", 0)]


def test_spans_overlapping_a_range_in_start_then_camera_order(recordings: RecordingIndex) -> None:
    a = span("porch", 0, 10)  # [0, 10)
    b = span("garden", 10, 5)  # [10, 15)
    c = span("alley", 10, 1)  # [10, 11)
    d = span("porch", 20, 5)  # [20, 25)
    fill(recordings, [d, b, a, c])
    assert everything(recordings) == [a, c, b, d]
    window = recordings.spans
    assert window(GAP, T0 + 10 * S, T0 + 20 * S) == [c, b]  # a ends at 10, d starts at 20
    assert window(GAP, T0 + 9.999 * S, T0 + 20.001 * S) == [a, c, b, d]
    assert window(GAP, T0 + 12 * S, T0 + 13 * S) == [b]  # inside one span
    assert window(GAP, T0 - 100 * S, T0) == []
    assert window(GAP, T0 + 5 * S, T0 + 5 * S) == [a]  # an instant inside a
    assert window(GAP, T0, T0 + 100 * S, camera="porch") == [a, d]
    assert window(GAP, T0, T0 + 100 * S, camera="nobody") == []
    assert window(MOTION, T0, T0 + 100 * S) == []


def test_removing_forgets_spans_of_one_kind_that_ended_before(recordings: RecordingIndex) -> None:
    old, edge, late = span("porch", 0, 5), span("garden", 5, 5), span("porch", 20, 5)
    motion = span("porch", 0, 5, kind=MOTION)
    fill(recordings, [old, edge, late, motion])
    assert recordings.remove_spans(GAP, T0 + 10 * S) == 1  # edge ends at 10: not before
    assert everything(recordings) == [edge, late]
    assert everything(recordings, MOTION) == [motion]
    assert recordings.remove_spans(GAP, T0 + 10 * S) == 0
    assert recordings.remove_spans(MOTION, T0 + 100 * S) == 1
    assert everything(recordings, MOTION) == []
    assert recordings.add_span(old) is True  # forgotten, so a new add stores it again


def test_spans_and_segments_are_apart(recordings: RecordingIndex) -> None:
    fill(recordings, [span("porch", 0)])
    assert recordings.totals() == {}
    assert recordings.overlapping("porch", T0, T0 + 10 * S) == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"start": datetime(2026, 12, 6, 12)}, "naive"),
        ({"end": datetime(2026, 12, 6, 13)}, "naive"),
        ({"end": T0}, "must be after start"),
        ({"end": T0 - S}, "must be after start"),
        ({"start": "2026-12-06T12:00:00Z"}, "datetime"),
        ({"reason": "power cut"}, "reason"),
        ({"reason": ""}, "reason"),
        ({"kind": MOTION}, "reason"),  # motion with a gap's reason
        ({"kind": "gap"}, "SpanKind"),
        ({"camera": "Porch"}, "must match"),
        ({"camera": ""}, "must match"),
        ({"camera": "../etc"}, "must match"),
    ],
)
def test_a_malformed_span_is_refused_with_a_clear_error_and_not_stored(
    recordings: RecordingIndex, fields: dict[str, object], words: str
) -> None:
    good = {"camera": "porch", "kind": GAP, "start": T0, "end": T0 + S, "reason": "reconnect"}
    with pytest.raises(ValueError, match=words):
        RecordingSpan(**{**good, **fields})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=words):
        recordings.add_span(forged(**fields))
    assert everything(recordings) == []
    assert everything(recordings, MOTION) == []


def test_add_span_takes_only_spans(recordings: RecordingIndex) -> None:
    for wrong in ({"camera": "porch"}, None, ("porch", GAP, T0, T0 + S, "reconnect")):
        with pytest.raises(TypeError, match="RecordingSpan"):
            recordings.add_span(wrong)  # type: ignore[arg-type]
    assert everything(recordings) == []


@pytest.mark.parametrize(
    ("kind", "start", "end", "camera", "words"),
    [
        (GAP, T0, T0 + S, "Porch", "must match"),
        (GAP, datetime(2026, 12, 6), T0, None, "naive"),
        (GAP, T0, datetime(2026, 12, 7), None, "naive"),
        (GAP, T0 + S, T0, None, "before start"),
        (GAP, "2026-12-06T12:00:00Z", T0, None, "datetime"),
        ("hole", T0, T0 + S, None, "hole"),
    ],
)
def test_a_malformed_span_query_is_refused(
    recordings: RecordingIndex,
    kind: SpanKind,
    start: datetime,
    end: datetime,
    camera: str | None,
    words: str,
) -> None:
    with pytest.raises(ValueError, match=words):
        recordings.spans(kind, start, end, camera)


def test_a_malformed_removal_is_refused(recordings: RecordingIndex) -> None:
    fill(recordings, [span("porch", 0)])
    with pytest.raises(ValueError, match="naive"):
        recordings.remove_spans(GAP, datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="hole"):
        recordings.remove_spans("hole", T0 + 100 * S)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="datetime"):
        recordings.remove_spans(GAP, 1e12)  # type: ignore[arg-type]
    assert everything(recordings) == [span("porch", 0)]
