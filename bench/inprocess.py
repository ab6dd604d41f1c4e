"""Issue 16: what ``detektor run`` spends besides inference, before and after, in one run.

    .venv/bin/python bench/inprocess.py [--frames 200] [--seconds 3] [--part all|frames|store|ort]

Three measurements, each with its baseline in the same process:

- ``frames``: the per-frame CPU cost (``time.process_time``) of getting a sampled 640x480
  frame of the synthetic scene from capture to the detector's input: JPEG encode (quality 85)
  in capture plus the processor's checked decode (the Redis bus, and ``detektor run`` before),
  against the decoded array carried on the in-memory bus (its size check only).
- ``store``: SQLite appends of frames' lifecycle events (five a frame) in the real store
  (WAL, ``synchronous=FULL``): a transaction a frame against a transaction of 50 frames
  (what the store sink's 0.25 s linger gathers at 40 frames/s, about 10 frames at 8 cameras'
  real rate; 50 is the figure for a burst).
- ``ort``: the bundled NanoDet on ONNX Runtime, CPU: ms per frame for batches of 1, 2, 4 and
  8 frames under intra-op threads 1 and 2 (sequential execution, one inter-op thread), intra 2
  with the pool's spin-waiting off, and intra 2 with the parallel executor and two inter-op
  threads: wall and process CPU time per frame of the full ``detect`` call (letterbox,
  ``session.run``, decode, NMS), best of three windows of ``--seconds``. CPU time matters
  as much as wall time here: on two cores, what inference spins away capture cannot use.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.sqlite import SqliteEventStore
from detektor.detection.config import ModelConfig
from detektor.detection.onnx_backend import OnnxDetector, bundled_model
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.pipeline.decoding import decode
from detektor.pipeline.events import lifecycle_event
from detektor.ports import Delivery
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene

Image = NDArray[np.uint8]


def scene_frames(n: int) -> list[Image]:
    scene = SyntheticScene(SceneSpec.parse("synthetic://?fps=5&size=640x480&scene=person"))
    return [scene.render(i) for i in range(n)]


def cpu_per_frame(frames: list[Image], work: Callable[[int, Image], object]) -> float:
    """Microseconds of process CPU per frame (best of three passes)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for i, image in enumerate(frames):
            work(i, image)
        best = min(best, (time.process_time() - started) / len(frames) * 1e6)
    return best


def deliver(message: FrameMessage) -> Delivery:
    async def through_bus() -> Delivery:
        bus = MemoryFrameBus()
        await bus.publish(message)
        (delivery,) = await bus.consume("bench", 1, block_ms=0)
        return delivery

    return asyncio.run(through_bus())


def frames_part(n: int) -> None:
    frames = scene_frames(n)
    now = int(datetime.now(UTC).timestamp() * 1000)

    def jpeg_path(i: int, image: Image) -> object:
        _ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        msg = FrameMessage(FrameId.make("cam", now, i + 1), now, i, 640, 480, buf.tobytes())
        frame, problem = decode(Delivery("1-0", msg, {}, 1))
        assert frame is not None, problem
        return frame

    def decoded_path(i: int, image: Image) -> object:
        msg = FrameMessage(FrameId.make("cam", now, i + 1), now, i, 640, 480, b"", image=image)
        frame, problem = decode(Delivery("1-0", msg, {}, 1))
        assert frame is not None, problem
        return frame

    # The bus itself, once each way, so that the figures above are not the bus's.
    via_bus = decode(
        deliver(FrameMessage(FrameId.make("cam", now, 1), now, 0, 640, 480, b"", image=frames[0]))
    )
    assert via_bus[0] is not None
    assert via_bus[0].image is frames[0]
    jpeg_us = cpu_per_frame(frames, jpeg_path)
    decoded_us = cpu_per_frame(frames, decoded_path)
    print(f"frames ({n} synthetic 640x480 frames, CPU per frame, best of 3)")
    print(f"  JPEG encode + checked decode  {jpeg_us:9.1f} us")
    print(f"  decoded array (size check)    {decoded_us:9.1f} us")
    print(f"  ratio JPEG / decoded          {jpeg_us / decoded_us:9.1f}x")
    print(f"  at 40 frames/s the JPEG round trip costs {jpeg_us * 40 / 1e4:.1f} % of one core")


def frame_events(seq: int) -> list[object]:
    now_ms = int(datetime.now(UTC).timestamp() * 1000) + seq
    fid = FrameId.make(f"cam{seq % 8}", now_ms, seq)
    data = {"width": 640, "height": 480, "pts": seq, "source": "synthetic"}
    return [
        lifecycle_event(EventType.CAPTURED, fid, data),
        lifecycle_event(EventType.QUEUED, fid, {"stream": "frames"}),
        lifecycle_event(EventType.PROCESSING, fid, {"processor": "p", "batch_id": "b"}),
        lifecycle_event(
            EventType.PROCESSED, fid, {"processor": "p", "duration_ms": 1.0, "detections": []}
        ),
        lifecycle_event(EventType.COMPLETED, fid),
    ]


def store_part(n: int) -> None:
    results = {}
    for per_txn in (1, 50):
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteEventStore(str(Path(tmp) / "events.db"))
            store.migrate()
            batches = [
                [e for f in range(b, b + per_txn) for e in frame_events(f)]
                for b in range(0, n, per_txn)
            ]
            wall, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                store.append(batch)  # type: ignore[arg-type]
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            store.close()
        results[per_txn] = (n / wall, cpu / n * 1e6, wall / n * 1e6)
    print(f"store (SQLite, WAL, synchronous=FULL, {n} frames x 5 events)")
    for per_txn, (fps, cpu_us, wall_us) in results.items():
        print(
            f"  {per_txn:3d} frame(s) a transaction  {fps:8.0f} frames/s  "
            f"{wall_us:7.0f} us wall, {cpu_us:7.0f} us CPU per frame"
        )
    print(f"  ratio batched / per-frame throughput {results[50][0] / results[1][0]:.2f}x")


ORT_CONFIGS = [
    # label, intra-op threads, inter-op threads, parallel executor, spinning
    ("intra 1", 1, 1, False, True),
    ("intra 2 (default)", 2, 1, False, True),
    ("intra 2, no spinning", 2, 1, False, False),
    ("intra 2, parallel, inter 2", 2, 2, True, True),
]


def ort_session(intra: int, inter: int, parallel: bool, spinning: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra
    options.inter_op_num_threads = inter
    options.log_severity_level = 3
    if parallel:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    if not spinning:  # idle pool threads sleep instead of spinning for the next op
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(bundled_model()), options, providers=["CPUExecutionProvider"])


def ort_part(seconds: float) -> None:
    frames = scene_frames(8)
    print(f"ort (bundled NanoDet, CPU; wall / process CPU ms per frame, best of 3 x {seconds:g} s)")
    print("  " + " " * 28 + "".join(f"batch {b:<10d}" for b in (1, 2, 4, 8)))
    for label, intra, inter, parallel, spinning in ORT_CONFIGS:
        detector = OnnxDetector(ModelConfig(device="cpu", threads=intra))
        detector.session = ort_session(intra, inter, parallel, spinning)
        row = []
        for batch in (1, 2, 4, 8):
            images = frames[:batch]
            detector.detect(images)  # warm-up
            windows = []
            for _ in range(3):
                done, started, cpu = 0, time.perf_counter(), time.process_time()
                while time.perf_counter() - started < seconds:
                    detector.detect(images)
                    done += batch
                wall = (time.perf_counter() - started) / done * 1000
                windows.append((wall, (time.process_time() - cpu) / done * 1000))
            row.append(min(windows))
        print(f"  {label:28s}" + "".join(f"{w:6.1f} /{c:6.1f}  " for w, c in row), flush=True)
        del detector


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--part", choices=("all", "frames", "store", "ort"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "frames"):
        frames_part(args.frames)
    if args.part in ("all", "store"):
        store_part(args.frames * 5)
    if args.part in ("all", "ort"):
        ort_part(args.seconds)


if __name__ == "__main__":
    main()
