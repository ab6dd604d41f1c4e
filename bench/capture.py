"""Capture throughput: decode, sample, motion-gate and JPEG-encode a 1080p H.264 file.

The script makes a 1080p30 H.264 file (FFmpeg's ``testsrc2``, libx264) in a temporary
directory, then measures, in the same run and alternating so both see the same machine:

- the baseline: ``ffmpeg -hide_banner -loglevel error -threads N -i FILE -f null -``, for
  N = 2 and N = 1 (wall time, decoded frames per second);
- our path: ``open_source(FILE)`` (PyAV, threaded, not paced) + ``Sampler(detect_fps)`` +
  ``MotionGate`` on every sampled frame + ``cv2.imencode`` JPEG at quality 85 of every
  sampled frame (capture publishes JPEGs; only moving frames are encoded in the pipeline,
  so this is the worst case); and our source alone, for the breakdown.

It prints frames per second for each and the ratio ours / ffmpeg. Target: ratio >= 0.5
against ``-threads 2``. Progress goes to stderr, results to stdout.

    .venv/bin/python bench/capture.py [--frames 300] [--detect-fps 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from detektor.services.capture.motion import MotionGate
from detektor.services.capture.sampler import Sampler
from detektor.services.capture.settings import MotionSettings
from detektor.services.capture.sources import open_source


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_video(path: Path, frames: int) -> None:
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30"),
            *("-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast"),
            *("-pix_fmt", "yuv420p", "-g", "60", str(path)),
        ],
        check=True,
    )


def ffmpeg_decode(path: Path, threads: int) -> float:
    """Seconds for FFmpeg to decode the whole file and throw the frames away."""
    start = time.perf_counter()
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", str(threads)),
            *("-i", str(path), "-f", "null", "-"),
        ],
        check=True,
    )
    return time.perf_counter() - start


def our_capture(path: Path, detect_fps: float) -> tuple[float, dict[str, int]]:
    """Seconds for our capture path over the whole file, and what it counted."""
    counts = {"decoded": 0, "sampled": 0, "moving": 0, "jpeg_bytes": 0}
    start = time.perf_counter()
    with open_source(str(path), realtime=False) as source:
        sampler = Sampler(detect_fps)
        gate: MotionGate | None = None
        for frame in source.frames():
            counts["decoded"] += 1
            if not sampler.sample(frame.time_s):
                continue
            counts["sampled"] += 1
            if gate is None:
                gate = MotionGate(MotionSettings(), [], (frame.width, frame.height))
            image = frame.image
            counts["moving"] += gate.check(image).moving
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            assert ok
            counts["jpeg_bytes"] += len(jpeg)
    return time.perf_counter() - start, counts


def our_decode_only(path: Path) -> float:
    """Seconds for our source alone: every frame decoded, no pixels converted."""
    start = time.perf_counter()
    with open_source(str(path), realtime=False) as source:
        for _ in source.frames():
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=300, help="length of the 1080p30 clip")
    parser.add_argument("--detect-fps", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed: apt-get install ffmpeg")

    with tempfile.TemporaryDirectory(prefix="detektor-bench-") as tmp:
        path = Path(tmp) / "1080p30.mp4"
        progress(f"making {args.frames} frames of 1920x1080 H.264 in {path} ...")
        make_video(path, args.frames)
        ffmpeg_decode(path, 2)  # warm the page cache and the binaries
        times: dict[str, list[float]] = {"ffmpeg -threads 2": [], "ffmpeg -threads 1": []}
        times["ours"] = []
        times["ours, decode only"] = []
        counts: dict[str, int] = {}
        for run in range(1, args.repeat + 1):
            progress(f"run {run}/{args.repeat}: ffmpeg -threads 2, -threads 1, ours, decode only")
            times["ffmpeg -threads 2"].append(ffmpeg_decode(path, 2))
            times["ffmpeg -threads 1"].append(ffmpeg_decode(path, 1))
            seconds, counts = our_capture(path, args.detect_fps)
            times["ours"].append(seconds)
            times["ours, decode only"].append(our_decode_only(path))

    if counts["decoded"] != args.frames:
        sys.exit(f"decoded {counts['decoded']} frames, expected {args.frames}")
    fps = {name: args.frames / statistics.median(runs) for name, runs in times.items()}
    print(f"1080p30 H.264, {args.frames} frames, median of {args.repeat} runs")
    for name, value in fps.items():
        print(f"  {name:<18} {value:7.1f} fps")
    print(
        f"  ours: sampled {counts['sampled']} at detect_fps={args.detect_fps:g}, "
        f"{counts['moving']} moving, JPEG q85 avg {counts['jpeg_bytes'] // counts['sampled']} B"
    )
    ratio_2 = fps["ours"] / fps["ffmpeg -threads 2"]
    ratio_1 = fps["ours"] / fps["ffmpeg -threads 1"]
    print(f"  ratio ours / ffmpeg -threads 2: {ratio_2:.2f} (target >= 0.5)")
    print(f"  ratio ours / ffmpeg -threads 1: {ratio_1:.2f}")


if __name__ == "__main__":
    main()
