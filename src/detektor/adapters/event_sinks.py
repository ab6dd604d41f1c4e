"""EventSink adapters: where pipeline stages send lifecycle events.

- ``StoreEventSink``: straight into an EventStore (the embedded ``detektor run``).
- ``RedisEventSink``: onto the lifecycle-events stream that tracking consumes (distributed).
- ``MemoryEventSink``: a list, for tests.

A Redis outage must not stop capture or processing, so the Redis sink keeps undelivered
events in a bounded buffer, retries them with the next emit, and counts what overflowed.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Sequence

from anyio import to_thread
from redis.asyncio import Redis
from redis.exceptions import RedisError

from detektor.domain.events import Envelope
from detektor.ports import EventStore

log = logging.getLogger(__name__)


class MemoryEventSink:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def emit(self, events: Sequence[Envelope]) -> None:
        self.events.extend(events)

    async def close(self) -> None:
        return None


class StoreEventSink:
    """Appends to the store in a worker thread (store calls block)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def emit(self, events: Sequence[Envelope]) -> None:
        if events:
            await to_thread.run_sync(lambda: self.store.append(list(events)))

    async def close(self) -> None:
        return None


class RedisEventSink:
    """XADDs one entry per event (``envelope`` = JSON) to the events stream."""

    def __init__(
        self, redis: Redis, stream: str, *, buffer: int = 100_000, maxlen: int = 1_000_000
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.pending: deque[Envelope] = deque(maxlen=buffer)
        self.lost = 0  # events that fell out of a full buffer during an outage

    async def emit(self, events: Sequence[Envelope]) -> None:
        if len(self.pending) + len(events) > (self.pending.maxlen or 0):
            self.lost += len(self.pending) + len(events) - (self.pending.maxlen or 0)
        self.pending.extend(events)
        await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        batch = list(self.pending)
        pipe = self.redis.pipeline(transaction=False)
        for envelope in batch:
            pipe.xadd(
                self.stream,
                {"envelope": json.dumps(envelope.to_dict())},
                maxlen=self.maxlen,
                approximate=True,
            )
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "events stream unavailable (%s); %d events buffered", exc, len(self.pending)
            )
            return
        for _ in batch:
            self.pending.popleft()

    async def close(self) -> None:
        await self.flush()
