"""``detektor serve detector``: consume frames from the Redis bus, process, record.

The processor is chosen by ``DETEKTOR_DETECTOR__TYPE``; until the object detector lands the
only type is ``motion_regions``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from detektor.kit.app import ServiceKit, create_app
from detektor.kit.workers import join, supervise
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processor import Processor, ProcessorRunner
from detektor.pipeline.wiring import redis_adapters
from detektor.settings import Settings

PROCESSORS: dict[str, type[Processor]] = {"motion_regions": MotionRegionsProcessor}


def build(settings: Settings) -> FastAPI:
    kit = ServiceKit("detector", settings)
    pipeline = PipelineMetrics(kit.metrics)
    processor = PROCESSORS[settings.detector.type]()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis, bus, sink = redis_adapters(settings, kit)
        runner = ProcessorRunner(processor, bus, sink, pipeline, settings.processor, kit.liveness)
        task = supervise(kit.liveness, "processor", runner.run)
        try:
            yield
        finally:
            runner.stop()
            await join([task], settings.shutdown_timeout_s)
            await sink.close()
            await redis.aclose()

    return create_app(
        kit,
        lifespan=lifespan,
        summary={
            "processor": processor.name,
            "bus": settings.bus.stream,
            "batch_size": settings.processor.batch_size,
        },
    )
