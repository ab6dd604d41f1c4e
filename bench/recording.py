"""Recording cost: the recorder against ``ffmpeg -c copy -f segment``, and what it adds to capture.

The script makes a 1080p30 H.264 file with AAC audio (FFmpeg's ``testsrc2`` and ``sine``,
libx264, a keyframe every 2 s) in a temporary directory, then measures in the same run,
alternating so all see the same machine:

- ``ffmpeg -c copy -f segment -segment_time 10`` into fragmented MP4s (FFmpeg's own
  ``-benchmark`` ``rtime``: from after the input is opened and probed to the end);
- the recorder alone: PyAV demuxing the file and ``Recorder.packet`` for every packet
  (segments of 10 s), timed like ``rtime``: from after ``av.open`` of the input to
  ``close()`` returning, every segment written and renamed. Without fsync, as FFmpeg writes
  (the same work and durability: the headline ratio), and with an fsync per segment, the
  recorder's default; against PyAV demuxing alone, which gives the cost per packet, and
  against PyAV demuxing and muxing into one file with no recorder at all (the most any
  recorder built on PyAV's per-packet calls can do);
- capture: ``open_source(FILE)`` decoding every frame, with and without a recorder: the CPU
  seconds (``getrusage``) recording adds to decoding;
- export: the whole recording (``--seconds`` of it, 60 by default) as one clip by
  ``export_clip``, against ``ffmpeg -f concat -c copy -movflags +faststart`` of the same
  segments (its ``rtime``).

Results go to stdout, progress to stderr.

    .venv/bin/python bench/recording.py [--seconds 60] [--repeat 3] [--segmenter-runs 21]
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
from pathlib import Path

import av

from detektor.services.capture.recorder import Recorder
from detektor.services.capture.segments import MP4_OPTIONS
from detektor.services.capture.segments import Segment as Written
from detektor.services.capture.sources import open_source
from detektor.services.recordings.clips import export_clip
from detektor.services.recordings.indexer import to_domain


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_video(path: Path, seconds: int) -> None:
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "60"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", str(path)),
        ],
        check=True,
    )


def ffmpeg_rtime(*args: str) -> float:
    """FFmpeg's own ``-benchmark`` real time (start-up and probing excluded) for ``args``."""
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-benchmark", "-y", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"rtime=([\d.]+)s", result.stderr)
    assert match, result.stderr
    return float(match[1])


def ffmpeg_segment(video: Path, out: Path) -> float:
    out.mkdir()
    return ffmpeg_rtime(
        *("-i", str(video), "-c", "copy"),
        *("-f", "segment", "-segment_time", "10", "-segment_format", "mp4"),
        *("-segment_format_options", "movflags=frag_keyframe+empty_moov+default_base_moof"),
        str(out / "%03d.mp4"),
    )


def ffmpeg_concat(segments: list[Path], out: Path) -> float:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in segments))
    return ffmpeg_rtime(
        *("-f", "concat", "-safe", "0", "-i", str(listing)),
        *("-c", "copy", "-movflags", "+faststart", str(out)),
    )


def export(root: Path, written: list[Written], out: Path) -> float:
    """Seconds ``export_clip`` takes for all of ``written`` as one clip."""
    segments = [to_domain(w, root) for w in written]
    start = time.perf_counter()
    export_clip(root, segments, segments[0].start, segments[-1].end, out)
    return time.perf_counter() - start


def demux(video: Path, recorder: Recorder | None) -> tuple[float, int]:
    """(seconds, packets) to demux the file, feeding the recorder when there is one; timed
    from after the input is opened, as FFmpeg's ``rtime``."""
    packets = 0
    with av.open(str(video)) as container:
        streams = (container.streams.video[0], container.streams.audio[0])
        start = time.perf_counter()
        if recorder is not None:
            recorder.start(*streams)
        for packet in container.demux(*streams):
            packets += 1
            if recorder is not None:
                recorder.packet(packet)
        if recorder is not None:
            recorder.close()
        return time.perf_counter() - start, packets


def remux(video: Path, out: Path) -> float:
    """Seconds to demux and mux the file into one fragmented MP4 with PyAV and nothing else."""
    with av.open(str(video)) as container:
        streams = (container.streams.video[0], container.streams.audio[0])
        start = time.perf_counter()
        with av.open(str(out), "w", format="mp4", options=MP4_OPTIONS) as output:
            mapped = {s.index: output.add_stream_from_template(s) for s in streams}
            for packet in container.demux(*streams):
                if packet.size:
                    packet.stream = mapped[packet.stream_index]
                    output.mux(packet)
        return time.perf_counter() - start


def capture_cpu(video: Path, recorder: Recorder | None) -> float:
    """CPU seconds (this process, all threads) to decode every frame, as capture does."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    with open_source(str(video), recorder=recorder) as source:
        for _ in source.frames():
            pass
    if recorder is not None:
        recorder.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3, help="capture and export runs")
    parser.add_argument(
        "--segmenter-runs", type=int, default=21, help="short ones: the machine's noise shows"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recording-") as tmp:
        work = Path(tmp)
        video = work / "in.mp4"
        progress(f"making a {args.seconds} s 1080p30 file …")
        make_video(video, args.seconds)
        keys = ("ffmpeg", "demux", "rec", "fsync", "remux", "dec", "both", "concat", "export")
        runs: dict[str, list[float]] = {k: [] for k in keys}
        packets = 0
        for n in range(max(args.segmenter_runs, args.repeat)):
            progress(f"segmenter run {n + 1}/{max(args.segmenter_runs, args.repeat)}")
            runs["ffmpeg"].append(ffmpeg_segment(video, work / f"ffmpeg{n}"))
            seconds, packets = demux(video, None)
            runs["demux"].append(seconds)
            written: list[Written] = []
            recorder = Recorder(
                "b", work / f"rec{n}", segment_s=10, on_segment=written.append, fsync=False
            )
            runs["rec"].append(demux(video, recorder)[0])
            runs["fsync"].append(demux(video, Recorder("b", work / f"sync{n}", segment_s=10))[0])
            runs["remux"].append(remux(video, work / f"remux{n}.mp4"))
            if n < args.repeat:
                files = [w.path for w in written]
                runs["concat"].append(ffmpeg_concat(files, work / f"concat{n}.mp4"))
                runs["export"].append(export(work / f"rec{n}", written, work / f"export{n}.mp4"))
            for left in work.iterdir():  # 4 copies of the file a run: keep the disk free
                if left != video:
                    shutil.rmtree(left) if left.is_dir() else left.unlink()
        for n in range(args.repeat):
            progress(f"capture run {n + 1}/{args.repeat}")
            runs["dec"].append(capture_cpu(video, None))
            runs["both"].append(capture_cpu(video, Recorder("b", work / f"both{n}", segment_s=10)))
    med = {key: statistics.median(values) for key, values in runs.items()}
    per_packet_us = (med["rec"] - med["demux"]) / packets * 1e6
    print(
        f"{args.seconds} s 1080p30 H.264 + AAC, {packets} packets; medians of "
        f"{max(args.segmenter_runs, args.repeat)} segmenter runs, {args.repeat} capture and "
        "export runs"
    )
    print(f"ffmpeg -c copy -f segment:   {med['ffmpeg']:.3f} s")
    print(f"PyAV demux + Recorder:       {med['rec']:.3f} s  (demux alone {med['demux']:.3f} s)")
    print(f"  with fsync per segment:    {med['fsync']:.3f} s  (the recorder's default)")
    print(f"PyAV demux + mux, no logic:  {med['remux']:.3f} s  (one file)")
    print(f"recorder cost per packet:    {per_packet_us:.1f} us")
    print(f"speed ours / ffmpeg:         {med['ffmpeg'] / med['rec']:.2f} (target >= 0.8)")
    print(f"  with fsync per segment:    {med['ffmpeg'] / med['fsync']:.2f}")
    print(f"  PyAV's ceiling / ffmpeg:   {med['ffmpeg'] / med['remux']:.2f}")
    print(f"capture CPU, decode only:    {med['dec']:.2f} s")
    print(f"capture CPU, decode + rec:   {med['both']:.2f} s")
    print(f"recording adds:              {100 * (med['both'] / med['dec'] - 1):.1f} % CPU")
    print(f"ffmpeg concat -c copy:       {med['concat']:.3f} s")
    print(f"export_clip, {args.seconds} s clip:     {med['export']:.3f} s (target <= 1 s)")
    print(f"export speed ours / ffmpeg:  {med['concat'] / med['export']:.2f}")


if __name__ == "__main__":
    main()
