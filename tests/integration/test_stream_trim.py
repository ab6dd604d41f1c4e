"""Trimming the lifecycle-events stream on the real Redis: what every group acknowledged goes,
what any group has not read or not acknowledged stays, and the gauges say how full it is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from detektor.adapters.redis_streams import LAG_COUNTED_UP_TO, group_lag
from detektor.adapters.stream_trim import StreamMetrics, trim_stream
from detektor.kit.metrics import Metrics
from support.redis import redis_namespace

IDS = [f"1-{n}" for n in range(1, 13)]  # 1-9 before 1-10: text order would get it wrong


def run(scenario: Callable[[Redis, str, StreamMetrics], Awaitable[None]]) -> None:
    async def main(url: str, prefix: str) -> None:
        async with Redis.from_url(url) as redis:
            await scenario(redis, f"{prefix}:events", StreamMetrics(Metrics("unit", "0")))

    with redis_namespace() as (url, prefix):
        asyncio.run(main(url, prefix))


async def fill(redis: Redis, stream: str, groups: list[str]) -> None:
    for group in groups:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    for entry_id in IDS:
        await redis.xadd(stream, {"envelope": "{}"}, id=entry_id)


async def read(redis: Redis, stream: str, group: str, count: int) -> list[str]:
    reply = await redis.xreadgroup(group, "c1", {stream: ">"}, count=count)
    return [eid.decode() for _, entries in reply for eid, _ in entries]


async def left(redis: Redis, stream: str) -> list[str]:
    return [eid.decode() for eid, _ in await redis.xrange(stream)]


def gauge(metrics: StreamMetrics, name: str, stream: str) -> float:
    for family in (metrics.stream_entries, metrics.stream_cap, metrics.stream_trimmed):
        for sample in (s for m in family.collect() for s in m.samples):
            if sample.name == name and sample.labels == {"stream": stream}:
                return float(sample.value)
    raise AssertionError(f"no sample {name} for {stream}")


def test_entries_every_group_acknowledged_are_trimmed_and_no_other() -> None:
    async def scenario(redis: Redis, stream: str, metrics: StreamMetrics) -> None:
        await fill(redis, stream, ["tracking", "audit"])
        got = await read(redis, stream, "tracking", 10)  # 1-11 and 1-12 not yet delivered
        await redis.xack(stream, "tracking", *[e for e in got if e != "1-5"])  # 1-5 pending
        await redis.xack(stream, "audit", *await read(redis, stream, "audit", 12))

        done = await trim_stream(redis, stream, metrics, cap=100)
        assert (done.oldest_needed, done.trimmed, done.entries) == ("1-5", 4, 8)
        assert await left(redis, stream) == IDS[4:]  # the pending one and all after it
        assert gauge(metrics, "detektor_stream_entries", stream) == 8
        assert gauge(metrics, "detektor_stream_cap_entries", stream) == 100
        assert gauge(metrics, "detektor_stream_trimmed_entries_total", stream) == 4

        await redis.xack(stream, "tracking", "1-5")
        assert (await trim_stream(redis, stream, metrics, cap=1000)).oldest_needed == "1-11"
        assert await left(redis, stream) == ["1-11", "1-12"]  # undelivered to tracking
        await redis.xack(stream, "tracking", *await read(redis, stream, "tracking", 10))
        assert (await trim_stream(redis, stream, metrics, cap=1000)).entries == 0
        assert gauge(metrics, "detektor_stream_trimmed_entries_total", stream) == 12

    run(scenario)


def test_the_slowest_group_is_found_by_number_not_by_text() -> None:
    async def scenario(redis: Redis, stream: str, metrics: StreamMetrics) -> None:
        await fill(redis, stream, ["fast", "slow"])
        await redis.xack(stream, "fast", *await read(redis, stream, "fast", 12))  # next: 1-13
        await redis.xack(stream, "slow", *await read(redis, stream, "slow", 8))  # next: 1-9
        done = await trim_stream(redis, stream, metrics, cap=1000)
        assert done.oldest_needed == "1-9"  # as text "1-13" < "1-9", which would lose 1-9..1-12
        assert await left(redis, stream) == IDS[8:]

    run(scenario)


def test_nothing_is_trimmed_before_any_group_reads() -> None:
    async def scenario(redis: Redis, stream: str, metrics: StreamMetrics) -> None:
        done = await trim_stream(redis, stream, metrics, cap=1000)  # no stream yet
        assert (done.oldest_needed, done.trimmed, done.entries) == (None, 0, 0)
        for entry_id in IDS:
            await redis.xadd(stream, {"envelope": "{}"}, id=entry_id)
        done = await trim_stream(redis, stream, metrics, cap=10)  # no group yet
        assert (done.oldest_needed, done.trimmed, done.entries) == (None, 0, 12)
        await redis.xgroup_create(stream, "tracking", id="0")
        assert (await trim_stream(redis, stream, metrics, cap=1000)).trimmed == 0
        assert await left(redis, stream) == IDS
        # 12 unread entries against a cap of 10: the gauges show the overflow coming.
        await trim_stream(redis, stream, metrics, cap=10)
        assert gauge(metrics, "detektor_stream_entries", stream) == 12
        assert gauge(metrics, "detektor_stream_cap_entries", stream) == 10

    run(scenario)


def test_group_lag_is_counted_not_taken_from_redis_counters() -> None:
    """XGROUP SETID ... ENTRIESREAD puts Redis's lag counters in the state the stack test met
    after a Redis restart: every entry delivered, yet XINFO GROUPS says lag 1345. The gauge
    counts what is really undelivered."""

    async def scenario(redis: Redis, stream: str, _: StreamMetrics) -> None:
        await fill(redis, stream, ["tracking"])
        await read(redis, stream, "tracking", count=5)
        (group,) = await redis.xinfo_groups(stream)
        assert await group_lag(redis, stream, group) == len(IDS) - 5 == group["lag"]
        await read(redis, stream, "tracking", count=100)
        await redis.execute_command("XGROUP", "SETID", stream, "tracking", "$", "ENTRIESREAD", 1)
        (group,) = await redis.xinfo_groups(stream)
        assert group["lag"] == len(IDS) - 1  # Redis's counter: wrong
        assert await group_lag(redis, stream, group) == 0
        for n in range(1, LAG_COUNTED_UP_TO + 11):
            await redis.xadd(stream, {"envelope": "{}"}, id=f"2-{n}")
        (group,) = await redis.xinfo_groups(stream)
        # beyond what is counted: at least that many, or Redis's figure when larger
        assert await group_lag(redis, stream, group) == max(group["lag"], LAG_COUNTED_UP_TO + 1)

    run(scenario)
