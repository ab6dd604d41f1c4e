"""The recorder's disk thread on real files: a disk that hangs never holds up the demuxing
thread (recording stalls instead and resumes after a ``stalled`` gap), and a segment the disk
thread cannot finish is reported as lost time, never as a segment."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import av
import pytest

from detektor.services.capture.disk_thread import DiskThread
from detektor.services.capture.recorder import Recorder
from detektor.services.capture.segments import Gap, Segment
from support.recordings import decode_all, make_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s at 25 fps, a keyframe every second, AAC audio."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    make_video(path, seconds=8)
    return path


class Got:
    """What a recorder reported: its segments, gaps and stalls."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.gaps: list[Gap] = []
        self.stalls: list[bool] = []

    def recorder(self, root: Path, disk: DiskThread, **options: float) -> Recorder:
        """A recorder of 2 s segments on ``disk`` that reports here, retrying at once."""
        return Recorder(
            "cam",
            root,
            segment_s=2,
            retry_s=0,
            disk=disk,
            on_segment=self.segments.append,
            on_gap=self.gaps.append,
            on_stall=self.stalls.append,
            **options,
        )


def feed(clip: Path, recorder: Recorder, between: dict[int, object] | None = None) -> float:
    """Demux the file into the recorder as capture does; the longest ``packet()`` call, s.
    ``between``: callables run before the packet with that index."""
    slowest = 0.0
    with av.open(str(clip)) as container:
        streams = (container.streams.video[0], container.streams.audio[0])
        recorder.start(*streams)
        for n, packet in enumerate(container.demux(*streams)):
            if between and n in between:
                between[n]()  # type: ignore[operator]
            began = time.perf_counter()
            recorder.packet(packet)
            slowest = max(slowest, time.perf_counter() - began)
    recorder.stop()
    return slowest


def test_a_hung_disk_stalls_recording_not_capture(clip: Path, tmp_path: Path) -> None:
    got = Got()
    disk = DiskThread("test-disk", max_bytes=300_000)  # about two GOPs of this file
    recorder = got.recorder(tmp_path, disk, wait_s=0.5)
    hung = threading.Event()
    # From the 60th packet (about a second in) the disk hangs: nothing queued is written.
    slowest = feed(clip, recorder, {60: lambda: disk.put(hung.wait, ())})
    assert slowest < 0.25  # the demuxing thread was never held up by the disk
    assert recorder.stalled
    assert got.stalls == [True]
    assert got.segments == []  # nothing could be finished while the disk hung
    hung.set()  # the disk is back, and keeps up (a file read at full speed outpaces any disk)
    disk.max_bytes = 1 << 30
    feed(clip, recorder)
    recorder.close()
    assert got.stalls == [True, False]
    # What was queued before and during the hang is written once the disk is back; the
    # second run is recorded whole (2 + 2 + 2 + 2 s, back to back).
    last = got.segments[-4:]
    assert [round(s.duration_s) for s in last] == [2, 2, 2, 2]
    assert [a.end for a in last[:-1]] == [b.start for b in last[1:]]
    assert all(decode_all(s.path) > 0 for s in got.segments)
    assert sorted(tmp_path.rglob("*.mp4*")) == sorted(s.path for s in got.segments)
    stalled = [g for g in got.gaps if g.reason == "stalled"]
    assert stalled, got.gaps  # the time the disk hung is a gap in the recording


def test_a_disk_that_hangs_creating_files_does_not_hold_up_capture(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead NFS mount hangs on metadata: creating a segment's file blocks. Only the disk
    thread creates files, so capture goes on and recording stalls, then resumes."""
    got = Got()
    disk = DiskThread("test-disk", max_bytes=300_000)
    recorder = got.recorder(tmp_path, disk, wait_s=0.5)
    back, real_open, created = threading.Event(), os.open, []

    def hanging_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if os.fspath(path).endswith(".part"):
            created.append(path)
            if len(created) > 1:
                back.wait(3)  # from the second segment on, until the mount is back
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", hanging_open)
    slowest = feed(clip, recorder)
    assert slowest < 0.25  # the demuxing thread never waited for a file to be created
    assert recorder.stalled  # the queue filled up behind the hung create
    back.set()
    disk.max_bytes = 1 << 30
    feed(clip, recorder)
    recorder.close()
    assert got.stalls == [True, False]
    assert sorted(tmp_path.rglob("*.mp4*")) == sorted(s.path for s in got.segments)
    assert all(decode_all(s.path) > 0 for s in got.segments)


def test_a_segment_that_cannot_be_finished_is_lost_time(clip: Path, tmp_path: Path) -> None:
    got = Got()
    disk = DiskThread("test-disk")
    recorder = got.recorder(tmp_path, disk)

    def lose_the_part() -> None:  # someone deletes the file being written: rename fails
        disk.drain()  # the first segment is renamed by now
        [part] = tmp_path.rglob("*.part")
        part.unlink()

    feed(clip, recorder, {150: lose_the_part})  # in the second segment
    recorder.close()
    assert recorder.failures == 1
    assert len(got.segments) == 3
    [lost] = [g for g in got.gaps if g.reason == "stalled"]
    first, second = got.segments[0], got.segments[1]
    assert lost.start == first.end
    assert lost.end == second.start
    assert lost.duration_s == pytest.approx(2.0, abs=0.1)
    assert got.stalls == [True, False]
