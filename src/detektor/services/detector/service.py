"""``detektor serve detector``: consume frames from the Redis bus, detect, record.

The processor is chosen by ``DETEKTOR_DETECTOR__TYPE``: ``onnx`` (the default: the bundled
NanoDet model, or a YOLO ONNX file) or ``motion_regions``. A model that cannot be used stops
the service at start with the reason (exit code 2).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from detektor.adapters.detections import RedisDetectionStream
from detektor.detection.device import GpuGauges
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.workers import join, pause
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.wiring import redis_adapters
from detektor.services.detector.processor import load_processor
from detektor.settings import Settings


def build(settings: Settings) -> FastAPI:
    kit = ServiceKit("detector", settings)
    pipeline = PipelineMetrics(kit.metrics)
    processor, device = load_processor(settings, kit)
    gpu = GpuGauges(kit.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis, bus, sink = redis_adapters(settings, kit)
        results = RedisDetectionStream(
            redis,
            settings.detector.detections_stream,
            pictures_ttl_s=settings.detector.pictures_ttl_s,
        )
        runner = ProcessorRunner(
            processor,
            bus,
            sink,
            pipeline,
            settings.processor,
            kit.liveness,
            publish=results.publish,
        )
        task = kit.supervisor.start(runner.worker, runner.run)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_gpu(gpu, stop))
        try:
            yield
        finally:
            runner.stop()
            stop.set()
            await join([task], settings.shutdown_timeout_s)
            await sampler
            await sink.close()
            await redis.aclose()

    return create_app(
        kit,
        lifespan=lifespan,
        summary={
            "processor": processor.name,
            "device": device.to_dict() if device else None,
            "bus": settings.bus.stream,
            "batch_size": settings.processor.batch_size,
        },
    )


async def sample_gpu(gpu: GpuGauges, stop: asyncio.Event) -> None:
    while not stop.is_set():
        gpu.sample()
        await pause(stop, 5.0)
