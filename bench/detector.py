"""Detector benchmarks: per-frame inference cost against raw ONNX Runtime, and throughput.

    .venv/bin/python bench/detector.py [--device cpu|cuda|auto] [--batches 1,4] [--seconds 30]

1. ms/frame at each batch size, three lines measured alternately in the same run:
   - raw: a bare ``session.run`` on an input tensor preprocessed beforehand (no code of ours
     is timed);
   - reference: NanoDet's pre- and post-processing written independently in plain numpy
     (``bench/nanodet_reference.py``) around the same ``session.run``;
   - ours: ``DetectorProcessor.process`` (letterbox, inference, GFL decode, OpenCV NMS,
     per-camera filters, metrics).
   Ratios ours/raw, reference/raw and ours/reference; pre/post overhead per frame; and whether
   ours and the reference find the same detections.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import nanodet_reference as reference
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


def agreement(ours: list[list[dict]], theirs: list[list[dict]]) -> tuple[int, int]:
    """(detections of ``ours`` that ``theirs`` has within 1 px and 0.01 score, all of ours)."""
    matched = total = 0
    for mine, ref in zip(ours, theirs, strict=True):
        total += len(mine)
        for d in mine:
            matched += any(
                r["label"] == d["label"]
                and abs(r["score"] - d["score"]) < 0.01
                and np.abs(np.asarray(r["box"]) - d["box"]).max() < 1.0
                for r in ref
            )
    return matched, total


def compare(device: str, batches: list[int], rounds: int) -> None:
    settings = DetectorSettings(device=device)  # type: ignore[arg-type]
    backend = OnnxDetector(settings.detection_config())
    camera = CameraSettings(name="bench", source=SecretStr("synthetic://"), min_score=0.0)
    processor = DetectorProcessor(
        backend, [camera], DetectorMetrics(Metrics("bench", "0"), backend)
    )
    session, name = backend.session, backend.input.name
    output_names = [o.name for o in session.get_outputs()]
    score, iou = settings.score_threshold, settings.iou_threshold

    def run_reference(batch: list[Frame]) -> list[list[dict]]:
        tensor, metas = reference.preprocess([f.image for f in batch])
        outputs = dict(zip(output_names, session.run(None, {name: tensor}), strict=True))
        return reference.postprocess(outputs, metas, backend.labels, score, iou)

    print(
        f"provider {backend.provider}, device {backend.device.name}, "
        f"{settings.threads} CPU threads, model {backend.name}, input {backend.size}, "
        f"score {score}, IoU {iou}"
    )
    for size in batches:
        batch = frames(size)
        tensor, _ = reference.preprocess([f.image for f in batch])  # outside every timing

        def raw(_: list[Frame], tensor: np.ndarray = tensor) -> None:
            session.run(None, {name: tensor})

        for _ in range(3):  # warm-up: allocations, CUDA kernels
            raw(batch)
            run_reference(batch)
            processor.process(batch)
        lines: dict[str, list[float]] = {"raw": [], "reference": [], "ours": []}
        for _ in range(3):  # alternate, so that all three see the same machine
            lines["raw"].append(per_frame_ms(raw, batch, rounds))
            lines["reference"].append(per_frame_ms(run_reference, batch, rounds))
            lines["ours"].append(per_frame_ms(processor.process, batch, rounds))
        r, f, o = (statistics.median(lines[k]) for k in ("raw", "reference", "ours"))
        cached = session.run(None, {name: tensor})  # pre/post alone, inference left out
        by_name = dict(zip(output_names, cached, strict=True))

        def our_pre_post(batch: list[Frame], cached: list[np.ndarray] = cached) -> None:
            _, placed = nanodet.prepare([f.image for f in batch], backend.size)
            nanodet.decode(cached, placed, backend.labels, score, iou)

        def reference_pre_post(batch: list[Frame], outputs: dict = by_name) -> None:
            _, metas = reference.preprocess([f.image for f in batch])
            reference.postprocess(outputs, metas, backend.labels, score, iou)

        alone = {"ours": [], "reference": []}
        for _ in range(3):
            alone["ours"].append(per_frame_ms(our_pre_post, batch, rounds))
            alone["reference"].append(per_frame_ms(reference_pre_post, batch, rounds))
        po, pf = statistics.median(alone["ours"]), statistics.median(alone["reference"])
        print(
            f"batch {size}, pre/post alone (outputs cached): ours {po:.2f} ms/frame, "
            f"reference {pf:.2f} ms/frame, ratio {po / pf:.3f}"
        )
        mine, theirs = [r.detections for r in processor.process(batch)], run_reference(batch)
        (matched, total), (back, their_total) = agreement(mine, theirs), agreement(theirs, mine)
        print(
            f"batch {size}: raw session.run {r:.2f} ms/frame; reference pre/post + run "
            f"{f:.2f} (+{f - r:.2f} ms pre/post, ratio {f / r:.3f} to raw); ours {o:.2f} "
            f"(+{o - r:.2f} ms pre/post, ratio {o / r:.3f} to raw, {o / f:.3f} to reference); "
            f"detections: {matched}/{total} of ours in the reference, {back}/{their_total} of "
            "the reference's in ours"
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
    backend = OnnxDetector(DetectorSettings(device="auto").detection_config())
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
