"""``motion`` mode end to end: a real camera worker plays a real video in real time (still,
then a square moving for 3 s, then still), a real recorder writes it in 1 s segments, the
camera's motion gate feeds its motion spans to the SQLite recording index, and retention,
once no motion can claim the still footage any more, deletes it and keeps the footage with
motion. Then ``detektor run`` itself, on the same video: its motion spans reach the SQLite
index beside the events."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
import pytest
from av.video.stream import VideoStream

from detektor.domain.recordings import Segment, SpanKind
from detektor.domain.retention import CLAIM_S
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings.cleanup import DiskUsage, Retention
from detektor.settings import Settings
from support.embedded_run import run_to_end
from support.recording_rig import recording_rig

pytestmark = pytest.mark.anyio

FPS = 25
STILL_S, MOVING_S, AFTER_S = 3, 3, 4  # the square moves from 3 s to 6 s


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def still_moving_still(path: Path) -> None:
    """Grey; a white square crossing it; grey again. A keyframe every second."""
    with av.open(str(path), "w", format="mp4") as out:
        video = cast(VideoStream, out.add_stream("libx264", rate=Fraction(FPS)))
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"g": str(FPS), "keyint_min": str(FPS), "sc_threshold": "0"}
        video.options |= {"preset": "ultrafast"}
        for i in range((STILL_S + MOVING_S + AFTER_S) * FPS):
            image = np.full((240, 320, 3), 128, np.uint8)
            moving = i - STILL_S * FPS
            if 0 <= moving < MOVING_S * FPS:
                x = moving * 12 % 260  # 60 px a sample: no trail in the background
                image[90:150, x : x + 60] = 255
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))


async def test_motion_mode_keeps_footage_with_motion_and_deletes_the_still_footage(
    tmp_path: Path,
) -> None:
    video = tmp_path / "yard.mp4"
    still_moving_still(video)
    camera = CameraSettings.model_validate(
        {
            "name": "yard",
            "source": str(video),
            "detect_fps": 5,
            "motion": {"warmup_frames": 1},
            "record": {"mode": "motion", "segment_s": 1, "pre_s": 0, "post_s": 0},
        }
    )
    settings = Settings.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "recordings": {"min_free_bytes": 0, "sweep_interval_s": 0.2},
        }
    )
    rig = await recording_rig(tmp_path, settings, camera)
    recording, index, store = rig.recording, rig.index, rig.events
    worker = rig.worker(
        realtime_files=True,  # frame times and segment times both follow the wall clock
        motion=recording.motion("yard"),
    )
    recording.start()
    try:
        await asyncio.wait_for(worker.run(), 30)
    finally:
        worker.stop()
        await recording.stop(5)
    assert worker.finished
    segments = sorted(index.all_for_retention(), key=lambda s: s.start)
    assert len(segments) >= 9, segments
    # The sweeps while it recorded deleted nothing: motion could still claim all of it.
    assert recording.retention is not None
    assert recording.retention.deleted == {}

    begin = segments[0].start
    spans = index.spans(SpanKind.MOTION, begin, segments[-1].end, "yard")
    offsets = [((s.start - begin).total_seconds(), (s.end - begin).total_seconds()) for s in spans]
    print("motion spans (s from the first segment):", offsets)
    assert any(lo <= STILL_S + 0.5 and hi >= STILL_S + MOVING_S - 0.5 for lo, hi in offsets)
    assert all(hi <= STILL_S + MOVING_S + 1 for lo, hi in offsets if lo > STILL_S)

    # Later: the still footage is past pre_s + CLAIM_S; the footage with motion is not old.
    later = datetime.now(UTC) + timedelta(seconds=CLAIM_S + 5)
    retention = Retention(
        index,
        store,
        recording.root,
        settings.recordings,
        recording.policies,
        recording.recorders,
        recording.metrics,
        disk_usage=lambda _: DiskUsage(10**12, 0, 10**12),
        clock=lambda: later,
    )
    deleted = {d.segment.path for d in retention.sweep()}
    kept = {s.path for s in index.all_for_retention()}

    def at(s: Segment) -> float:
        return (s.start - begin).total_seconds()

    moving = [s for s in segments if STILL_S <= at(s) <= STILL_S + MOVING_S - 1]
    still_after = [s for s in segments if at(s) >= STILL_S + MOVING_S + 1]
    # After the gate's first frame (moving: it knows nothing yet), before the square.
    still_before = [s for s in segments if 1 <= at(s) <= STILL_S - 2]
    assert moving
    assert still_after
    assert still_before
    assert {s.path for s in moving} <= kept
    assert {s.path for s in still_after + still_before} <= deleted
    assert all((recording.root / s.path).is_file() for s in moving)
    assert not any((recording.root / s.path).exists() for s in still_after + still_before)
    print("kept", sorted(round(at(s), 1) for s in segments if s.path in kept))
    rig.close()


def test_detektor_run_feeds_the_motion_of_a_motion_mode_camera_to_the_index(
    tmp_path: Path,
) -> None:
    video = tmp_path / "yard.mp4"
    still_moving_still(video)
    config = tmp_path / "cams.yml"
    config.write_text(
        "cameras:\n"
        "  - name: yard\n"
        f"    source: {video}\n"
        "    detect_fps: 5\n"
        "    motion: {warmup_frames: 1}\n"
        "    record: {mode: motion, segment_s: 1, pre_s: 0, post_s: 0}\n"
    )
    done = run_to_end(tmp_path, config, 12, DETEKTOR_RECORDINGS__MIN_FREE_BYTES="0")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "detektor-data" / "detektor.db") as db:
        first = db.execute("SELECT min(start_at) FROM recording_segments").fetchone()[0]
        rows = db.execute(
            "SELECT camera, kind, start_at, end_at FROM recording_spans ORDER BY start_at"
        ).fetchall()
        kept = db.execute("SELECT count(*) FROM recording_segments").fetchone()[0]
    begin = datetime.fromisoformat(first)
    offsets = [
        (
            (datetime.fromisoformat(lo) - begin).total_seconds(),
            (datetime.fromisoformat(hi) - begin).total_seconds(),
        )
        for _, _, lo, hi in rows
    ]
    print("motion spans (s from the first segment):", offsets)
    assert {(camera, kind) for camera, kind, _, _ in rows} == {("yard", "motion")}
    assert any(lo <= STILL_S + 0.5 and hi >= STILL_S + MOVING_S - 0.5 for lo, hi in offsets)
    assert kept >= 9  # all of it: motion could still claim the still footage
