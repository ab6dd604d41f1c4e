"""Capacity sweep (issue 16): how many 640x480 cameras at 5 fps this machine keeps up with.

    .venv/bin/python bench/capacity.py [--cameras 2,4,6,8,10,12] [--seconds 60] [--warmup 8]

``detektor run``'s pipeline in this process, as ``bench/pipeline_detector.py`` builds it:
synthetic cameras (the walking person, decoded at 10 fps, sampled at 5 fps, motion gate
off so every sampled frame is offered to the detector), the in-memory frame bus (default cap
200), the real detector (bundled NanoDet on ONNX Runtime, CPU) under the default processor
settings (``max_frame_age_ms`` 1000 included) and the SQLite event store. A last step runs
the largest camera count on a motionless scene (``scene=static``, motion gate on) to show
what cameras cost when nothing moves.

First, the baseline in the same process: the detector's raw throughput (``process`` on
batches of 8 decoded frames, no pipeline). Per step it prints frames/s processed and that
as a ratio of the baseline, drops by reason (over the whole step, warm-up included; shutdown
drops apart) and how evenly the cameras shared them, capture-to-completed p50/p95/p99 of the
frames completed in the measured window, CPU per processed frame and where the time went by
stage (capture, inference). It writes ``bench/capacity.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from detektor.adapters.event_sinks import StoreEventSink
from detektor.adapters.memory_bus import MemoryFrameBus, to_delivery
from detektor.adapters.sqlite import SqliteEventStore
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.embedded.progress import percentile
from detektor.kit.metrics import Metrics
from detektor.pipeline.decoding import decode
from detektor.pipeline.processing import Processor
from detektor.pipeline.settings import ProcessorSettings
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene
from detektor.services.detector.processor import DetectorProcessor, build_processor
from detektor.settings import Settings
from pipeline import cameras, run_pipeline  # bench/pipeline.py, this script's neighbour
from pipeline_detector import TimedBackend

FPS = 5.0


@dataclass
class Step:
    label: str
    cameras: int
    fps: float = 0.0  # processed (completed) frames/s in the window
    ratio: float = 0.0  # fps / the detector's raw throughput
    captured: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    # The largest deviation of one camera's dropped share (dropped / captured, shutdown
    # apart) from the cameras' mean share, relative to it: 0.2 is "within +-20 %".
    drop_spread: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    cpu_ms: float = 0.0  # process CPU per completed frame
    cores: float = 0.0  # process CPU over the window, in cores
    stages: dict[str, float] = field(default_factory=dict)  # ms per frame by stage


def raw_throughput(processor: Processor, seconds: float = 5.0, batch: int = 8) -> float:
    """Frames/s of ``processor.process`` alone on decoded 640x480 frames, batches of 8."""
    scene = SyntheticScene(SceneSpec.parse("synthetic://?size=640x480"))
    frames = []
    for i in range(batch):
        ok, jpeg = cv2.imencode(".jpg", scene.render(i * 3))
        assert ok
        msg = FrameMessage(FrameId.make("base", 1, i), 1, i, 640, 480, jpeg.tobytes())
        frame, _ = decode(to_delivery("1-0", msg.to_fields(), 1), 640 * 480)
        assert frame is not None
        frames.append(frame)
    processor.process(frames)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        processor.process(frames)
        done += batch
    return done / (time.perf_counter() - started)


def frame_counts(metrics: Metrics) -> list[tuple[str, str, str, float]]:
    out = []
    for family in metrics.registry.collect():
        if family.name == "detektor_frames":
            for s in family.samples:
                if s.name == "detektor_frames_total":
                    lab = s.labels
                    out.append((lab["camera"], lab["outcome"], lab["reason"], s.value))
    return out


def stage_ms(metrics: Metrics, processed: float) -> dict[str, float]:
    """Wall ms per frame by stage: capture observes each frame, a processor each batch (so
    its sum is divided by the frames it processed)."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in metrics.registry.collect():
        if family.name == "detektor_stage_duration_seconds":
            for s in family.samples:
                stage = s.labels.get("stage", "")
                if s.name.endswith("_sum"):
                    sums[stage] = s.value
                elif s.name.endswith("_count"):
                    counts[stage] = s.value
    return {
        k: 1000 * v / (counts[k] if k == "capture" else processed)
        for k, v in sums.items()
        if counts.get(k) and (k == "capture" or processed)
    }


def run_step(
    label: str, cams: list[CameraSettings], seconds: float, warmup: float, baseline: float
) -> Step:
    metrics = Metrics("bench", "0")
    settings = ProcessorSettings(consumer="bench")
    detector = Settings.model_validate({"detector": {"device": "cpu"}}).detector
    processor, _ = build_processor(detector, cams, metrics)
    assert isinstance(processor, DetectorProcessor)
    timed = processor.backend = TimedBackend(processor.backend)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteEventStore(str(Path(tmp) / "events.db"))
        store.migrate()
        window = asyncio.run(
            run_pipeline(
                # As detektor run builds it (embedded/runner.py).
                MemoryFrameBus(cap=Settings().bus.cap, old_after_ms=settings.max_frame_age_ms // 2),
                StoreEventSink(store),
                seconds,
                metrics,
                processor,
                cams,
                settings,
                warmup_s=warmup,
            )
        )
        store.close()
    step = Step(label, len(cams))
    lat = window.latencies
    step.fps = len(lat) / window.seconds
    step.ratio = step.fps / baseline
    step.p50, step.p95, step.p99 = (1000 * (percentile(lat, q) or 0) for q in (50, 95, 99))
    step.cpu_ms = 1000 * window.cpu_s / len(lat) if lat else 0.0
    step.cores = window.cpu_s / window.seconds
    processed = 0.0
    dropped: dict[str, float] = {c.name: 0.0 for c in cams}
    captured: dict[str, float] = {c.name: 0.0 for c in cams}
    for camera, outcome, reason, value in frame_counts(metrics):
        if outcome == "captured":
            step.captured += int(value)
            captured[camera] = value
        elif outcome == "processed":
            processed += value
        elif outcome == "dropped":
            step.drops[reason] = step.drops.get(reason, 0) + int(value)
            if reason != "shutdown":
                dropped[camera] = dropped.get(camera, 0.0) + value
    shares = [dropped[c] / captured[c] for c in captured if captured[c]]
    mean = sum(shares) / len(shares) if shares else 0.0
    if mean:
        step.drop_spread = max(abs(x / mean - 1) for x in shares)
    step.stages = stage_ms(metrics, processed)
    end = window.started + window.seconds
    calls = [(s, n) for at, s, n in timed.calls if window.started <= at <= end]
    if calls:
        step.stages["inference (ORT call)"] = (
            1000 * sum(s for s, _ in calls) / sum(n for _, n in calls)
        )
    return step


def describe(step: Step) -> str:
    kept = {k: v for k, v in step.drops.items() if k != "shutdown"}
    dropped = sum(kept.values())
    pct = 100 * dropped / step.captured if step.captured else 0.0
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(kept.items())) or "none"
    stages = ", ".join(f"{k} {v:.1f}" for k, v in sorted(step.stages.items()))
    return (
        f"[{step.label}] {step.fps:.1f} frames/s completed of {step.cameras * FPS:g} offered "
        f"({step.ratio:.2f} x raw detector throughput); dropped {pct:.1f} % ({reasons}; "
        f"cameras' shares within +-{100 * step.drop_spread:.0f} %); capture->completed p50 "
        f"{step.p50:.0f} ms, p95 {step.p95:.0f} ms, p99 {step.p99:.0f} ms; CPU "
        f"{step.cores:.2f} cores, {step.cpu_ms:.1f} ms per completed frame; wall ms per "
        f"frame by stage: {stages}"
    )


def plot(steps: list[Step], baseline: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [s for s in steps if s.label.startswith("moving")]
    n = [s.cameras for s in sweep]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(n, [s.cameras * FPS for s in sweep], "k--", label="offered")
    left.plot(n, [s.fps for s in sweep], "o-", label="completed")
    left.axhline(baseline, color="grey", linestyle=":", label="raw detector throughput")
    left.set_xlabel("cameras (640x480, 5 fps)")
    left.set_ylabel("frames/s")
    left.legend()
    left.set_title("throughput")
    for q in ("p50", "p95", "p99"):
        right.plot(n, [getattr(s, q) for s in sweep], "o-", label=q)
    right.set_xlabel("cameras (640x480, 5 fps)")
    right.set_ylabel("capture -> completed, ms")
    right.set_yscale("log")
    right.legend()
    right.set_title("latency (max_frame_age_ms 1000)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", default="2,4,6,8,10,12", help="comma-separated counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per step")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the window")
    parser.add_argument("--plot", type=Path, default=Path(__file__).with_name("capacity.png"))
    args = parser.parse_args()
    counts = [int(c) for c in args.cameras.split(",") if c.strip()]
    detector = Settings.model_validate({"detector": {"device": "cpu"}}).detector
    processor, _ = build_processor(detector, cameras(1, FPS), Metrics("baseline", "0"))
    baseline = raw_throughput(processor)
    print(f"baseline: the detector alone, batches of 8: {baseline:.1f} frames/s", flush=True)
    steps = []
    for n in counts:
        cams = cameras(n, FPS, decode_fps=10)
        steps.append(run_step(f"moving x{n}", cams, args.seconds, args.warmup, baseline))
        print(describe(steps[-1]), flush=True)
    n = max(counts)
    steps.append(
        run_step(
            f"motionless x{n}",
            cameras(n, FPS, decode_fps=10, scene="static", motion=True),
            args.seconds,
            4.0,
            baseline,
        )
    )
    print(describe(steps[-1]), flush=True)
    plot(steps, baseline, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
