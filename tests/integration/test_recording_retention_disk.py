"""Retention on a small real disk: a 16 MiB tmpfs as the recordings root, a looped 720p video
recorded continuously by a real camera worker until the free-space floor is reached.

The free bytes, sampled every 5 ms, never go below ``min_free_bytes``; footage an object
claims outlives the continuous footage recorded after it; when something else fills the
disk, recording pauses (metric and flag) while capture goes on decoding, and resumes when the
space comes back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from detektor.kit.app import ServiceKit
from detektor.ports import SegmentQuery
from detektor.services.capture.settings import CameraSettings
from detektor.settings import Settings
from support.object_events import ObjectScript, envelope
from support.recording_rig import recording_rig
from support.recordings import make_video
from support.waiting import wait_until

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
FLOOR = 12 * MIB  # of 16: about 4 MiB of footage, 7 s of this video


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "recordings"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


class FreeSampler(threading.Thread):
    """The least free space seen, every 5 ms, until stopped."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.least = root, shutil.disk_usage(root).free
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.least = min(self.least, shutil.disk_usage(self.root).free)


def sample(kit: ServiceKit, name: str, **labels: str) -> float:
    value = kit.metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


async def test_the_floor_holds_objects_outlive_and_capture_survives_a_pause(
    small_disk: Path, tmp_path: Path
) -> None:
    video = tmp_path / "door.mp4"
    make_video(video, seconds=4, size=(1280, 720), gop=5, audio=False)
    camera = CameraSettings.model_validate(
        {
            "name": "door",
            "source": str(video),
            "loop": True,
            "detect_fps": 1,
            "record": {"mode": "continuous", "segment_s": 1, "pre_s": 0, "post_s": 0},
        }
    )
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "recordings": {
                "root": str(small_disk),
                "min_free_bytes": FLOOR,
                "sweep_interval_s": 0.1,
            },
        }
    )
    rig = await recording_rig(tmp_path, settings, camera)
    kit, recording, index, store = rig.kit, rig.recording, rig.index, rig.events
    worker = rig.worker()
    recorder = recording.recorders["door"]
    retention = recording.retention
    assert retention is not None
    sampler = FreeSampler(small_disk)
    sampler.start()
    recording.start()
    task = asyncio.create_task(worker.run())
    try:

        def segments() -> list[str]:
            found = index.segments(SegmentQuery(camera="door", limit=1000)).segments
            return sorted(s.path for s in found)

        await wait_until(lambda: len(segments()) >= 2, 30, "two segments")
        first = min(index.segments(SegmentQuery(limit=1000)).segments, key=lambda s: s.start)
        person = ObjectScript(camera="door", start=first.start + timedelta(seconds=0.1))
        store.append([envelope(person.started()), envelope(person.ended(0.1))])

        # Recording fills the disk to the floor; retention deletes continuous footage.
        await wait_until(
            lambda: retention.deleted.get("disk_low", 0) >= 5, 60, "five disk_low deletions"
        )
        sampler.done.set()
        sampler.join()
        assert sampler.least >= FLOOR, f"free bytes went to {sampler.least} < {FLOOR}"
        print(f"least free {sampler.least} (floor {FLOOR}), deleted {retention.deleted}")
        kept = segments()
        assert first.path in kept, "the object's footage went before continuous footage"
        assert (small_disk / first.path).is_file()
        assert kept[0] == first.path  # every later segment left is newer than a deleted one
        assert sample(kit, "detektor_recording_deleted_segments_total", reason="disk_low") >= 5
        assert sample(kit, "detektor_recording_paused") == 0
        assert sample(kit, "detektor_recording_bytes", camera="door") > 0

        # Something else fills the disk: even deleting every segment would not free the floor.
        ballast = small_disk / "ballast"  # not a segment: retention never deletes it
        ballast.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - MIB))
        await wait_until(lambda: recorder.paused, 10, "recording to pause")
        assert sample(kit, "detektor_recording_paused") == 1
        assert sample(kit, "detektor_recording_stalled", camera="door") == 1
        await anyio.sleep(1.5)  # the segment open at the pause is closed (or given up)
        during = segments()
        decoded = worker.decoded
        await anyio.sleep(3)
        assert worker.decoded > decoded + 30, "capture stopped decoding while paused"
        assert segments() == during, "segments were written while paused"
        assert first.path in during  # nothing deleted for a floor that cannot be met

        ballast.unlink()
        await wait_until(lambda: not recorder.paused, 10, "recording to resume")
        await wait_until(lambda: len(set(segments()) - set(during)) >= 1, 10, "a new segment")
        assert sample(kit, "detektor_recording_paused") == 0
    finally:
        sampler.done.set()
        worker.stop()
        await task
        await recording.stop(5)
        rig.close()
