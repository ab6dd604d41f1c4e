"""Adapters for the distributed setup, built from settings: Redis bus and events sink."""

from __future__ import annotations

from redis.asyncio import Redis

from detektor.adapters.event_sinks import RedisEventSink
from detektor.adapters.redis_bus import RedisFrameBus
from detektor.kit.app import ServiceKit
from detektor.settings import Settings


def redis_adapters(
    settings: Settings, kit: ServiceKit
) -> tuple[Redis, RedisFrameBus, RedisEventSink]:
    """One Redis client shared by the frame bus and the lifecycle-events sink; readiness
    gets a ``redis`` check."""
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    bus = RedisFrameBus(
        redis,
        settings.bus.stream,
        settings.bus.group,
        cap=settings.bus.cap,
        max_deliveries=settings.bus.max_deliveries,
    )
    sink = RedisEventSink(redis, settings.tracking.stream)
    kit.readiness.add("redis", redis.ping)
    return redis, bus, sink
