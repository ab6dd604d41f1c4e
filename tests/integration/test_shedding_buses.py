"""Shedding by age on both frame buses: the in-memory one (``detektor run``) and real Redis
(``serve detector``). Frames captured seconds ago are dropped as stale and acknowledged;
fresh ones are processed; an unparsable entry is still dead-lettered with its own reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.redis_bus import RedisFrameBus
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from support.frames import astronaut_jpeg
from support.redis import redis_namespace

Bus = MemoryFrameBus | RedisFrameBus


@pytest.fixture(params=["memory", "redis"])
def bus_kind(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "memory":
        yield "memory", ""
        return
    with redis_namespace() as (url, prefix):
        yield url, prefix


@asynccontextmanager
async def open_bus(kind: tuple[str, str]) -> AsyncIterator[Bus]:
    url, prefix = kind
    if url == "memory":
        yield MemoryFrameBus()
        return
    redis = Redis.from_url(url)
    try:
        yield RedisFrameBus(redis, f"{prefix}:frames", "processors")
    finally:
        await redis.aclose()


async def process_until(
    bus: Bus,
    sink: MemoryEventSink,
    metrics: PipelineMetrics,
    max_age_ms: int,
    done: Callable[[], Awaitable[bool]],
) -> None:
    """Run a runner (motion regions, a real processor) on ``bus`` until ``done``."""
    settings = ProcessorSettings(consumer="c1", max_wait_ms=20, max_frame_age_ms=max_age_ms)
    runner = ProcessorRunner(MotionRegionsProcessor(), bus, sink, metrics, settings, Liveness())
    task = asyncio.create_task(runner.run())
    for _ in range(500):
        if await done():
            break
        await asyncio.sleep(0.01)
    runner.stop()
    await asyncio.wait_for(task, 5)


def frame(camera: str, seq: int, age_ms: int) -> FrameMessage:
    ms = int(time.time() * 1000) - age_ms
    return FrameMessage(FrameId.make(camera, ms, seq), ms, seq, 320, 240, astronaut_jpeg(320, 240))


def test_frames_older_than_the_limit_are_dropped_as_stale_and_acknowledged(
    bus_kind: tuple[str, str],
) -> None:
    old = [frame("porch", i, age_ms=5_000) for i in range(3)]
    fresh = [frame("porch", 10 + i, age_ms=0) for i in range(2)]
    sink = MemoryEventSink()
    metrics = PipelineMetrics(Metrics("unit", "0"))

    async def body() -> tuple[int, int]:
        async with open_bus(bus_kind) as bus:
            for m in old + fresh:
                assert (await bus.publish(m)).entry_id is not None
            await bus.publish_fields({b"frame_id": b"porch:1:000099", b"camera": b"porch"})

            async def done() -> bool:
                completed = sum(e.type is EventType.COMPLETED for e in sink.events)
                return completed == 2 and sum(await bus.backlog()) == 0

            await process_until(bus, sink, metrics, 1000, done)
            return await bus.backlog()

    assert asyncio.run(body()) == (0, 0)
    for m in old:
        events = [e for e in sink.events if e.frame_id == m.frame_id]
        assert [e.type for e in events] == [EventType.DROPPED]
        assert events[0].data["reason"] == "stale"
        assert int(str(events[0].data["age_ms"])) >= 5_000
    for m in fresh:
        assert [e.type for e in sink.events if e.frame_id == m.frame_id][-1] is (
            EventType.COMPLETED
        )
    failed = [e for e in sink.events if e.type is EventType.FAILED]
    assert len(failed) == 1
    assert "missing field" in str(failed[0].data["error"])
    stale = metrics.frames.labels("porch", "dropped", "stale")._value.get()  # type: ignore[attr-defined]
    assert stale == 3


def test_with_the_limit_at_zero_old_frames_are_processed(bus_kind: tuple[str, str]) -> None:
    old = frame("porch", 1, age_ms=60_000)
    sink = MemoryEventSink()

    async def body() -> None:
        async with open_bus(bus_kind) as bus:
            await bus.publish(old)

            async def done() -> bool:
                return any(e.type is EventType.COMPLETED for e in sink.events)

            await process_until(bus, sink, PipelineMetrics(Metrics("unit", "0")), 0, done)

    asyncio.run(body())
    assert [e.type for e in sink.events] == [
        EventType.PROCESSING,
        EventType.PROCESSED,
        EventType.COMPLETED,
    ]
