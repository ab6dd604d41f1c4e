"""One retention sweep over the in-memory index and event store, with the disk's numbers
given: what it deletes (files and rows, a file already gone included), the object spans it
reads from the store (paged), the totals it reports, and pausing and resuming recording."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detektor.adapters.memory import MemoryEventStore
from detektor.adapters.memory_recordings import MemoryRecordingIndex
from detektor.domain.recordings import RecordingSpan, RecordPolicy, Segment, SpanKind
from detektor.kit.metrics import Metrics
from detektor.ports import RecordingTotals
from detektor.services.capture.recorder import Recorder
from detektor.services.recordings import cleanup
from detektor.services.recordings.cleanup import DiskUsage, Retention, object_spans
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.services.recordings.settings import RecordingsSettings
from support.object_events import ObjectScript, envelope

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=10)


def segment(n: int, start: datetime = OLD) -> Segment:
    begin = start + timedelta(seconds=10 * n)
    path = f"door/{begin:%Y-%m-%d}/{begin:%H-%M-%S}.mp4"
    return Segment("door", begin, begin + timedelta(seconds=10), path, 1000, "h264", 1, False)


class Disk:
    """A volume of ``capacity`` bytes holding only the files under the root."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def __call__(self, root: Path) -> DiskUsage:
        used = sum(p.stat().st_size for p in root.rglob("*.mp4"))
        return DiskUsage(self.capacity, used, self.capacity - used)


def build(
    tmp_path: Path, capacity: int, min_free: int = 0
) -> tuple[Retention, MemoryRecordingIndex, MemoryEventStore, Metrics, Disk, Recorder]:
    index, store, registry, disk = (
        MemoryRecordingIndex(),
        MemoryEventStore(),
        Metrics("t", "0"),
        Disk(capacity),
    )
    recorder = Recorder("door", tmp_path)
    settings = RecordingsSettings(min_free_bytes=min_free)
    retention = Retention(
        index,
        store,
        tmp_path,
        settings,
        {"door": RecordPolicy(retain_days=7, objects_retain_days=30, pre_s=0, post_s=0)},
        {"door": recorder},
        RecordingMetrics(registry),
        disk_usage=disk,
        clock=lambda: NOW,
    )
    return retention, index, store, registry, disk, recorder


def put(root: Path, index: MemoryRecordingIndex, *segments: Segment) -> None:
    for s in segments:
        (root / s.path).parent.mkdir(parents=True, exist_ok=True)
        (root / s.path).write_bytes(b"\0" * s.bytes)
        index.add(s)


def value(registry: Metrics, name: str, **labels: str) -> float | None:
    return registry.registry.get_sample_value(name, labels)


def test_a_sweep_deletes_expired_footage_and_keeps_what_an_object_claims(tmp_path: Path) -> None:
    retention, index, store, registry, _, _ = build(tmp_path, capacity=10**9)
    old = [segment(n) for n in range(4)]
    put(tmp_path, index, *old)
    (tmp_path / old[3].path).unlink()  # already gone: deleting it again is fine
    person = ObjectScript(camera="door", start=old[1].start + timedelta(seconds=2))
    store.append([envelope(person.started()), envelope(person.ended(3))])
    deleted = retention.sweep()
    assert sorted(d.segment.path for d in deleted) == sorted(
        s.path for s in (old[0], old[2], old[3])
    )
    assert {d.reason.value for d in deleted} == {"age"}
    assert [s.path for s in index.all_for_retention()] == [old[1].path]
    assert (tmp_path / old[1].path).is_file()
    assert not (tmp_path / old[0].path).exists()
    assert value(registry, "detektor_recording_deleted_segments_total", reason="age") == 3
    assert value(registry, "detektor_recording_bytes", camera="door") == 1000
    assert value(registry, "detektor_recording_segments", camera="door") == 1
    assert value(registry, "detektor_recording_free_bytes") == 10**9 - 1000
    assert retention.sweep() == []  # nothing left to do


def test_recording_pauses_when_the_floor_cannot_be_met_and_resumes(tmp_path: Path) -> None:
    retention, index, _, registry, disk, recorder = build(tmp_path, 3500, min_free=10_000)
    fresh = [segment(n, NOW - timedelta(minutes=5)) for n in range(3)]
    put(tmp_path, index, *fresh)  # 500 bytes left free
    assert retention.sweep() == []  # deleting all 3000 bytes would not free 10000: keep them
    assert recorder.paused
    assert retention.paused
    assert value(registry, "detektor_recording_paused") == 1
    assert value(registry, "detektor_recording_stalled", camera="door") == 1
    disk.capacity = 12_500  # room again: 9500 free + 3000 >= 10000 + one segment of reserve
    deleted = retention.sweep()
    assert not recorder.paused
    assert value(registry, "detektor_recording_paused") == 0
    assert value(registry, "detektor_recording_stalled", camera="door") == 0
    # To reach the floor plus one segment's reserve (11000 free), the two oldest go.
    assert [(d.segment.path, d.reason.value) for d in deleted] == [
        (fresh[0].path, "disk_low"),
        (fresh[1].path, "disk_low"),
    ]
    assert value(registry, "detektor_recording_free_bytes") == 11_500


def test_object_spans_are_read_page_by_page_and_ended_or_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cleanup, "PAGE", 2)
    store = MemoryEventStore()
    events = []
    for n in range(5):
        person = ObjectScript(camera="door", track_id=n + 1, start=OLD + timedelta(minutes=n))
        events.append(envelope(person.started()))
        if n != 4:
            events.append(envelope(person.ended(30)))
    before = ObjectScript(camera="door", track_id=9, start=OLD - timedelta(days=3))
    events += [envelope(before.started()), envelope(before.ended(30))]
    store.append(events)
    spans = sorted(object_spans(store, OLD, NOW), key=lambda s: s.start)
    assert [s.start for s in spans] == [OLD + timedelta(minutes=n) for n in range(5)]
    assert [s.end is None for s in spans] == [False, False, False, False, True]
    assert spans[0].end == OLD + timedelta(seconds=30)


class DownIndex(MemoryRecordingIndex):
    """The database is away: a sweep's first read fails."""

    def totals(self) -> dict[str, RecordingTotals]:
        raise ConnectionError("database away")


class CountingIndex(MemoryRecordingIndex):
    """The memory index, counting the segments retention reads."""

    read = 0

    def all_for_retention(
        self,
        batch_size: int = 1000,
        *,
        camera: str | None = None,
        started_by: datetime | None = None,
    ) -> Iterator[Segment]:
        for s in super().all_for_retention(batch_size, camera=camera, started_by=started_by):
            self.read += 1
            yield s


def test_with_room_to_spare_a_sweep_reads_only_footage_old_enough_to_be_due(
    tmp_path: Path,
) -> None:
    """Eight days of hourly segments, kept seven: a sweep reads the day that is due, not the
    eight; once space must be made (the floor), it reads them all, to delete the oldest."""
    retention, _, _, registry, disk, _ = build(tmp_path, capacity=10**9)
    retention.index = index = CountingIndex()
    start = NOW - timedelta(days=8)
    hourly = [segment(0, start + timedelta(hours=h)) for h in range(8 * 24)]
    put(tmp_path, index, *hourly)
    due = [s for s in hourly if s.end <= NOW - timedelta(days=7)]
    deleted = retention.sweep()
    assert sorted(d.segment.path for d in deleted) == sorted(s.path for s in due)
    assert index.read == len(due) + 1  # and the one that starts at the horizon
    assert value(registry, "detektor_recording_segments", camera="door") == 7 * 24
    index.read = 0
    disk.capacity = 7 * 24 * 1000 + 500  # 500 bytes free
    retention.settings = RecordingsSettings(min_free_bytes=2500)  # + one segment: 3500
    deleted = retention.sweep()
    assert index.read == 7 * 24  # every segment kept so far
    assert [d.reason.value for d in deleted] == ["disk_low"] * 3  # the oldest three
    assert [d.segment for d in deleted] == hourly[len(due) : len(due) + 3]


def test_the_free_space_is_reported_even_when_the_index_is_away(tmp_path: Path) -> None:
    retention, _, _, registry, _, _ = build(tmp_path, capacity=5000, min_free=100)
    retention.index = DownIndex()
    with pytest.raises(ConnectionError):
        retention.sweep()
    # Not the gauge's 0, which would read as a full disk (RecordingDiskLow).
    assert value(registry, "detektor_recording_free_bytes") == 5000


def test_a_sweep_forgets_gaps_older_than_the_longest_objects_retain_days(tmp_path: Path) -> None:
    retention, index, _, _, _, _ = build(tmp_path, capacity=10**9)  # 30 days, default too

    def gap(days: float) -> RecordingSpan:
        start = NOW - timedelta(days=days)
        return RecordingSpan("door", SpanKind.GAP, start, start + timedelta(seconds=5), "stalled")

    for span in (gap(45), gap(31), gap(29)):
        assert index.add_span(span)
    retention.policies = {**retention.policies, "yard": RecordPolicy(objects_retain_days=40)}
    retention.sweep()  # the yard's 40 days bound it
    since = NOW - timedelta(days=100)
    assert index.spans(SpanKind.GAP, since, NOW) == [gap(31), gap(29)]
    retention.policies = {"door": RecordPolicy(objects_retain_days=30)}
    retention.sweep()
    assert index.spans(SpanKind.GAP, since, NOW) == [gap(29)]
