"""Recording end to end: a real RTSP camera (gst-rtsp-server) killed and restarted, a video file
at the default segment length, a recorder SIGKILLed mid-segment, and writes failing mid-segment
(the process's file size limit, as a full disk would). Segments are checked with ffprobe and
by decoding every frame with PyAV."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import detektor
import support
from detektor.services.capture.recorder import Recorder
from detektor.services.capture.repair import repair
from detektor.services.capture.segments import Gap, Segment
from detektor.services.capture.sources import SourceError, open_source
from support.recordings import decode_all, ffprobe, make_video, video_probe
from support.rtsp import RtspServer, require_rtsp_server

pytestmark = pytest.mark.integration


def worker(video: Path, root: Path, *args: str) -> subprocess.Popen[str]:
    paths = [str(Path(detektor.__file__).parents[1]), str(Path(support.__file__).parents[1])]
    return subprocess.Popen(
        [sys.executable, "-m", "support.record_worker", str(video), str(root), *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        stdout=subprocess.PIPE,
        text=True,
    )


def events(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines() if line.startswith("{")]


def test_a_file_at_the_default_segment_length(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    frames = make_video(video, seconds=25, fps=15, gop=30)  # a keyframe every 2 s
    kept: list[Segment] = []
    recorder = Recorder("cam", tmp_path / "rec", on_segment=kept.append)
    with open_source(str(video), recorder=recorder) as source:
        assert sum(1 for _ in source.frames()) == frames
    recorder.close()
    assert [round(s.duration_s) for s in kept] == [10, 10, 5]
    counted = 0
    for segment in kept:
        duration, n, _ = video_probe(segment.path)
        assert duration == pytest.approx(segment.duration_s, abs=2.0)  # ±one GOP
        assert decode_all(segment.path) == n
        counted += n
    assert counted == frames


# --- a real camera ----------------------------------------------------------------------


def record_live(url: str, recorder: Recorder, seconds: float) -> int:
    """Record from the camera for ``seconds`` of frames (or until it dies); frames decoded."""
    source = open_source(url, read_timeout_s=3, recorder=recorder)
    decoded = 0
    start = time.monotonic()
    try:
        for _ in source.frames():
            decoded += 1
            if time.monotonic() - start > seconds:
                break
    except SourceError:
        pass
    finally:
        source.close()
    return decoded


def test_a_camera_killed_and_restarted_leaves_a_gap_then_new_segments(tmp_path: Path) -> None:
    require_rtsp_server()
    kept: list[Segment] = []
    gaps: list[Gap] = []
    recorder = Recorder("cam", tmp_path, segment_s=2, on_segment=kept.append, on_gap=gaps.append)
    server = RtspServer().start()
    try:
        assert record_live(server.url, recorder, 5) > 100
        before = len(kept)
        server.kill()
        time.sleep(1.5)
        server.start()
        assert record_live(server.url, recorder, 5) > 100
    finally:
        server.stop()
        recorder.close()
    assert before >= 2
    assert len(kept) >= before + 2
    [gap] = gaps
    assert gap.reason == "reconnect"
    assert (gap.start, gap.end) == (kept[before - 1].end, kept[before].start)
    assert gap.duration_s > 1.0  # the camera was down for 1.5 s at least
    for segment in kept:
        _, n, tag = video_probe(segment.path)
        assert (segment.codec, tag, segment.audio) == ("h264", "avc1", False)
        assert decode_all(segment.path) == n > 0
    # Segments within a connection: 2 s up to one GOP (1 s) more; the last of each is cut short.
    for segment in kept[: before - 1] + kept[before:-1]:
        assert 2.0 - 0.1 <= video_probe(segment.path)[0] <= 3.0 + 0.1
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(("audio", "kept"), [("aac", True), ("pcmu", False)])
def test_a_camera_with_audio(tmp_path: Path, audio: str, kept: bool) -> None:
    """AAC is recorded beside the video; G.711, which MP4 in a browser cannot carry, is not."""
    require_rtsp_server()
    segments: list[Segment] = []
    recorder = Recorder("cam", tmp_path, segment_s=2, on_segment=segments.append)
    with RtspServer(audio=audio) as server:
        assert record_live(server.url, recorder, 3.5) > 60
    recorder.close()
    assert segments
    for segment in segments:
        assert segment.audio is kept
        streams = {s["codec_type"]: s for s in ffprobe(segment.path)["streams"]}
        assert ("audio" in streams) is kept
        video = float(streams["video"]["duration"])
        if kept:
            assert streams["audio"]["codec_name"] == "aac"
            assert float(streams["audio"]["duration"]) == pytest.approx(video, abs=0.3)
        assert decode_all(segment.path) == int(streams["video"]["nb_read_frames"])


# --- a recorder killed, or unable to write ------------------------------------------------


def test_a_recorder_killed_mid_segment_leaves_a_playable_segment_or_none(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    make_video(video, seconds=20, size=(640, 480))
    root = tmp_path / "rec"
    proc = worker(video, root, "--pace", "0.02", "--segment-s", "60")
    try:
        deadline = time.monotonic() + 60
        parts: list[Path] = []
        while time.monotonic() < deadline:  # a whole fragment (GOP) written, or more
            parts = list(root.rglob("*.mp4.part"))
            if parts and parts[0].stat().st_size > 150_000:
                break
            time.sleep(0.05)
        assert parts, "the worker wrote nothing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert list(root.rglob("*.mp4")) == []  # nothing closed yet: one .part
    [kept] = repair(root)
    assert list(root.rglob("*.part")) == []
    assert kept.keyframes >= 1
    duration, n, _ = video_probe(kept.path)
    assert decode_all(kept.path) == n == kept.keyframes * 25
    assert duration == pytest.approx(kept.duration_s, abs=0.05)


def test_writes_failing_mid_segment_stall_recording_not_capture(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    frames = make_video(video, seconds=6, size=(640, 480))
    root = tmp_path / "rec"
    proc = worker(video, root, "--fsize", "60000", "--segment-s", "2")
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    seen = events(out)
    kinds = [e["event"] for e in seen]
    done = seen[-1]
    assert done["decoded"] == 2 * frames  # capture decoded every frame of both passes
    assert done["failures"] >= 3
    assert not done["stalled"]
    stalls = [e["stalled"] for e in seen if e["event"] == "stall"]
    assert stalls == [True, False]  # reported once, then recording again
    assert kinds.index("stall") < kinds.index("segment")  # nothing written until space came
    written = [Path(e["path"]) for e in seen if e["event"] == "segment"]
    assert sorted(written) == sorted(root.rglob("*.mp4"))
    assert len(written) == 3
    assert not list(root.rglob("*.part"))  # failed segments were deleted
    assert sum(decode_all(path) for path in written) == frames
    assert all(
        path.stat().st_size > 60000 for path in itertools.islice(written, 2)
    )  # too big for the limit: these could only be written once it was lifted
