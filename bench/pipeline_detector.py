"""End-to-end latency with NanoDet running, as a multiple of its own inference time.

    .venv/bin/python bench/pipeline_detector.py [--seconds 30] [--cameras 4] [--fps 5] [--warmup 8]

``detektor run``'s setup: synthetic cameras (640x480, the walking person, decoded at 10 fps,
sampled at ``--fps``, motion gate off so every sampled frame is detected), the in-memory
frame bus, the real detector processor (``DetectorProcessor``, the bundled NanoDet-g-416 on
ONNX Runtime, CPU, its default threads) under the default processor settings, and the
SQLite event store. In the same run every inference call (``backend.detect`` on a batch:
letterbox, ``session.run``, decode, NMS) is timed.

Prints capture-to-processed p50/p95/p99, inference per call and per frame, the batch sizes,
and p99 as a multiple of the median inference per call (the floor: a frame cannot be done
before its batch is) and per frame. Only the measured window counts (after a warm-up). When
fewer frames are processed than offered, the latency is the backlog's, and it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detektor.adapters.event_sinks import StoreEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.sqlite import SqliteEventStore
from detektor.embedded.progress import percentile
from detektor.kit.metrics import Metrics
from detektor.pipeline.settings import ProcessorSettings
from detektor.services.detector.processor import DetectorProcessor, build_processor
from detektor.settings import Settings
from pipeline import cameras, run_pipeline  # bench/pipeline.py, this script's neighbour


class TimedBackend:
    """The detector backend, with each ``detect`` call timed: (end, seconds, frames)."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.name, self.device = backend, backend.name, backend.device
        self.calls: list[tuple[float, float, int]] = []

    def detect(self, images: Sequence[Any]) -> Any:
        started = time.perf_counter()
        found = self.backend.detect(images)
        self.calls.append((time.monotonic(), time.perf_counter() - started, len(images)))
        return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps", type=float, default=5.0, help="detect_fps of each camera")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the window")
    args = parser.parse_args()
    cams = cameras(args.cameras, args.fps, decode_fps=10)
    metrics = Metrics("bench", "0")
    detector = Settings.model_validate({"detector": {"device": "cpu"}}).detector
    processor, _ = build_processor(detector, cams, metrics)
    assert isinstance(processor, DetectorProcessor)
    timed = processor.backend = TimedBackend(processor.backend)
    print(f"model {timed.name}, {timed.device.provider}, {detector.threads} threads", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteEventStore(str(Path(tmp) / "events.db"))
        store.migrate()
        run = run_pipeline(
            MemoryFrameBus(cap=200),
            StoreEventSink(store),
            args.seconds,
            metrics,
            processor,
            cams,
            ProcessorSettings(consumer="bench"),
            warmup_s=args.warmup,
        )
        window = asyncio.run(run)
        store.close()
    end = window.started + window.seconds
    calls = [(s, n) for at, s, n in timed.calls if window.started <= at <= end]
    if not calls or not window.latencies:
        sys.exit("nothing was processed in the window")
    per_call = [s for s, _ in calls]
    per_frame = [s / n for s, n in calls]
    sizes = [n for _, n in calls]
    offered = args.cameras * args.fps
    lat = window.latencies
    p50, p95, p99 = (1000 * (percentile(lat, q) or 0) for q in (50, 95, 99))
    call_ms, frame_ms = 1000 * statistics.median(per_call), 1000 * statistics.median(per_frame)
    print(
        f"{len(lat)} frames in {window.seconds:.0f}s ({len(lat) / window.seconds:.1f} fps of "
        f"{offered:g} offered: {args.cameras} cameras x {args.fps:g} fps); "
        f"CPU {window.cpu_s / window.seconds:.2f} cores"
    )
    print(f"capture->processed: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"inference per call: median {call_ms:.1f} ms, p99 {1000 * percentile(per_call, 99):.1f} "
        f"ms; per frame: median {frame_ms:.1f} ms; {len(calls)} calls, batch size median "
        f"{statistics.median(sizes):g}, max {max(sizes)}"
    )
    print(
        f"p99 latency = {p99 / call_ms:.2f} x median inference per call, "
        f"{p99 / frame_ms:.2f} x median inference per frame"
    )
    if len(lat) < 0.95 * offered * window.seconds:
        print(
            "DID NOT KEEP UP: frames queued, so the latency measures the backlog, not the "
            "pipeline; offer less (--cameras, --fps) or use a quieter machine"
        )


if __name__ == "__main__":
    main()
