# ruff: noqa: S608
# The statements are assembled from the adapter's constant column list; values are bound.
"""Retention's sweep against the size of the recording index: what a week of footage costs.

The bench fills a SQLite recording index with ``--segments`` segments over 8 cameras, spread
evenly over 8 days (continuous mode, ``retain_days`` 7: an eighth of it is due), then times,
against a baseline with no code of ours (``sqlite3`` reading every row in the same order,
``fetchall``, which is the least a sweep that reads the whole index costs):

- the first sweep with room to spare: it reads and deletes the day that is due;
- the next sweeps (the steady state: a sweep a minute finds a minute's footage due);
- a sweep below the free-space floor, which reads every segment to delete the oldest (what
  every sweep cost before it read only what is due).

Peak Python memory of each (``tracemalloc``, in one more run traced apart) is printed too.
For scale: 8 cameras with 10 s segments make 69,120 segments a day, 484,000 a week.

    PYTHONPATH=src .venv/bin/python bench/retention.py [--segments 10000 100000 500000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detektor.adapters.recordingkit import COLUMNS, segment_params
from detektor.adapters.sqlite.recordings import SqliteRecordingIndex
from detektor.domain.recordings import RecordMode, RecordPolicy, Segment
from detektor.kit.metrics import Metrics
from detektor.services.recordings.cleanup import DiskUsage, Retention
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.services.recordings.settings import RecordingsSettings

CAMERAS = [f"cam{n}" for n in range(8)]
TB = 1 << 40
SPREAD = timedelta(days=8)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fill(database: Path, count: int, now: datetime) -> None:
    index = SqliteRecordingIndex(str(database))
    index.migrate()
    index.close()
    per_camera = count // len(CAMERAS)
    step = SPREAD / per_camera
    rows = []
    for n in range(per_camera):
        start = now - SPREAD + n * step
        for camera in CAMERAS:
            path = f"{camera}/{start:%Y-%m-%d}/{start:%H-%M-%S-%f}.mp4"
            end = start + timedelta(seconds=10)
            rows.append(segment_params(Segment(camera, start, end, path, 6 << 20, "h264", 5, True)))
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    with sqlite3.connect(database) as conn:
        conn.executemany(f"INSERT INTO recording_segments ({COLUMNS}) VALUES ({marks})", rows)


def timed(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median seconds over ``runs``, peak MiB of Python allocations in one more run, traced
    apart: tracing slows Python code far more than C)."""
    seconds: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - began)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(seconds), peak / (1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    policy = RecordPolicy(RecordMode.CONTINUOUS, retain_days=7, objects_retain_days=30)
    settings = RecordingsSettings()
    print(
        "segments | baseline: sqlite3 reads all | first sweep (a day due) | steady sweep | "
        "sweep below the floor (reads all) | peaks: baseline, steady, below the floor"
    )
    for count in args.segments:
        with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
            database, root = Path(tmp) / "index.db", Path(tmp) / "recordings"
            root.mkdir()
            progress(f"filling an index with {count} segments …")
            fill(database, count, now)
            index = SqliteRecordingIndex(str(database))
            usage = {"free": TB}

            def disk(_: Path, usage: dict[str, int] = usage) -> DiskUsage:
                return DiskUsage(TB, TB - usage["free"], usage["free"])

            retention = Retention(
                index,
                None,
                root,
                settings,
                dict.fromkeys(CAMERAS, policy),
                {},
                RecordingMetrics(Metrics("bench", "0")),
                disk_usage=disk,
                clock=lambda: now,
            )

            def baseline(database: Path = database) -> object:
                with sqlite3.connect(database) as conn:
                    return conn.execute(
                        f"SELECT {COLUMNS} FROM recording_segments ORDER BY start_at, camera"
                    ).fetchall()

            progress("timing …")
            base, base_mib = timed(baseline, args.runs)
            first, _ = timed(retention.sweep, 1)
            steady, steady_mib = timed(retention.sweep, args.runs)
            usage["free"] = settings.min_free_bytes - 1  # one segment must go, each sweep
            low, low_mib = timed(retention.sweep, args.runs)
            index.close()
        print(
            f"{count:>8} | {base:.3f} s | {first:.3f} s ({first / base:.2f}) | "
            f"{steady:.4f} s ({steady / base:.3f}) | {low:.3f} s ({low / base:.2f}) | "
            f"{base_mib:.0f}, {steady_mib:.1f}, {low_mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
