"""Fault tests for RedisFrameBus: Redis restarted mid-stream, and Redis losing the group.

Each test runs a private ``redis-server`` on a free port. With AOF on (as deployed) a
restart keeps the stream and the group's pending entries: the bus, driven by a caller that
retries on connection errors, goes on, no acknowledged entry comes back and no unacknowledged
one vanishes. Without persistence Redis forgets the group, and the bus re-creates it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from redis import exceptions as rx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from detektor.adapters.redis_bus import RedisFrameBus
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.ports import Delivery
from support.private_redis import PrivateRedis
from support.services import require_binary

pytestmark = pytest.mark.integration
T = TypeVar("T")
# What redis-py raises while the server is down or replaying its AOF.
OUTAGE = (rx.ConnectionError, rx.TimeoutError, rx.BusyLoadingError)


def _server(tmp_path: Path, aof: bool) -> Iterator[PrivateRedis]:
    binary = require_binary("redis-server", "redis-server")
    server = PrivateRedis(binary, tmp_path, aof=aof)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _server(tmp_path, aof=True)


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    yield from _server(tmp_path, aof=False)


def frame(seq: int) -> FrameMessage:
    ms = 1_764_230_400_000 + seq * 100
    return FrameMessage(FrameId.make("garage", ms, seq), ms, seq, 640, 480, b"\xff\xd8" * 500)


class Caller:
    """What a real caller does on an outage: wait a little and try again."""

    def __init__(self) -> None:
        self.outages = 0

    async def retry(self, op: Callable[[], Awaitable[T]], deadline_s: float = 20) -> T:
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                return await op()
            except OUTAGE:
                self.outages += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)


def _client(server: PrivateRedis) -> Redis:
    # No retries inside redis-py: the outage must reach the caller, which retries itself.
    no_retry = Retry(NoBackoff(), 0)
    return Redis(port=server.port, socket_timeout=2, socket_connect_timeout=1, retry=no_retry)


def test_the_bus_keeps_working_across_a_redis_restart_mid_stream(
    aof_redis: PrivateRedis,
) -> None:
    caller = Caller()
    acked: set[str] = set()  # entries whose ack Redis confirmed
    redelivered_after_ack: list[str] = []
    published: dict[str, FrameMessage] = {}  # entries whose publish Redis confirmed

    async def body() -> None:
        client = _client(aof_redis)
        bus = RedisFrameBus(client, "frames", "processors", max_deliveries=50)
        try:
            # Before the restart: 10 acknowledged, 10 pending on c1, 10 never delivered.
            for i in range(30):
                published[str((await bus.publish(frame(i))).entry_id)] = frame(i)
            held = await bus.consume("c1", 20, 0)
            await bus.ack([d.entry_id for d in held[:10]])
            acked.update(d.entry_id for d in held[:10])
            held = held[10:]

            async def produce() -> None:
                for i in range(30, 90):
                    result = await caller.retry(partial(bus.publish, frame(i)))
                    assert result.entry_id is not None
                    published[result.entry_id] = frame(i)
                    if i == 45:
                        halfway.set()
                    await asyncio.sleep(0.01)

            async def process(deliveries: list[Delivery]) -> None:
                redelivered_after_ack.extend(d.entry_id for d in deliveries if d.entry_id in acked)
                ids = [d.entry_id for d in deliveries]
                await caller.retry(lambda: bus.ack(ids))
                acked.update(ids)

            async def consume(stop: asyncio.Event) -> None:
                while not stop.is_set() or set(published) - acked - {d.entry_id for d in held}:
                    try:
                        # After an outage a reply may have been lost: re-read own pending.
                        await process(await bus.pending("c2", 50))
                        await process(await bus.consume("c2", 10, 100))
                    except OUTAGE:
                        caller.outages += 1
                        await asyncio.sleep(0.05)

            stop, halfway = asyncio.Event(), asyncio.Event()
            consumer = asyncio.create_task(consume(stop))
            producer = asyncio.create_task(produce())
            await halfway.wait()
            await asyncio.to_thread(aof_redis.restart)
            await producer
            stop.set()
            await asyncio.wait_for(consumer, 30)

            # c1's unacknowledged entries survived the restart, still c1's, counted twice.
            again = await caller.retry(lambda: bus.pending("c1", 50))
            assert [(d.entry_id, d.message) for d in again] == [
                (d.entry_id, d.message) for d in held
            ]
            assert {d.deliveries for d in again} == {2}
            await process(again)
            assert await bus.backlog() == (0, 0)
            assert await client.xlen("frames") == 0
        finally:
            await client.aclose()

    asyncio.run(body())
    assert aof_redis.starts == 2
    assert caller.outages > 0, "the restart was never felt: the test proves nothing"
    assert redelivered_after_ack == []
    assert set(published) <= acked  # every confirmed frame was processed and acknowledged
    frames = {str(m.frame_id) for m in published.values()}
    assert frames == {str(frame(i).frame_id) for i in range(90)}


def test_the_bus_recreates_a_group_that_redis_lost(
    volatile_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        client = _client(volatile_redis)
        bus = RedisFrameBus(client, "frames", "processors")
        try:
            await bus.publish(frame(1))
            assert len(await bus.consume("c1", 10, 0)) == 1
            await asyncio.to_thread(volatile_redis.restart)  # no persistence: all is gone
            await Caller().retry(lambda: bus.backlog())
            assert await bus.backlog() == (0, 0)
            assert await bus.pending("c1", 10) == []  # NOGROUP: re-created, retried
            await bus.publish(frame(2))
            (got,) = await bus.consume("c1", 10, 0)
            assert got.message == frame(2)
            await bus.ack([got.entry_id])
            assert await bus.backlog() == (0, 0)
        finally:
            await client.aclose()

    asyncio.run(body())
    assert "consumer group processors of frames was gone" in caplog.text


def test_the_cap_holds_when_redis_forgot_the_script(volatile_redis: PrivateRedis) -> None:
    async def body() -> None:
        client = _client(volatile_redis)
        bus = RedisFrameBus(client, "frames", "processors", cap=2)
        try:
            for i in range(2):
                await bus.publish(frame(i))
            await client.script_flush()  # what a restart does to the script cache
            published = await bus.publish(frame(2))  # NOSCRIPT inside MULTI, then reloaded
            assert published.entry_id is not None
            assert published.dropped == [frame(0).frame_id]
            assert await client.xlen("frames") == 2
        finally:
            await client.aclose()

    asyncio.run(body())


def test_a_pending_entry_whose_data_is_gone_is_acked_away(volatile_redis: PrivateRedis) -> None:
    async def body() -> None:
        client = _client(volatile_redis)
        bus = RedisFrameBus(client, "frames", "processors")
        try:
            for i in range(3):
                await bus.publish(frame(i))
            first, second, third = await bus.consume("c1", 10, 0)
            # An ack cut off between its XDEL and its XACK leaves exactly this behind.
            await client.xdel("frames", first.entry_id, third.entry_id)
            assert [d.entry_id for d in await bus.pending("c1", 10)] == [second.entry_id]
            assert await bus.backlog() == (0, 1)
            await client.xdel("frames", second.entry_id)
            assert await bus.claim("c2", 0, 10) == []
            assert await bus.backlog() == (0, 0)
        finally:
            await client.aclose()

    asyncio.run(body())
