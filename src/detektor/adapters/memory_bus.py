"""The in-memory FrameBus: the twin of the Redis Streams bus for ``detektor run`` and tests.

It owns one stream of entries, the one consumer group's undelivered entries (a queue per
camera) and its pending-entries list (owner, delivery time, delivery count), and the dead
letters, kept in ``dead`` as (Delivery, reason). Where it is not Redis, it is fair to the
cameras (ADR 30): new entries are delivered round-robin across cameras, oldest first within
each, so a busy camera cannot starve a quiet one (an entry older than ``old_after_ms``, which
the processor will shed as stale, does not use up its camera's turn), and at the cap it
removes the oldest undelivered entry of the camera with the most waiting. Otherwise it
mirrors Redis' behaviour rather than idealising it: ids are ``<ms>-<seq>``, re-reading one's
own pending entries counts as a delivery, claiming takes entries idle for at least
``min_idle_ms``, and acknowledged entries are deleted, so the stream's length is the backlog.
It is meant for one event loop; nothing here is thread-safe.

A message that carries its decoded image (``FrameMessage.image``, issue 16) is kept as it is,
beside its header fields, and delivered as that same message: in one process the frame never
goes through a JPEG. Entries published as fields are parsed as Redis' are.

The wire-to-Delivery rule and the dead-letter fields are defined here, once, and the Redis
adapter imports them, so both twins judge entries identically.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detektor.adapters.redis_streams import dead_letter_entry
from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.ports import Delivery, Published

EntryId = tuple[int, int]


def poison_reason(deliveries: int) -> str:
    return f"delivered {deliveries} times without success"


def to_delivery(entry_id: str, fields: Mapping[bytes, bytes], deliveries: int) -> Delivery:
    """Parse an entry; a bad one comes back with ``message=None`` and the field named."""
    raw_id = fields.get(b"frame_id")
    frame_id = raw_id.decode("utf-8", "replace") if raw_id is not None else None
    try:
        message = FrameMessage.from_fields(fields)
    except ValidationError as exc:
        return Delivery(entry_id, None, fields, deliveries, error=str(exc), frame_id=frame_id)
    except Exception as exc:  # parsing must never crash a consumer: anything else is a reason
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return Delivery(entry_id, None, fields, deliveries, error=error, frame_id=frame_id)
    return Delivery(entry_id, message, fields, deliveries, frame_id=frame_id)


def dead_letter_fields(delivery: Delivery, reason: str) -> dict[bytes, bytes]:
    """The original fields plus why, from where and after how many deliveries."""
    fields = dead_letter_entry(delivery.fields, delivery.entry_id.encode(), reason)
    fields[b"dead_deliveries"] = str(delivery.deliveries).encode()
    return fields


def parse_dropped(frame_ids: Sequence[bytes | str]) -> list[FrameId]:
    """Frame ids of entries the cap removed; an entry without a valid id was no frame."""
    dropped = []
    for raw in frame_ids:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            dropped.append(FrameId.parse(text))
        except ValidationError:
            continue
    return dropped


@dataclass
class _Pending:
    consumer: str
    delivered_at: float  # time.monotonic() of the last delivery, for claim's idle time
    count: int


class MemoryFrameBus:
    """FrameBus in one process; ``dead`` holds the dead letters as (Delivery, reason)."""

    def __init__(self, cap: int = 1000, max_deliveries: int = 5, old_after_ms: int = 0) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        self.cap = cap
        self.max_deliveries = max_deliveries
        # An entry older than this (by its id's time; 0 = never) does not use up its
        # camera's turn: the processor sheds it as stale, and a camera whose turns went on
        # drops would keep its long backlog, and so lose every turn, for good (ADR 30).
        self.old_after_ms = old_after_ms
        self.dead: list[tuple[Delivery, str]] = []
        self._poisoned: list[tuple[Delivery, str]] = []
        self._entries: dict[EntryId, dict[bytes, bytes]] = {}  # insertion order == id order
        self._images: dict[EntryId, FrameMessage] = {}  # entries that carry a decoded image
        self._pel: dict[EntryId, _Pending] = {}
        # Undelivered entries per camera, oldest first; the dict's order is the round-robin
        # turn: a camera served goes to the back.
        self._waiting: dict[bytes, deque[EntryId]] = {}
        self._last_id: EntryId = (0, 0)
        self._waiters: list[asyncio.Future[None]] = []

    def drain_poisoned(self) -> list[tuple[Delivery, str]]:
        poisoned, self._poisoned = self._poisoned, []
        return poisoned

    async def publish(self, message: FrameMessage) -> Published:
        if message.image is None:
            return await self.publish_fields(message.to_fields())
        published = await self.publish_fields(message.header_fields())
        if published.entry_id is not None:
            self._images[_parse(published.entry_id)] = message
        return published

    async def publish_fields(self, fields: Mapping[bytes, bytes]) -> Published:
        """Add a raw entry under the cap rule (tests use it to inject malformed entries)."""
        dropped: list[bytes] = []
        while len(self._entries) >= self.cap:
            victim = self._shed_one()
            if victim is None:  # everything is being processed: refuse the newcomer
                return Published(None, parse_dropped(dropped))
            dropped.append(self._entries.pop(victim).get(b"frame_id", b""))
            self._images.pop(victim, None)
        entry_id = self._next_id()
        self._entries[entry_id] = dict(fields)
        self._waiting.setdefault(fields.get(b"camera", b""), deque()).append(entry_id)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()
        return Published(_text(entry_id), parse_dropped(dropped))

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            fresh = self._take(count)
            if fresh:
                return self._deliver(consumer, fresh)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return []

    async def pending(self, consumer: str, count: int) -> list[Delivery]:
        own = sorted(i for i, p in self._pel.items() if p.consumer == consumer)[:count]
        return self._deliver(consumer, own)

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        now = time.monotonic()
        idle = sorted(
            i for i, p in self._pel.items() if (now - p.delivered_at) * 1000 >= min_idle_ms
        )[:count]
        return self._deliver(consumer, idle)

    async def ack(self, entry_ids: Sequence[str]) -> None:
        for text in entry_ids:
            entry_id = _parse(text)
            self._pel.pop(entry_id, None)
            self._entries.pop(entry_id, None)
            self._images.pop(entry_id, None)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append((delivery, reason))
        await self.ack([delivery.entry_id])

    async def backlog(self) -> tuple[int, int]:
        return max(len(self._entries) - len(self._pel), 0), len(self._pel)

    async def close(self) -> None:
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()

    def _take(self, count: int) -> list[EntryId]:
        """Up to ``count`` undelivered entries, one camera at a time in turn (a turn lasts
        until the camera yields an entry that is not old)."""
        taken: list[EntryId] = []
        old_before = time.time() * 1000 - self.old_after_ms if self.old_after_ms else 0
        while self._waiting and len(taken) < count:
            camera, queue = next(iter(self._waiting.items()))
            entry_id = queue.popleft()
            if entry_id in self._entries:  # one acknowledged before delivery is gone
                taken.append(entry_id)
            if queue and entry_id[0] < old_before:
                continue  # an old entry: the camera's turn goes on
            del self._waiting[camera]
            if queue:  # served: to the back of the turn
                self._waiting[camera] = queue
        return taken

    def _shed_one(self) -> EntryId | None:
        """Remove from the waiting queues the oldest entry of the camera with the most
        waiting (the one with the oldest such entry on a tie); None when none waits."""
        if not self._waiting:
            return None
        camera = max(self._waiting, key=lambda c: _shedding_order(self._waiting[c]))
        queue = self._waiting[camera]
        victim = queue.popleft()
        if not queue:
            del self._waiting[camera]
        return victim

    def _deliver(self, consumer: str, ids: Sequence[EntryId]) -> list[Delivery]:
        """Hand entries to ``consumer``, counting the delivery; poison goes to ``dead``."""
        now = time.monotonic()
        out: list[Delivery] = []
        for entry_id in ids:
            fields = self._entries.get(entry_id)
            if fields is None:  # deleted while pending: Redis returns nil; drop it from the PEL
                self._pel.pop(entry_id, None)
                continue
            known = self._pel.get(entry_id)
            count = known.count + 1 if known else 1
            self._pel[entry_id] = _Pending(consumer, now, count)
            delivery = self._delivery(entry_id, fields, count)
            if count > self.max_deliveries:
                self.dead.append((delivery, poison_reason(count)))
                self._poisoned.append((delivery, poison_reason(count)))
                self._pel.pop(entry_id)
                self._entries.pop(entry_id)
                self._images.pop(entry_id, None)
                continue
            out.append(delivery)
        return out

    def _delivery(self, entry_id: EntryId, fields: dict[bytes, bytes], count: int) -> Delivery:
        message = self._images.get(entry_id)
        if message is None:
            return to_delivery(_text(entry_id), dict(fields), count)
        # Built in this process from typed values: there is no wire form to parse.
        return Delivery(
            _text(entry_id), message, dict(fields), count, frame_id=str(message.frame_id)
        )

    def _next_id(self) -> EntryId:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last_id
        self._last_id = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return self._last_id


def _shedding_order(queue: deque[EntryId]) -> tuple[int, int, int]:
    """Larger for the queue to shed from: the longest, then the one with the oldest head."""
    ms, seq = queue[0]
    return len(queue), -ms, -seq


def _text(entry_id: EntryId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def _parse(text: str) -> EntryId:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
