"""Pipeline benchmarks: end-to-end latency, and the CPU cost of telemetry per frame.

    .venv/bin/python bench/pipeline.py latency   [--seconds 20]
    .venv/bin/python bench/pipeline.py telemetry [--seconds 20] [--rounds 2]

``latency``: 4 synthetic cameras at 10 fps, every frame sampled (detect_fps 10, motion gate
off), through the frame bus to a processor that does no inference, then completed. Reports
capture-to-processed p50/p95/p99 (target p99 <= 50 ms) on the in-memory bus with the SQLite
store (``detektor run``'s setup) and, in the same run, on the Redis bus with events on the
Redis events stream (the distributed setup, here in one process).

``telemetry``: the same pipeline (in-memory bus) with tracing exported over OTLP to a local
receiver, metrics and lifecycle events on, against tracing off, events dropped and no
exporter. Each configuration runs in a child process of this run (an installed tracer
provider cannot be removed from a process), alternating, and reports CPU seconds per frame
and the ratio (target <= 1.05). Bus throughput is in ``bench/pipeline_bus.py`` and capture
decoding in ``bench/capture.py``.
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
from detektor.pipeline.processor import Processor, ProcessorRunner, Result
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


def cameras(n: int, fps: int) -> list[CameraSettings]:
    return [
        CameraSettings(
            name=f"cam-{i}",
            source=SecretStr(f"synthetic://?fps={fps}&size=640x480&seed={i}"),
            detect_fps=fps,
            motion=MotionSettings(enabled=False),
        )
        for i in range(n)
    ]


WARMUP_S = 2.0  # start-up (threads, first decodes, migrations) is not steady state


async def run_pipeline(bus: FrameBus, sink: EventSink, seconds: float) -> tuple[list[float], int]:
    metrics = Metrics("bench", "0")
    pipeline, capture = PipelineMetrics(metrics), CaptureMetrics(metrics)
    liveness = Liveness()
    workers = [CameraWorker(cam, bus, sink, capture, pipeline, liveness) for cam in cameras(4, 10)]
    runner = ProcessorRunner(
        NoInference(),
        bus,
        sink,
        pipeline,
        ProcessorSettings(batch_size=8, max_wait_ms=5, consumer="bench"),
        liveness,
        drop_on_shutdown=True,
    )
    tasks = [asyncio.create_task(w.run()) for w in workers]
    proc = asyncio.create_task(runner.run())
    await asyncio.sleep(WARMUP_S)
    runner.latencies.clear()
    await asyncio.sleep(seconds)
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.3)
    runner.stop()
    await proc
    await sink.close()
    return list(runner.latencies), len(runner.latencies)


def report(label: str, latencies: list[float], frames: int, seconds: float) -> None:
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
        lat, frames = asyncio.run(
            run_pipeline(MemoryFrameBus(cap=200), StoreEventSink(store), seconds)
        )
        store.close()
    report("embedded: memory bus, SQLite events", lat, frames, seconds)

    from redis.asyncio import Redis

    from detektor.adapters.redis_bus import RedisFrameBus

    async def distributed() -> tuple[list[float], int]:
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

    lat, frames = asyncio.run(distributed())
    report("distributed: Redis bus, Redis events", lat, frames, seconds)


def telemetry_child(mode: str, seconds: float) -> None:
    """One configuration, in its own process; prints JSON with CPU and frames."""
    sink: EventSink
    if mode == "on":
        from detektor.kit.telemetry import setup_telemetry
        from support.otlp import OtlpReceiver

        receiver = OtlpReceiver().__enter__()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        setup_telemetry("bench", "0")
        sink = MemoryEventSink()
    else:
        sink = NullSink()
    start = resource.getrusage(resource.RUSAGE_SELF)
    _, frames = asyncio.run(run_pipeline(MemoryFrameBus(cap=200), sink, seconds))
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    print(json.dumps({"mode": mode, "cpu_s": cpu, "frames": frames}))


def telemetry(seconds: float, rounds: int) -> None:
    per_frame: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(rounds):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "child", mode, "--seconds", str(seconds)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "OTEL_SDK_DISABLED": ""},
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
    on, off = (sum(per_frame[m]) / len(per_frame[m]) for m in ("on", "off"))
    print(
        f"[telemetry] CPU per frame: on {on * 1000:.2f} ms, off {off * 1000:.2f} ms, "
        f"ratio {on / off:.3f} (target <= 1.05)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["latency", "telemetry", "child"])
    parser.add_argument("mode", nargs="?", default="on")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.what == "latency":
        latency(args.seconds)
    elif args.what == "telemetry":
        telemetry(args.seconds, args.rounds)
    else:
        telemetry_child(args.mode, args.seconds)


if __name__ == "__main__":
    started = time.monotonic()
    main()
