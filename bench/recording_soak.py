"""Recording for a long while: ``detektor run`` recording looped 1080p30 cameras in real time,
its memory and CPU sampled, and every second of footage accounted for at the end.

The script makes a 60 s 1080p30 H.264 + AAC file (FFmpeg's ``testsrc2``, as
``bench/recording.py``), then runs ``detektor run`` twice on ``--cameras`` cameras that loop
it in real time (the cheap ``motion_regions`` detector, so the machine's cores go to capture
and recording): first without a ``record`` section (the baseline, ``--baseline-minutes``),
then with ``record: {segment_s: 10}`` for ``--minutes``. Every 30 s it samples the process's
resident memory and CPU time (``/proc``). At the end it reads the recording index the run
left (SQLite) and the files: segments per camera, the footage they cover against the run's
wall time, the gaps, and whether every indexed segment is on disk and every file indexed.
First, the recorder alone in this process: the file demuxed into one ``Recorder`` (2 s
segments, as a reconnect each pass) ``--passes`` times at full speed, its resident memory
read every 10 passes: a recorder that leaks grows with the segments.

Results go to stdout, progress to stderr.

    PYTHONPATH=src .venv/bin/python bench/recording_soak.py [--minutes 10] [--cameras 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import av

from bench.recording import make_video
from detektor.services.capture.recorder import Recorder

SAMPLE_S = 30.0
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config(path: Path, video: Path, cameras: int, record: bool) -> None:
    lines = ["detector: {type: motion_regions}", "cameras:"]
    for n in range(cameras):
        lines.append(f"  - {{name: cam{n}, source: '{video}', loop: true, detect_fps: 5")
        lines[-1] += ", record: {segment_s: 10}}" if record else "}"
    path.write_text("\n".join(lines) + "\n")


def sample(pid: int) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return cpu, rss


def run(home: Path, cfg: Path, minutes: float) -> list[tuple[float, float, int]]:
    """Run ``detektor run`` for ``minutes``; its (seconds since start, CPU s, RSS) samples."""
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "DETEKTOR_CONFIG": str(cfg),
        "DETEKTOR_DATA_DIR": str(home / "data"),
        "DETEKTOR_DATABASE_URL": f"sqlite:///{home / 'data' / 'detektor.db'}",
        "DETEKTOR_LOG__LEVEL": "WARNING",
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    detektor = Path(sys.executable).with_name("detektor")
    seconds = minutes * 60
    args = [str(detektor), "run", "--duration", str(seconds), "--port", str(free_port())]
    log = (home / "run.log").open("w")
    proc = subprocess.Popen(args, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    began, samples = time.monotonic(), []
    try:
        while proc.poll() is None:
            time.sleep(SAMPLE_S)
            if proc.poll() is None:
                samples.append((time.monotonic() - began, *sample(proc.pid)))
                progress(f"  {samples[-1][0]:5.0f} s: RSS {samples[-1][2] / 2**20:.0f} MiB")
        proc.wait(timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    if proc.returncode != 0:
        raise SystemExit(f"detektor run exited {proc.returncode}; see {home / 'run.log'}")
    return samples


def accounting(data: Path, wall_s: float) -> list[str]:
    root = data / "recordings"
    db = sqlite3.connect(data / "detektor.db")
    rows = db.execute(
        "SELECT camera, count(*), sum(julianday(end_at) - julianday(start_at)) * 86400, "
        "sum(bytes) FROM recording_segments GROUP BY camera ORDER BY camera"
    ).fetchall()
    gaps = db.execute(
        "SELECT reason, count(*), sum(julianday(end_at) - julianday(start_at)) * 86400 "
        "FROM recording_spans WHERE kind = 'gap' GROUP BY reason"
    ).fetchall()
    indexed = {p for (p,) in db.execute("SELECT path FROM recording_segments")}
    db.close()
    on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*/*.mp4")}
    lines = [
        f"{camera}: {n} segments, {covered:.0f} s of footage in {wall_s:.0f} s "
        f"({100 * covered / wall_s:.1f} %), {size / 2**20:.0f} MiB"
        for camera, n, covered, size in rows
    ]
    lines += [f"gaps ({reason}): {n}, {total:.2f} s in all" for reason, n, total in gaps] or [
        "gaps: none"
    ]
    lines.append(
        f"indexed but not on disk: {len(indexed - on_disk)}; on disk but not indexed: "
        f"{len(on_disk - indexed)}; .part left: {len(list(root.glob('*/*/*.part')))}"
    )
    return lines


def recorder_alone(video: Path, root: Path, passes: int) -> list[tuple[int, int, int]]:
    """(passes, segments, RSS bytes) every 10 passes of the file through one recorder."""
    closed: list[object] = []
    recorder = Recorder("leak", root, segment_s=2, fsync=False, on_segment=closed.append)
    found = []
    for n in range(1, passes + 1):
        with av.open(str(video)) as container:
            streams = (container.streams.video[0], container.streams.audio[0])
            recorder.start(*streams)
            for packet in container.demux(*streams):
                recorder.packet(packet)
            recorder.stop()
        for day in root.glob("*/*"):  # keep the disk free; the recorder is what is measured
            for segment in day.iterdir():
                segment.unlink()
        if n % 10 == 0 or n in (1, passes):
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * PAGE
            found.append((n, len(closed), rss))
            progress(f"  pass {n}: {len(closed)} segments, RSS {rss / 2**20:.0f} MiB")
    recorder.close()
    return found


def rate(samples: list[tuple[float, float, int]]) -> float:
    """CPU cores used between the first and the last sample (start-up left out)."""
    if len(samples) < 2:
        raise SystemExit(f"a run needs two samples, {SAMPLE_S:g} s apart: run it longer")
    (t0, c0, _), (t1, c1, _) = samples[0], samples[-1]
    return (c1 - c0) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--baseline-minutes", type=float, default=3.0)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--passes", type=int, default=61, help="of the recorder alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-recording-soak-") as tmp:
        work = Path(tmp)
        video = work / "in.mp4"
        progress("making a 60 s 1080p30 file …")
        make_video(video, 60)
        progress(f"the recorder alone: {args.passes} passes of the file")
        alone = recorder_alone(video, work / "alone", args.passes)
        config(work / "plain.yml", video, args.cameras, record=False)
        config(work / "record.yml", video, args.cameras, record=True)
        progress(f"baseline: {args.cameras} cameras, no recording, {args.baseline_minutes} min")
        plain = run(work / "plain", work / "plain.yml", args.baseline_minutes)
        progress(f"recording: {args.cameras} cameras, {args.minutes} min")
        recorded = run(work / "record", work / "record.yml", args.minutes)
        facts = accounting(work / "record" / "data", args.minutes * 60)
    (_, _, rss0), (passes, segments, rss1) = alone[0], alone[-1]
    print(
        f"recorder alone: {segments} segments in {passes} passes, RSS {rss0 / 2**20:.0f} MiB "
        f"after the first, {rss1 / 2**20:.0f} MiB after the last"
    )
    first, last = recorded[0], recorded[-1]
    print(f"{args.cameras} cameras looping a 1080p30 H.264 + AAC file in real time")
    print(f"CPU without recording:  {rate(plain):.3f} cores ({args.baseline_minutes:g} min)")
    print(f"CPU with recording:     {rate(recorded):.3f} cores ({args.minutes:g} min)")
    print(f"recording adds:         {100 * (rate(recorded) / rate(plain) - 1):.1f} % CPU")
    print(
        f"RSS with recording:     {first[2] / 2**20:.0f} MiB at {first[0]:.0f} s, "
        f"{last[2] / 2**20:.0f} MiB at {last[0]:.0f} s, "
        f"peak {max(s[2] for s in recorded) / 2**20:.0f} MiB"
    )
    for line in facts:
        print(line)


if __name__ == "__main__":
    main()
