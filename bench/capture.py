"""Capture throughput: decode, sample, motion-gate and JPEG-encode a 1080p H.264 file.

The script makes a 1080p30 H.264 file (FFmpeg's ``testsrc2``, libx264) in a temporary
directory, then measures, in the same run and alternating so both see the same machine:

- the baseline: ``ffmpeg -benchmark -threads N -i FILE -f null -``, for N = 2 and N = 1.
  Its time is FFmpeg's own ``rtime`` (``-benchmark``): the transcode loop only, so process
  start-up, library initialisation and opening/probing the input are excluded (about 0.1 s
  here, which on a 300-frame file is 10-20% of the wall time the first version of this
  bench measured). The wall time is printed beside it, for comparison with older figures;
- our path: ``open_source(FILE)`` (PyAV, threaded, not paced) + ``Sampler(detect_fps)`` +
  ``MotionGate`` on every sampled frame + ``cv2.imencode`` JPEG at quality 85 of every
  sampled frame (capture publishes JPEGs; only moving frames are encoded in the pipeline,
  so this is the worst case); and our source alone, for the breakdown. Ours is timed from
  before ``open_source`` (opening the file is counted against us, a few milliseconds).

It prints frames per second for each, the ratio ours / ffmpeg (target >= 0.5 against
``-threads 2``), and CPU seconds per frame (ours from ``getrusage``, FFmpeg's
``utime + stime``). Progress goes to stderr, results to stdout.

    .venv/bin/python bench/capture.py [--frames 300] [--detect-fps 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


BENCH_LINE = re.compile(r"bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s")


@dataclass(frozen=True)
class Timing:
    seconds: float  # the time the ratio uses: rtime for FFmpeg, wall for ours
    wall: float
    cpu: float


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ffmpeg_decode(path: Path, threads: int) -> Timing:
    """FFmpeg decoding the whole file and throwing the frames away, timed by ``-benchmark``."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-nostats", "-loglevel", "info", "-benchmark"),
            *("-threads", str(threads), "-i", str(path), "-f", "null", "-"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    found = BENCH_LINE.search(done.stderr)
    if found is None:
        sys.exit(f"no '-benchmark' line in ffmpeg's output:\n{done.stderr[-2000:]}")
    utime, stime, rtime = (float(x) for x in found.groups())
    return Timing(rtime, wall, utime + stime)


def our_capture(path: Path, detect_fps: float) -> tuple[Timing, dict[str, int]]:
    """Our capture path over the whole file, and what it counted."""
    counts = {"decoded": 0, "sampled": 0, "moving": 0, "jpeg_bytes": 0}
    cpu, start = cpu_now(), time.perf_counter()
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
    wall = time.perf_counter() - start
    return Timing(wall, wall, cpu_now() - cpu), counts


def our_decode_only(path: Path) -> Timing:
    """Our source alone: every frame decoded, no pixels converted."""
    cpu, start = cpu_now(), time.perf_counter()
    with open_source(str(path), realtime=False) as source:
        for _ in source.frames():
            pass
    wall = time.perf_counter() - start
    return Timing(wall, wall, cpu_now() - cpu)


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
        names = ("ffmpeg -threads 2", "ffmpeg -threads 1", "ours", "ours, decode only")
        times: dict[str, list[Timing]] = {name: [] for name in names}
        counts: dict[str, int] = {}
        for run in range(1, args.repeat + 1):
            progress(f"run {run}/{args.repeat}: ffmpeg -threads 2, -threads 1, ours, decode only")
            times["ffmpeg -threads 2"].append(ffmpeg_decode(path, 2))
            times["ffmpeg -threads 1"].append(ffmpeg_decode(path, 1))
            timing, counts = our_capture(path, args.detect_fps)
            times["ours"].append(timing)
            times["ours, decode only"].append(our_decode_only(path))

    if counts["decoded"] != args.frames:
        sys.exit(f"decoded {counts['decoded']} frames, expected {args.frames}")
    n = args.frames

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(t, field) for t in times[name])

    fps = {name: n / median(name, "seconds") for name in names}
    print(f"1080p30 H.264, {n} frames, median of {args.repeat} runs")
    print("  FFmpeg timed by -benchmark rtime (start-up and input probing excluded)")
    for name in names:
        wall = f"   (wall {n / median(name, 'wall'):7.1f} fps)" if name.startswith("ffmpeg") else ""
        cpu_ms = 1000 * median(name, "cpu") / n
        print(f"  {name:<18} {fps[name]:7.1f} fps, {cpu_ms:5.2f} ms CPU/frame{wall}")
    startup = median("ffmpeg -threads 2", "wall") - median("ffmpeg -threads 2", "seconds")
    print(f"  ffmpeg start-up and probing excluded: {1000 * startup:.0f} ms per run")
    print(
        f"  ours: sampled {counts['sampled']} at detect_fps={args.detect_fps:g}, "
        f"{counts['moving']} moving, JPEG q85 avg {counts['jpeg_bytes'] // counts['sampled']} B"
    )
    ratio_2 = fps["ours"] / fps["ffmpeg -threads 2"]
    ratio_1 = fps["ours"] / fps["ffmpeg -threads 1"]
    cpu_ratio = median("ffmpeg -threads 2", "cpu") / median("ours", "cpu")
    print(f"  ratio ours / ffmpeg -threads 2: {ratio_2:.2f} (target >= 0.5)")
    print(f"  ratio ours / ffmpeg -threads 1: {ratio_1:.2f}")
    print(f"  CPU ratio ffmpeg -threads 2 / ours: {cpu_ratio:.2f} (1.0 = ours costs no more)")


if __name__ == "__main__":
    main()
