"""The RecordingIndex contract, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from detektor.domain.recordings import Segment
from detektor.ports import RecordingIndex, RecordingTotals, SegmentQuery

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def seg(
    camera: str, second: float, length: float = 10, size: int = 1000, **more: object
) -> Segment:
    start = T0 + second * S
    values: dict[str, object] = {
        "camera": camera,
        "start": start,
        "end": start + length * S,
        "path": f"{camera}/{start:%Y%m%d-%H%M%S-%f}.mp4",
        "bytes": size,
        "codec": "h264",
        "keyframes": 3,
        "audio": False,
    }
    values.update(more)
    return Segment(**values)  # type: ignore[arg-type]


def fill(index: RecordingIndex, segments: list[Segment]) -> None:
    for s in segments:
        assert index.add(s) is True


def all_pages(index: RecordingIndex, query: SegmentQuery) -> list[list[Segment]]:
    pages = []
    while True:
        page = index.segments(query)
        pages.append(page.segments)
        if page.next_cursor is None:
            return pages
        query = replace(query, cursor=page.next_cursor)


# --- add ----------------------------------------------------------------------------------


def test_a_segment_comes_back_as_it_went_in(recordings: RecordingIndex) -> None:
    plus_two = timezone(timedelta(hours=2))
    s = seg("porch", 0.123456, 9.5, size=2**40, codec="hevc", keyframes=7, audio=True)
    odd_zone = replace(s, start=s.start.astimezone(plus_two), end=s.end.astimezone(plus_two))
    assert recordings.add(odd_zone) is True
    [back] = recordings.segments(SegmentQuery()).segments
    assert back == s
    assert back.start.tzinfo is UTC


def test_adding_is_idempotent_by_camera_and_start_or_by_path(recordings: RecordingIndex) -> None:
    s = seg("porch", 0)
    assert recordings.add(s) is True
    assert recordings.add(s) is False
    assert recordings.add(replace(s, path="porch/other.mp4", bytes=5)) is False  # same start
    assert recordings.add(replace(s, start=s.start + S, end=s.end + S)) is False  # same path
    assert recordings.add(replace(s, camera="garden", path="garden/x.mp4")) is True
    assert recordings.segments(SegmentQuery(camera="porch")).segments == [s]
    assert recordings.totals() == {
        "garden": RecordingTotals(1, 1000, 1000),
        "porch": RecordingTotals(1, 1000, 1000),
    }


def test_another_handle_sees_what_one_added(index_opener: Callable[[], RecordingIndex]) -> None:
    first, second = index_opener(), index_opener()
    s = seg("porch", 0)
    assert first.add(s) is True
    assert second.add(s) is False
    assert second.overlapping("porch", T0, T0 + 5 * S) == [s]
    assert second.migrate() == []


# --- the list -----------------------------------------------------------------------------


def test_the_list_is_newest_first_and_pages_cover_every_segment_once(
    recordings: RecordingIndex,
) -> None:
    segments = [seg(camera, i * 10) for i in range(7) for camera in ("garden", "porch")]
    fill(recordings, segments)
    pages = all_pages(recordings, SegmentQuery(limit=3))
    assert [len(p) for p in pages] == [3, 3, 3, 3, 2]
    listed = [s for page in pages for s in page]
    assert listed == sorted(segments, key=lambda s: (s.start, s.camera), reverse=True)
    exact = recordings.segments(SegmentQuery(limit=len(segments)))
    assert len(exact.segments) == len(segments)
    assert exact.next_cursor is None
    assert recordings.segments(SegmentQuery(cursor="")).segments == listed  # "" = first page


def test_the_list_filters_by_camera_and_by_overlap_with_a_time_range(
    recordings: RecordingIndex,
) -> None:
    a, b, c = seg("porch", 0), seg("porch", 10), seg("porch", 20)
    other = seg("garden", 10)
    fill(recordings, [a, b, c, other])

    def listed(**query: object) -> list[Segment]:
        return recordings.segments(SegmentQuery(**query)).segments  # type: ignore[arg-type]

    assert listed(camera="porch") == [c, b, a]
    assert listed(camera="garden") == [other]
    assert listed(camera="nobody") == []
    # Overlap with [start, end): a segment ending at start, or starting at end, is outside.
    assert listed(camera="porch", start=T0 + 10 * S, end=T0 + 20 * S) == [b]
    assert listed(camera="porch", start=T0 + 9 * S, end=T0 + 21 * S) == [c, b, a]
    assert listed(start=T0 + 15 * S) == [c, b, other]  # camera DESC at equal starts
    assert listed(end=T0 + 10 * S) == [a]
    assert listed(start=T0 + 5 * S, end=T0 + 5 * S) == [a]  # an instant inside a
    pages = all_pages(recordings, SegmentQuery(camera="porch", start=T0 + 5 * S, limit=1))
    assert pages == [[c], [b], [a]]


# --- clips and retention ------------------------------------------------------------------


def test_overlapping_gives_a_clips_segments_in_start_order(recordings: RecordingIndex) -> None:
    segments = [seg("porch", i * 10) for i in range(5)]
    long_ago = seg("porch", -3000, 3000)  # an hour long, ending where the first starts
    fill(recordings, [*reversed(segments), long_ago, seg("garden", 15)])
    assert recordings.overlapping("porch", T0 + 15 * S, T0 + 31 * S) == segments[1:4]
    assert recordings.overlapping("porch", T0 + 10 * S, T0 + 20 * S) == [segments[1]]
    assert recordings.overlapping("porch", T0 - 1 * S, T0 + 1 * S) == [long_ago, segments[0]]
    assert recordings.overlapping("porch", T0 - 2999 * S, T0 - 2998 * S) == [long_ago]
    # An empty range asks for the segment holding that instant.
    assert recordings.overlapping("porch", T0 + 15 * S, T0 + 15 * S) == [segments[1]]
    assert recordings.overlapping("porch", T0 + 100 * S, T0 + 200 * S) == []
    assert recordings.overlapping("yard", T0, T0 + 100 * S) == []


def test_retention_walks_every_segment_in_start_order_in_batches(
    recordings: RecordingIndex,
) -> None:
    segments = [seg(camera, i * 10) for i in range(4) for camera in ("porch", "garden", "a1")]
    fill(recordings, list(reversed(segments)))
    expected = sorted(segments, key=lambda s: (s.start, s.camera))
    assert list(recordings.all_for_retention(batch_size=5)) == expected
    assert list(recordings.all_for_retention(batch_size=len(segments))) == expected
    assert list(recordings.all_for_retention()) == expected


def test_retention_reads_one_camera_or_what_started_by_an_instant(
    recordings: RecordingIndex,
) -> None:
    segments = [seg(camera, i * 10) for i in range(7) for camera in ("porch", "garden")]
    fill(recordings, segments)
    ordered = sorted(segments, key=lambda s: (s.start, s.camera))
    porch = [s for s in ordered if s.camera == "porch"]
    assert list(recordings.all_for_retention(batch_size=2, camera="porch")) == porch
    before = T0 + 30 * S  # the fourth start: up to it, and it too
    early = [s for s in ordered if s.start <= before]
    assert list(recordings.all_for_retention(batch_size=3, started_by=before)) == early
    both = list(recordings.all_for_retention(batch_size=1, camera="garden", started_by=before))
    assert both == [s for s in early if s.camera == "garden"]
    assert len(both) == 4
    assert list(recordings.all_for_retention(camera="yard")) == []
    assert list(recordings.all_for_retention(started_by=T0 - S)) == []
    with pytest.raises(ValueError, match="started_by"):
        list(recordings.all_for_retention(started_by=datetime(2026, 12, 6)))  # naive
    with pytest.raises(ValueError, match="camera"):
        list(recordings.all_for_retention(camera="no such camera!"))


def test_removing_forgets_segments_by_path_and_updates_totals(recordings: RecordingIndex) -> None:
    a, b, c = seg("porch", 0, size=100), seg("porch", 10, size=200), seg("garden", 0, size=400)
    fill(recordings, [a, b, c])
    assert recordings.totals() == {
        "garden": RecordingTotals(1, 400, 400),
        "porch": RecordingTotals(2, 300, 200),
    }
    assert recordings.remove([a.path, c.path, "porch/never-indexed.mp4", a.path]) == 2
    assert recordings.remove([a.path]) == 0
    assert recordings.remove([]) == 0
    assert recordings.totals() == {"porch": RecordingTotals(1, 200, 200)}
    assert list(recordings.all_for_retention()) == [b]
    assert recordings.add(a) is True  # a removed segment can be indexed again
    assert recordings.totals() == {"porch": RecordingTotals(2, 300, 200)}


def test_removing_many_at_once(recordings: RecordingIndex) -> None:
    segments = [seg("porch", i * 10) for i in range(1203)]
    fill(recordings, segments)
    assert recordings.remove([s.path for s in segments[:1201]]) == 1201
    assert list(recordings.all_for_retention()) == segments[1201:]


def test_an_empty_index(recordings: RecordingIndex) -> None:
    assert recordings.totals() == {}
    assert list(recordings.all_for_retention()) == []
    page = recordings.segments(SegmentQuery())
    assert page.segments == []
    assert page.next_cursor is None


# --- malformed input ----------------------------------------------------------------------


def forged(**fields: object) -> Segment:
    """A Segment built around its checks, as a bug or a pickle from elsewhere might."""
    good = seg("porch", 0)
    forged = object.__new__(Segment)
    for name in Segment.__dataclass_fields__:
        object.__setattr__(forged, name, fields.get(name, getattr(good, name)))
    return forged


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"end": T0 - S}, "before start"),
        ({"bytes": -1}, "integer from 0"),
        ({"camera": "Front Door"}, "must match"),
        ({"camera": "x" * 65}, "must match"),
        ({"start": datetime(2026, 12, 6, 12, 0)}, "naive"),
        ({"end": datetime(2026, 12, 6, 12, 0, 10)}, "naive"),
        ({"path": "../../etc/passwd"}, "relative"),
        ({"keyframes": "3"}, "integer from 0"),
    ],
)
def test_a_malformed_segment_is_refused_with_a_clear_error_and_not_stored(
    recordings: RecordingIndex, fields: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        Segment(
            **{**{n: getattr(seg("porch", 0), n) for n in Segment.__dataclass_fields__}, **fields}
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=words):
        recordings.add(forged(**fields))
    assert recordings.totals() == {}


def test_add_takes_only_segments(recordings: RecordingIndex) -> None:
    with pytest.raises(TypeError, match="Segment"):
        recordings.add({"camera": "porch"})  # type: ignore[arg-type]


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        cursor_of(["r", "yesterday", "porch"]),
        cursor_of(["r", "2026-12-06T12:00:00Z", "Bad Camera"]),
        cursor_of(["r", "2026-12-06T12:00:00"]),  # too short
        cursor_of(["o", "2026-12-06T12:00:00Z", "porch"]),  # another list's tag
        cursor_of(["2026-12-06T12:00:00Z", "porch:1:000001"]),  # a frame list's cursor
        cursor_of({"r": 1}),
        cursor_of([[[[[[[[[[[]]]]]]]]]]]),
        "W" * 5000,
    ],
)
def test_a_bad_cursor_is_refused_with_a_clear_error(
    recordings: RecordingIndex, cursor: str
) -> None:
    fill(recordings, [seg("porch", 0)])
    with pytest.raises(ValueError, match=r"cursor .* is not valid; pass the next_cursor"):
        recordings.segments(SegmentQuery(cursor=cursor))


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (SegmentQuery(camera="Porch"), "must match"),
        (SegmentQuery(camera=""), "must match"),
        (SegmentQuery(start=datetime(2026, 12, 6)), "naive"),
        (SegmentQuery(end=datetime(2026, 12, 6)), "naive"),
        (SegmentQuery(start=T0, end=T0 - S), "before start"),
        (SegmentQuery(limit=0), "positive integer"),
        (SegmentQuery(limit=1001), "at most 1000"),
        (SegmentQuery(start="2026-12-06T12:00:00Z"), "datetime"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_query_is_refused(
    recordings: RecordingIndex, query: SegmentQuery, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        recordings.segments(query)


@pytest.mark.parametrize(
    ("camera", "start", "end", "words"),
    [
        ("Porch", T0, T0 + S, "must match"),
        ("porch", datetime(2026, 12, 6), T0, "naive"),
        ("porch", T0, datetime(2026, 12, 7), "naive"),
        ("porch", T0 + S, T0, "before start"),
    ],
)
def test_a_malformed_range_is_refused(
    recordings: RecordingIndex, camera: str, start: datetime, end: datetime, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        recordings.overlapping(camera, start, end)


def test_malformed_paths_and_batches_are_refused(recordings: RecordingIndex) -> None:
    fill(recordings, [seg("porch", 0)])
    with pytest.raises(TypeError, match="not one path"):
        recordings.remove("porch/x.mp4")
    for bad in ("../x.mp4", "/abs.mp4", "", "a\x00b"):
        with pytest.raises(ValueError, match="relative to the recordings root"):
            recordings.remove([bad])
    with pytest.raises(ValueError, match="batch_size"):
        list(recordings.all_for_retention(batch_size=0))
    assert recordings.totals() == {"porch": RecordingTotals(1, 1000, 1000)}
