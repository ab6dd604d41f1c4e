"""A recorder in a process of its own, for tests that kill it or limit what it may write.

    python -m support.record_worker VIDEO ROOT [--pace S] [--fsize BYTES] [--segment-s S]

records VIDEO (a file, through ``open_source``, decoding as capture does) under ROOT, sleeping
``--pace`` seconds per frame, and prints one JSON line per event: ``segment``, ``stall``,
and at the end ``done`` with the frames decoded. ``--fsize`` lowers the process's file size
limit (RLIMIT_FSIZE) for the first pass, so writes fail mid-segment with EFBIG as on a full
disk, then raises it again and records the file a second time.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import time
from pathlib import Path

from detektor.services.capture.recorder import Recorder
from detektor.services.capture.segments import Segment
from detektor.services.capture.sources import open_source


def emit(kind: str, **fields: object) -> None:
    print(json.dumps({"event": kind, **fields}, default=str), flush=True)


def on_segment(segment: Segment) -> None:
    emit("segment", path=str(segment.path), keyframes=segment.keyframes, bytes=segment.bytes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("video", type=Path)
    parser.add_argument("root", type=Path)
    parser.add_argument("--pace", type=float, default=0.0)
    parser.add_argument("--fsize", type=int, default=0)
    parser.add_argument("--segment-s", type=float, default=10.0)
    args = parser.parse_args()
    recorder = Recorder(
        "cam",
        args.root,
        segment_s=args.segment_s,
        retry_s=0,
        on_segment=on_segment,
        on_stall=lambda stalled: emit("stall", stalled=stalled),
    )
    passes = 1
    if args.fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, hard))
        passes = 2
    decoded = 0
    for n in range(passes):
        if n == 1:
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space again
        with open_source(str(args.video), recorder=recorder) as source:
            for _ in source.frames():
                decoded += 1
                if decoded == 1:
                    emit("started")
                time.sleep(args.pace)
    recorder.close()
    emit("done", decoded=decoded, stalled=recorder.stalled, failures=recorder.failures)


if __name__ == "__main__":
    main()
