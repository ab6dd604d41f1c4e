"""EventSink adapters: where pipeline stages send lifecycle events.

- ``StoreEventSink``: straight into an EventStore (the embedded ``detektor run``).
- ``RedisEventSink``: onto the lifecycle-events stream that tracking consumes (distributed).
- ``MemoryEventSink``: a list, for tests.

The store and Redis sinks never make a pipeline stage wait for storage: ``emit`` only
buffers, and one background writer flushes the buffer in batches (one transaction, or one
pipelined round trip, per flush), in order. When the backend is down the buffer keeps the
events and the writer retries; a buffer that overflows drops its oldest events and counts
them in ``lost``, so an outage costs history, never the pipeline. An event the backend
refuses (not an outage) is found by splitting its batch, dropped and counted in ``lost``; the
events around it are written.

The store sink lingers (``linger_s``, 0.25 s) after the first event of a batch before it writes,
so that a transaction holds the events of many frames rather than of one (issue 16: with
``synchronous=FULL`` every SQLite commit is an fsync of the WAL, and at 40 frames/s the
appends, about a commit a frame, were 5-9 % of a profile). What a crash (SIGKILL, power loss)
loses: the events emitted in the last ``linger_s`` and those of the write under way, never
more, and never part of a transaction, so the store stays consistent: those frames stay in flight in
their timelines (reported stale later), and no row is half-written. ``close`` writes
everything buffered at once, without lingering, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence

from anyio import to_thread
from redis.asyncio import Redis

from detektor.adapters.redis_streams import EVENTS_STREAM_MAXLEN
from detektor.domain.events import Envelope
from detektor.kit.transient import is_transient
from detektor.kit.workers import pause
from detektor.ports import EventStore

log = logging.getLogger(__name__)


class MemoryEventSink:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def emit(self, events: Sequence[Envelope]) -> None:
        self.events.extend(events)

    async def close(self) -> None:
        return None


class BufferedSink(ABC):
    """Buffers events and writes them from one background task, in batches."""

    def __init__(self, *, buffer: int = 100_000, batch: int = 1000, linger_s: float = 0.0) -> None:
        self.pending: deque[Envelope] = deque()
        self.limit, self.batch, self.linger_s = buffer, batch, linger_s
        self.lost = 0
        self.writes = 0  # batches written (one transaction or round trip each)
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def emit(self, events: Sequence[Envelope]) -> None:
        self.pending.extend(events)
        overflow = len(self.pending) - self.limit
        for _ in range(max(overflow, 0)):
            self.pending.popleft()
            self.lost += 1
        if self._writer is None:
            self._writer = asyncio.create_task(self._run(), name=type(self).__name__)
        self._wake.set()

    async def close(self) -> None:
        """Flush what is buffered (retrying briefly if the backend is down), then stop."""
        self._closing.set()
        self._wake.set()
        if self._writer is not None:
            await self._writer

    async def _run(self) -> None:
        delay = 0.5
        while True:
            await self._wake.wait()
            if self.linger_s > 0 and len(self.pending) < self.batch:
                # Gather more before writing; close() cuts the wait short.
                await self._linger()
            self._wake.clear()
            while self.pending:
                chunk = list(itertools.islice(self.pending, self.batch))
                try:
                    await self._write_splitting(chunk)
                except Exception as exc:
                    if self._closing.is_set() and delay > 5:
                        log.error("giving up on %d buffered events at shutdown", len(self.pending))
                        return
                    else:
                        log.warning(
                            "%s: backend unavailable (%s); %d events buffered",
                            type(self).__name__,
                            exc,
                            len(self.pending),
                        )
                        if self._closing.is_set():
                            await asyncio.sleep(delay)
                        else:
                            await pause(self._closing, delay)
                        delay = min(delay * 2, 10.0)
                        continue
                delay = 0.5
                self.writes += 1
                for _ in chunk:
                    self.pending.popleft()
                # What came in during the write waits for the next linger, rather than going
                # out in a small transaction of its own.
                if self._lingers() and 0 < len(self.pending) < self.batch:
                    self._wake.set()
                    break
            if self._closing.is_set():
                return

    def _lingers(self) -> bool:
        return self.linger_s > 0 and not self._closing.is_set()

    async def _linger(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.linger_s
        while len(self.pending) < self.batch and not self._closing.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)

    async def _write_splitting(self, events: list[Envelope]) -> None:
        """Write ``events``; when the backend refuses them (not an outage, which raises for a
        retry), split them in halves until the refused ones are found: those are dropped,
        logged and counted in ``lost``, and every other event is written, in order."""
        try:
            await self._write(events)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(events) > 1:
                mid = len(events) // 2
                await self._write_splitting(events[:mid])
                await self._write_splitting(events[mid:])
                return
            # Retrying would fail forever and block what follows.
            log.error(
                "%s: dropping event %s (%s of %s) that the backend refused: %s",
                type(self).__name__,
                events[0].event_id,
                events[0].type.value,
                events[0].frame_id,
                " ".join(str(exc).split())[:300],
            )
            self.lost += 1

    @abstractmethod
    async def _write(self, events: list[Envelope]) -> None: ...


STORE_LINGER_S = 0.25
"""How long the store sink gathers events before a write: the most a crash can lose."""


class StoreEventSink(BufferedSink):
    """Appends to the store in a worker thread (store calls block), a transaction per batch
    gathered over ``linger_s``."""

    def __init__(
        self,
        store: EventStore,
        *,
        buffer: int = 100_000,
        batch: int = 1000,
        linger_s: float = STORE_LINGER_S,
    ) -> None:
        super().__init__(buffer=buffer, batch=batch, linger_s=linger_s)
        self.store = store

    async def _write(self, events: list[Envelope]) -> None:
        await to_thread.run_sync(self.store.append, events)


class RedisEventSink(BufferedSink):
    """XADDs one entry per event (``envelope`` = JSON) to the events stream, pipelined."""

    def __init__(
        self, redis: Redis, stream: str, *, maxlen: int = EVENTS_STREAM_MAXLEN, **kwargs: int
    ) -> None:
        super().__init__(**kwargs)
        self.redis, self.stream, self.maxlen = redis, stream, maxlen

    async def _write(self, events: list[Envelope]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for envelope in events:
            pipe.xadd(
                self.stream,
                {"envelope": json.dumps(envelope.to_dict())},
                maxlen=self.maxlen,
                approximate=True,
            )
        await pipe.execute()
