"""Helpers for the FrameBus contract suite: opening each adapter, frames, dead letters.

``BusKit`` hides what differs between the twins (where the bus lives, how its dead letters
are read back) so the tests in ``test_frame_bus.py`` are written once for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from detektor.adapters.memory_bus import MemoryFrameBus, dead_letter_fields
from detektor.adapters.redis_bus import RedisFrameBus
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage

Bus = MemoryFrameBus | RedisFrameBus
T = TypeVar("T")
T0_MS = 1_764_230_400_000
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# Not a decodable image: the bus never looks inside the payload.
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def frame(seq: int, camera: str = "front-door") -> FrameMessage:
    return FrameMessage(
        frame_id=FrameId.make(camera, T0_MS + seq * 200, seq),
        captured_ms=T0_MS + seq * 200,
        pts=seq * 18_000,
        width=640,
        height=480,
        jpeg=JPEG + seq.to_bytes(4, "big"),
        traceparent=TRACEPARENT,
    )


@dataclass(frozen=True)
class BusKit:
    """One adapter kind; ``url``/``prefix`` locate an isolated Redis namespace."""

    kind: str
    url: str = ""
    prefix: str = ""

    def run(self, test: Callable[[], Awaitable[T]]) -> T:
        """Run one async test body (pytest-asyncio is deliberately not used)."""

        async def main() -> T:
            return await test()

        return asyncio.run(main())

    @asynccontextmanager
    async def open(self, cap: int = 1000, max_deliveries: int = 5) -> AsyncIterator[Bus]:
        if self.kind == "memory":
            memory = MemoryFrameBus(cap=cap, max_deliveries=max_deliveries)
            try:
                yield memory
            finally:
                await memory.close()
            return
        from redis.asyncio import Redis

        client = Redis.from_url(self.url)
        bus = RedisFrameBus(
            client, f"{self.prefix}:frames", "processors", cap=cap, max_deliveries=max_deliveries
        )
        try:
            yield bus
        finally:
            await bus.close()
            await client.aclose()

    async def dead(self, bus: Bus) -> list[dict[bytes, bytes]]:
        """The dead letters as stored: original fields plus dead_reason/source/deliveries."""
        if isinstance(bus, MemoryFrameBus):
            return [dead_letter_fields(delivery, reason) for delivery, reason in bus.dead]
        return [fields for _, fields in await bus.redis.xrange(bus.dead_letter_stream)]
