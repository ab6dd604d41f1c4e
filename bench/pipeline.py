"""Pipeline benchmarks: end-to-end latency, and the CPU cost of telemetry per frame.

    .venv/bin/python bench/pipeline.py latency   [--seconds 20]
    .venv/bin/python bench/pipeline.py telemetry [--seconds 20] [--rounds 2]

``latency``: 4 synthetic cameras at 10 fps, every frame sampled (detect_fps 10, motion gate
off), through the frame bus to a processor that does no inference, then completed. Reports
capture-to-processed p50/p95/p99 (target p99 <= 50 ms) on the in-memory bus with the SQLite
store (``detektor run``'s setup) and, in the same run, on the Redis bus with events on the
Redis events stream (the distributed setup, here in one process).

``telemetry``: the same pipeline (in-memory bus) with everything on -- tracing exported over
OTLP, Prometheus metrics in a real registry, lifecycle events kept by a sink -- against
everything off: no tracer provider (the API's no-op), a no-op metrics object instead of the
registry (no child lookup, lock or bucket search) and a no-op event sink. The events are
still built (the code builds them before it emits them; nothing switches that off). Each
side runs in a child process (a tracer provider cannot be removed), alternating; CPU per
frame counts the measured window only (target ratio <= 1.05). The OTLP receiver runs in a
process of its own, as a collector would: exporting counts, receiving does not.
NanoDet end to end is ``bench/pipeline_detector.py``; the bus, ``bench/pipeline_bus.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.adapters.event_sinks import MemoryEventSink, RedisEventSink, StoreEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.sqlite import SqliteEventStore
from detektor.embedded.progress import percentile
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.decoding import Frame
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processing import Processor, Result
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from detektor.ports import EventSink, FrameBus
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings, MotionSettings
from support.redis import REDIS_URL  # TEST_REDIS_URL, as the tests use


class NoInference(Processor):
    name = "none"

    def process(self, frames: Sequence[Frame]) -> list[Result]:
        return [Result() for _ in frames]


class NullSink:
    async def emit(self, events: Sequence[object]) -> None:
        return None

    async def close(self) -> None:
        return None


class NullMetric:
    """A counter, gauge or histogram (and any labelled child of one) that records nothing."""

    def labels(self, *values: object) -> NullMetric:
        return self

    def inc(self, amount: float = 1, exemplar: object = None) -> None:
        return None

    def set(self, value: float) -> None:
        return None

    def observe(self, value: float, exemplar: object = None) -> None:
        return None


class NullMetrics:
    """Stands in for ``kit.metrics.Metrics`` where metrics are off: no registry at all."""

    def counter(self, *args: object, **kwargs: object) -> NullMetric:
        return NullMetric()

    gauge = histogram = counter


def cameras(
    n: int, fps: float, decode_fps: int | None = None, scene: str = "person", motion: bool = False
) -> list[CameraSettings]:
    """``n`` synthetic 640x480 cameras of ``scene`` sampled at ``fps`` (decoded at
    ``decode_fps``, by default the same), by default with the motion gate off so every
    sampled frame is processed."""
    query = f"size=640x480&scene={scene}"
    return [
        CameraSettings(
            name=f"cam-{i}",
            source=SecretStr(f"synthetic://?fps={decode_fps or fps:g}&{query}&seed={i}"),
            detect_fps=fps,
            motion=MotionSettings(enabled=motion),
        )
        for i in range(n)
    ]


WARMUP_S = 2.0  # start-up (threads, first decodes, migrations) is not steady state


@dataclass
class Window:
    """What one measured window (after the warm-up) saw."""

    latencies: list[float]  # capture -> processed, seconds, of the frames done in the window
    cpu_s: float  # this process's CPU over the window, all threads
    seconds: float
    started: float  # time.monotonic() at its start


async def run_pipeline(
    bus: FrameBus,
    sink: EventSink,
    seconds: float,
    metrics: Metrics | NullMetrics | None = None,
    processor: Processor | None = None,
    cams: list[CameraSettings] | None = None,
    settings: ProcessorSettings | None = None,
    warmup_s: float = WARMUP_S,
) -> Window:
    metrics = Metrics("bench", "0") if metrics is None else metrics
    pipeline = PipelineMetrics(metrics)  # type: ignore[arg-type]
    capture = CaptureMetrics(metrics)  # type: ignore[arg-type]
    liveness = Liveness()
    cams = cameras(4, 10) if cams is None else cams
    workers = [CameraWorker(cam, bus, sink, capture, pipeline, liveness) for cam in cams]
    runner = ProcessorRunner(
        NoInference() if processor is None else processor,
        bus,
        sink,
        pipeline,
        settings or ProcessorSettings(batch_size=8, max_wait_ms=5, consumer="bench"),
        liveness,
        drop_on_shutdown=True,
    )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    proc = asyncio.create_task(runner.run())
    await asyncio.sleep(warmup_s)
    # Only the window counts, CPU included: start-up and shutdown would dilute the ratio.
    runner.latencies.clear()
    cpu, started = cpu_now(), time.monotonic()
    await asyncio.sleep(seconds)
    window = Window(list(runner.latencies), cpu_now() - cpu, time.monotonic() - started, started)
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.3)
    runner.stop()
    await proc
    await sink.close()
    return window


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(label: str, window: Window) -> None:
    latencies, frames, seconds = window.latencies, len(window.latencies), window.seconds
    p50, p95, p99 = (1000 * (percentile(latencies, q) or 0) for q in (50, 95, 99))
    print(
        f"[{label}] {frames} frames in {seconds:.0f}s ({frames / seconds:.1f} fps): "
        f"capture->processed p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms "
        f"(target p99 <= 50 ms)"
    )


def latency(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteEventStore(str(Path(tmp) / "events.db"))
        store.migrate()
        window = asyncio.run(run_pipeline(MemoryFrameBus(cap=200), StoreEventSink(store), seconds))
        store.close()
    report("embedded: memory bus, SQLite events", window)

    from redis.asyncio import Redis

    from detektor.adapters.redis_bus import RedisFrameBus

    async def distributed() -> Window:
        redis = Redis.from_url(REDIS_URL)
        prefix = f"bench-{os.getpid()}"
        try:
            bus = RedisFrameBus(redis, f"{prefix}:frames", "processors", cap=200)
            return await run_pipeline(bus, RedisEventSink(redis, f"{prefix}:events"), seconds)
        finally:
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

    report("distributed: Redis bus, Redis events", asyncio.run(distributed()))


def telemetry_child(mode: str, seconds: float) -> None:
    """One configuration, in its own process; prints JSON with CPU and frames."""
    sink: EventSink
    metrics: Metrics | NullMetrics
    if mode == "on":
        from detektor.kit.telemetry import setup_telemetry

        assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"], "telemetry() sets the receiver"
        setup_telemetry("bench", "0")
        sink, metrics = MemoryEventSink(), Metrics("bench", "0")
    else:
        sink, metrics = NullSink(), NullMetrics()
    window = asyncio.run(run_pipeline(MemoryFrameBus(cap=200), sink, seconds, metrics))
    print(json.dumps({"mode": mode, "cpu_s": window.cpu_s, "frames": len(window.latencies)}))


def receiver() -> None:
    """An OTLP receiver in its own process: prints its endpoint, runs until stdin closes."""
    from support.otlp import OtlpReceiver

    with OtlpReceiver() as server:
        print(server.endpoint, flush=True)
        sys.stdin.read()


def telemetry(seconds: float, rounds: int) -> None:
    per_frame: dict[str, list[float]] = {"on": [], "off": []}
    collector = subprocess.Popen(
        [sys.executable, __file__, "receiver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert collector.stdout is not None
    assert collector.stdin is not None
    endpoint = collector.stdout.readline().strip()
    try:
        _telemetry_rounds(seconds, rounds, endpoint, per_frame)
    finally:
        collector.stdin.close()
        collector.wait(10)
    on, off = (sum(per_frame[m]) / len(per_frame[m]) for m in ("on", "off"))
    print(
        f"[telemetry] CPU per frame: on {on * 1000:.2f} ms, off {off * 1000:.2f} ms, "
        f"ratio {on / off:.3f} (target <= 1.05)"
    )


def _telemetry_rounds(
    seconds: float, rounds: int, endpoint: str, per_frame: dict[str, list[float]]
) -> None:
    for r in range(rounds):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "child", mode, "--seconds", str(seconds)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={
                        **os.environ,
                        "OTEL_SDK_DISABLED": "",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                    },
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            result = json.loads(out)
            per_frame[mode].append(result["cpu_s"] / result["frames"])
            print(
                f"  round {r + 1} {mode}: {result['frames']} frames, "
                f"{1000 * result['cpu_s'] / result['frames']:.2f} ms CPU/frame",
                file=sys.stderr,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["latency", "telemetry", "child", "receiver"])
    parser.add_argument("mode", nargs="?", default="on")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.what == "latency":
        latency(args.seconds)
    elif args.what == "telemetry":
        telemetry(args.seconds, args.rounds)
    elif args.what == "receiver":
        receiver()
    else:
        telemetry_child(args.mode, args.seconds)


if __name__ == "__main__":
    main()
