"""Detector benchmarks: per-frame inference cost against raw ONNX Runtime, and throughput.

    .venv/bin/python bench/detector.py [--device cpu|cuda|auto] [--batches 1,4] [--seconds 30]

1. ms/frame at each batch size through our path (``DetectorProcessor.process``: letterbox,
   inference, GFL decode, NMS, per-camera filters, metrics) against, in the same run, raw
   ``session.run`` on the same preprocessed input plus the minimal pre- and post-processing
   (the same ``prepare`` and ``decode`` calls, nothing else). Target ratio <= 1.05.
   Frigate documents 35-65 ms for its SSD MobileNet CPU detector on desktop CPUs.
2. Throughput: the embedded pipeline with 4 synthetic cameras detecting at 5 fps each
   (20 frames/s offered) for ``--seconds``; it keeps up when the bus backlog does not grow
   and no frame is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.detection import nanodet
from detektor.detection.onnx_backend import OnnxDetector
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.decoding import Frame
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene
from detektor.services.detector.processor import DetectorMetrics, DetectorProcessor
from detektor.services.detector.settings import DetectorSettings


def frames(count: int) -> list[Frame]:
    scene = SyntheticScene(SceneSpec.parse("synthetic://?fps=10&size=1280x720"))
    out = []
    for i in range(count):
        image = scene.render(i * 3)
        msg = FrameMessage(
            FrameId.make("bench", 1_764_230_400_000, i), 1_764_230_400_000, i, 1280, 720, b"\xff"
        )
        out.append(Frame(msg, image))
    return out


def per_frame_ms(run: object, batch: list[Frame], rounds: int) -> float:
    assert callable(run)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        run(batch)
        samples.append((time.perf_counter() - started) * 1000 / len(batch))
    return statistics.median(samples)


def compare(device: str, batches: list[int], rounds: int) -> None:
    settings = DetectorSettings(device=device)  # type: ignore[arg-type]
    backend = OnnxDetector(settings)
    camera = CameraSettings(name="bench", source=SecretStr("synthetic://"), min_score=0.0)
    processor = DetectorProcessor(
        backend, [camera], DetectorMetrics(Metrics("bench", "0"), backend)
    )
    session, name = backend.session, backend.input.name

    def raw(batch: list[Frame]) -> None:
        tensor, placed = nanodet.prepare([f.image for f in batch], backend.size)
        outputs = session.run(None, {name: tensor})
        nanodet.decode(
            outputs, placed, backend.labels, settings.score_threshold, settings.iou_threshold
        )

    print(
        f"provider {backend.provider}, device {backend.device.name}, "
        f"{settings.threads} CPU threads, model {backend.name}, input {backend.size}"
    )
    for size in batches:
        batch = frames(size)
        for _ in range(3):  # warm-up: allocations, CUDA kernels
            raw(batch)
            processor.process(batch)
        base, ours = [], []
        for _ in range(3):  # alternate, so both see the same machine
            base.append(per_frame_ms(raw, batch, rounds))
            ours.append(per_frame_ms(processor.process, batch, rounds))
        b, o = statistics.median(base), statistics.median(ours)
        print(
            f"batch {size}: ours {o:.2f} ms/frame, raw session.run + prepare + decode "
            f"{b:.2f} ms/frame, ratio {o / b:.3f} (target <= 1.05)"
        )
    print("Frigate's published CPU detector (SSD MobileNet, desktop CPUs): 35-65 ms/frame")


async def throughput(seconds: float) -> None:
    metrics = Metrics("bench", "0")
    pipeline, capture = PipelineMetrics(metrics), CaptureMetrics(metrics)
    cams = [
        CameraSettings(
            name=f"cam-{i}",
            source=SecretStr(f"synthetic://?fps=10&size=640x480&seed={i}"),
            detect_fps=5,
        )
        for i in range(4)
    ]
    backend = OnnxDetector(DetectorSettings(device="auto"))
    processor = DetectorProcessor(backend, cams, DetectorMetrics(metrics, backend))
    bus, sink = MemoryFrameBus(cap=200), MemoryEventSink()
    liveness = Liveness()
    workers = [CameraWorker(c, bus, sink, capture, pipeline, liveness) for c in cams]
    runner = ProcessorRunner(
        processor,
        bus,
        sink,
        pipeline,
        ProcessorSettings(batch_size=8, max_wait_ms=20, consumer="b"),
        liveness,
    )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    proc = asyncio.create_task(runner.run())
    await asyncio.sleep(5)  # warm-up
    start_backlog = sum(await bus.backlog())
    done_before = len(runner.latencies)
    started = time.monotonic()
    backlog = []
    while time.monotonic() - started < seconds:
        await asyncio.sleep(1)
        backlog.append(sum(await bus.backlog()))
    elapsed = time.monotonic() - started
    processed = len(runner.latencies) - done_before
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks)
    runner.stop()
    await proc
    dropped = sum(1 for e in sink.events if e.type.value == "frame.dropped")
    lat = sorted(runner.latencies)
    p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
    print(
        f"throughput: {processed / elapsed:.1f} frames/s processed of 20 offered "
        f"(4 cameras x 5 fps) over {elapsed:.0f}s; bus backlog {start_backlog} at start, "
        f"max {max(backlog)}, {backlog[-1]} at end; {dropped} dropped; "
        f"latency p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    compare(args.device, [int(b) for b in args.batches.split(",")], args.rounds)
    if not args.skip_throughput:
        asyncio.run(throughput(args.seconds))


if __name__ == "__main__":
    cv2.setNumThreads(1)
    np.seterr(all="ignore")
    main()
