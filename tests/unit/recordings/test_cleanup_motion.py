"""A retention sweep with a camera in `motion` mode, over the in-memory index: the motion
spans it reads from the index keep their footage, the rest goes once no motion can claim it,
and spans no policy can still need are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from detektor.adapters.memory import MemoryEventStore
from detektor.adapters.memory_recordings import MemoryRecordingIndex
from detektor.domain.recordings import (
    MAX_SEGMENT,
    RecordingSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    SpanKind,
)
from detektor.kit.metrics import Metrics
from detektor.services.capture.recorder import Recorder
from detektor.services.recordings.cleanup import DiskUsage, Retention, motion_horizon
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.services.recordings.settings import RecordingsSettings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
MOTION = RecordPolicy(mode=RecordMode.MOTION, retain_days=3, objects_retain_days=30, pre_s=2)


def segment(start: datetime) -> Segment:
    path = f"door/{start:%Y-%m-%d}/{start:%H-%M-%S}.mp4"
    return Segment("door", start, start + timedelta(seconds=10), path, 1000, "h264", 1, False)


def moved(start: datetime, seconds: float, camera: str = "door") -> RecordingSpan:
    return RecordingSpan(camera, SpanKind.MOTION, start, start + timedelta(seconds=seconds))


def retention(
    root: Path,
    index: MemoryRecordingIndex,
    policy: RecordPolicy,
    backlog_since: datetime | None = None,
) -> Retention:
    return Retention(
        index,
        MemoryEventStore(),
        root,
        RecordingsSettings(min_free_bytes=0),
        {"door": policy},
        {"door": Recorder("door", root)},
        RecordingMetrics(Metrics("t", "0")),
        disk_usage=lambda _: DiskUsage(10**9, 0, 10**9),
        clock=lambda: NOW,
        backlog_since=lambda: backlog_since,
    )


def test_a_sweep_keeps_footage_around_motion_from_the_index_and_deletes_the_rest(
    tmp_path: Path,
) -> None:
    index = MemoryRecordingIndex()
    hour_ago = NOW - timedelta(hours=1)
    segments = [segment(hour_ago + timedelta(seconds=10 * n)) for n in range(4)]
    fresh = segment(NOW - timedelta(seconds=30))  # motion may still claim it
    for s in (*segments, fresh):
        (tmp_path / s.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / s.path).write_bytes(b"\0" * s.bytes)
        index.add(s)
    # Motion in the second segment; pre_s widens it into the first's last 2 s.
    index.add_span(moved(segments[1].start + timedelta(seconds=1), 3))
    index.add_span(moved(segments[3].start, 1, camera="garden"))  # another camera's
    deleted = retention(tmp_path, index, MOTION).sweep()
    assert sorted(d.segment.path for d in deleted) == sorted(
        s.path for s in (segments[2], segments[3])
    )
    assert {d.reason.value for d in deleted} == {"age"}
    kept = sorted(s.path for s in index.all_for_retention())
    assert kept == sorted(s.path for s in (segments[0], segments[1], fresh))
    assert not (tmp_path / segments[2].path).exists()


def test_a_continuous_camera_keeps_its_footage_whatever_the_motion(tmp_path: Path) -> None:
    index = MemoryRecordingIndex()
    old = segment(NOW - timedelta(hours=1))
    (tmp_path / old.path).parent.mkdir(parents=True)
    (tmp_path / old.path).write_bytes(b"\0" * old.bytes)
    index.add(old)
    assert retention(tmp_path, index, RecordPolicy(retain_days=3)).sweep() == []


def test_motion_spans_no_policy_needs_are_forgotten_at_each_sweep(tmp_path: Path) -> None:
    index = MemoryRecordingIndex()
    assert motion_horizon({"door": MOTION}, RecordPolicy(retain_days=1), NOW) == (
        # The longest retain_days (3; the default's is 1), post_s (5) and a segment's length.
        NOW - timedelta(days=3, seconds=5) - MAX_SEGMENT
    )
    default = RecordingsSettings().default.policy()  # what the sweep falls back on
    horizon = motion_horizon({"door": MOTION}, default, NOW)
    assert horizon is not None
    forgotten = moved(horizon - timedelta(seconds=10), 5)
    needed = moved(horizon - timedelta(seconds=2), 5)  # ends after the horizon
    index.add_span(forgotten)
    index.add_span(needed)
    retention(tmp_path, index, MOTION).sweep()
    assert index.spans(SpanKind.MOTION, NOW - timedelta(days=30), NOW) == [needed]
    # A policy kept for ever forgets nothing.
    assert (
        motion_horizon(
            {"door": RecordPolicy(retain_days=1e9, objects_retain_days=1e9)}, MOTION, NOW
        )
        is None
    )


def test_footage_waits_while_the_index_feed_has_a_backlog(tmp_path: Path) -> None:
    """After a database outage the feed catches up: a segment may be indexed before the
    motion span that claims it, still queued. Nothing the queued span could claim goes."""
    index = MemoryRecordingIndex()
    waiting = segment(NOW - timedelta(minutes=5))  # unclaimed by what the index holds now
    (tmp_path / waiting.path).parent.mkdir(parents=True)
    (tmp_path / waiting.path).write_bytes(b"\0" * waiting.bytes)
    index.add(waiting)
    since = NOW - timedelta(minutes=6)  # the outage began before the segment was closed
    assert retention(tmp_path, index, MOTION, backlog_since=since).sweep() == []
    assert (tmp_path / waiting.path).exists()
    # The backlog drained and no span claimed it: it goes.
    [gone] = retention(tmp_path, index, MOTION).sweep()
    assert gone.segment == waiting


def test_a_retention_of_millennia_forgets_no_span_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # "Keep forever" written as ten million days: how far back to forget is before any
    # time. Before, the gaps' cut-off raised OverflowError and every sweep failed.
    forever = RecordPolicy(mode=RecordMode.MOTION, retain_days=10**7, objects_retain_days=10**7)
    index = MemoryRecordingIndex()
    assert index.add_span(moved(NOW - timedelta(days=400), 5))
    assert retention(tmp_path, index, forever).sweep() == []
    assert len(index.spans(SpanKind.MOTION, NOW - timedelta(days=500), NOW)) == 1
