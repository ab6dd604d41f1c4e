"""The real detector processor run on given frame messages through the memory bus."""

from __future__ import annotations

import asyncio

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.events import EventType
from detektor.domain.messages import FrameMessage
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from detektor.services.capture.settings import CameraSettings
from detektor.services.detector.processor import build_processor
from detektor.services.detector.settings import DetectorSettings


def run_detector(
    messages: list[FrameMessage], cameras: list[CameraSettings]
) -> tuple[MemoryEventSink, Metrics]:
    """The events of the run, once every message is completed, and the metrics."""
    metrics = Metrics("unit", "0")
    processor, device = build_processor(DetectorSettings(), cameras, metrics)
    assert device is not None
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    runner = ProcessorRunner(
        processor,
        bus,
        sink,
        PipelineMetrics(metrics),
        # All messages are published before the run, some built long before: shedding by
        # age has its own tests (test_shedding.py).
        ProcessorSettings(batch_size=4, max_wait_ms=20, consumer="t", max_frame_age_ms=0),
        Liveness(),
    )

    async def scenario() -> None:
        for m in messages:
            await bus.publish(m)
        task = asyncio.create_task(runner.run())
        for _ in range(600):
            if sum(e.type is EventType.COMPLETED for e in sink.events) == len(messages):
                break
            await asyncio.sleep(0.05)
        runner.stop()
        await task

    asyncio.run(scenario())
    assert not bus.dead, bus.dead
    return sink, metrics
