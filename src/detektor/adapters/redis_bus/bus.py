"""RedisFrameBus: the FrameBus on one Redis stream and one consumer group.

It owns the stream's lifecycle rules: the lazily created group (re-created when Redis lost
it), the cap (XADD plus ``script.TRIM_LUA`` in one MULTI), acknowledgement as XDEL+XACK in
one round trip (Redis 7 has no XACKDEL; deleting keeps XLEN equal to the backlog), real
delivery counts from XPENDING, poison entries dead-lettered by the bus itself, and the
dead-letter stream.

Connection errors (``redis.exceptions.ConnectionError``/``TimeoutError``, and
``BusyLoadingError`` while a restarted Redis replays its AOF) propagate unchanged: the caller
retries. Every operation is safe to retry: a repeated ack or dead-letter of the same entry
is a no-op, and a repeated publish at worst adds the frame twice (at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from detektor.adapters.memory_bus import (
    dead_letter_fields,
    parse_dropped,
    poison_reason,
    to_delivery,
)
from detektor.adapters.redis_bus.script import TRIM_LUA
from detektor.adapters.redis_streams import ensure_group
from detektor.domain.messages import FrameMessage
from detektor.ports import Delivery, Published

log = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]
DEAD_LETTER_MAXLEN = 10_000  # approximate (MAXLEN ~): the dead letters are for inspection


class RedisFrameBus:
    """FrameBus over Redis Streams. The client must use ``decode_responses=False`` and RESP2
    (redis-py's defaults): payloads are JPEG bytes. The caller owns ``redis`` unless the bus
    was made with ``from_url``."""

    def __init__(
        self,
        redis: Redis,
        stream: str,
        group: str,
        *,
        dead_letter_stream: str | None = None,
        cap: int = 1000,
        max_deliveries: int = 5,
    ) -> None:
        options = redis.connection_pool.connection_kwargs
        if options.get("decode_responses") or str(options.get("protocol", 2)) == "3":
            raise ValueError("RedisFrameBus needs a client with decode_responses=False, RESP2")
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap}")
        self.redis = redis
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter_stream or f"{stream}:dead"
        self.cap = cap
        self.max_deliveries = max_deliveries
        self._poisoned: list[tuple[Delivery, str]] = []
        self._trim = redis.register_script(TRIM_LUA)
        self._group_ready = False
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, stream: str, group: str, **options: Any) -> RedisFrameBus:
        """A bus with its own client, closed by ``close()``."""
        bus = cls(Redis.from_url(url), stream, group, **options)
        bus._owns_client = True
        return bus

    def drain_poisoned(self) -> list[tuple[Delivery, str]]:
        poisoned, self._poisoned = self._poisoned, []
        return poisoned

    async def publish(self, message: FrameMessage) -> Published:
        return await self.publish_fields(message.to_fields())

    async def publish_fields(self, fields: Mapping[bytes, bytes]) -> Published:
        """Add a raw entry under the cap rule (tests use it to inject malformed entries)."""
        pipe = self.redis.pipeline(transaction=True)
        entry: dict[Any, Any] = dict(fields)  # redis-py's Dict[FieldT, EncodableT]
        pipe.xadd(self.stream, entry)
        # EVALSHA directly: redis-py's Script in a pipeline costs a SCRIPT EXISTS each time.
        pipe.evalsha(self._trim.sha, 1, self.stream, self.group, str(self.cap))
        added, trimmed = await pipe.execute(raise_on_error=False)
        if isinstance(added, Exception):
            raise added
        if isinstance(trimmed, NoScriptError):
            # Redis restarted and lost its script cache; the Script object reloads it.
            trimmed = await self._trim(keys=[self.stream], args=[self.group, self.cap])
        elif isinstance(trimmed, Exception):
            raise trimmed
        dropped_ids, frame_ids = trimmed[::2], trimmed[1::2]
        if added in dropped_ids:  # no older undelivered entry: the new frame is refused
            index = dropped_ids.index(added)
            return Published(None, parse_dropped(frame_ids[:index] + frame_ids[index + 1 :]))
        return Published(added.decode(), parse_dropped(frame_ids))

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        # BLOCK 0 means "forever" to Redis; the port's 0 means "do not wait".
        block = block_ms if block_ms > 0 else None
        reply = await self._grouped(
            self.redis.xreadgroup, self.group, consumer, {self.stream: ">"}, count, block
        )
        # ">" hands out only never-delivered entries: each is on its first delivery. A
        # refused publish (XADD then XDEL in one MULTI) can wake a blocked read with nothing.
        return await self._deliver(_entries(reply), [], first=True)

    async def pending(self, consumer: str, count: int) -> list[Delivery]:
        reply = await self._grouped(
            self.redis.xreadgroup, self.group, consumer, {self.stream: "0"}, count
        )
        return await self._deliver(_entries(reply), [], first=False)

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        entries: list[Entry] = []
        deleted: list[bytes] = []
        cursor: bytes | str = "0-0"
        # One XAUTOCLAIM scans a bounded slice of the PEL; follow the cursor for a full pass.
        while len(entries) < count:
            reply = await self._grouped(
                self.redis.xautoclaim,
                self.stream,
                self.group,
                consumer,
                min_idle_ms,
                cursor,
                count - len(entries),
            )
            cursor = reply[0]
            entries += [(eid, fields) for eid, fields in reply[1] if eid is not None]
            deleted += reply[2] if len(reply) > 2 else []
            if cursor in (b"0-0", "0-0"):
                break
        return await self._deliver(entries, deleted, first=False)

    async def ack(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        # One round trip; no MULTI needed because XDEL goes first: if the connection dies
        # in between, the entry is gone but still pending, and the next pending()/claim()
        # acks that dangling reference away. The other order could leave an acknowledged
        # entry in the stream that nothing ever removes (not pending, never delivered).
        pipe = self.redis.pipeline(transaction=False)
        pipe.xdel(self.stream, *entry_ids)
        pipe.xack(self.stream, self.group, *entry_ids)
        await pipe.execute()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        await self._bury([(delivery, reason)])

    async def backlog(self) -> tuple[int, int]:
        # XINFO GROUPS' lag is not used: Redis 7.0 over-counts it once an undelivered entry
        # was XDELed (measured). Every entry is undelivered or pending (acked ones are
        # deleted), so XLEN - pending is exact.
        pipe = self.redis.pipeline(transaction=True)
        pipe.xlen(self.stream)
        pipe.xinfo_groups(self.stream)
        length, groups = await pipe.execute(raise_on_error=False)
        if isinstance(length, Exception):
            raise length
        if isinstance(groups, ResponseError):  # no stream yet
            return 0, 0
        group = next((g for g in groups if g["name"] == self.group.encode()), None)
        pending = int(group["pending"]) if group else 0
        return max(int(length) - pending, 0), pending

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()

    async def _deliver(
        self, entries: list[Entry], deleted: list[bytes], *, first: bool
    ) -> list[Delivery]:
        """Deliveries with their real counts; poison is dead-lettered, not returned."""
        live = [(eid, fields) for eid, fields in entries if fields]
        # A pending entry whose data was deleted comes back with no fields: ack it away.
        gone = deleted + [eid for eid, fields in entries if not fields]
        if gone:
            await self.redis.xack(self.stream, self.group, *gone)
        counts = {eid: 1 for eid, _ in live} if first else await self._counts(live)
        out: list[Delivery] = []
        poison: list[tuple[Delivery, str]] = []
        for eid, fields in live:
            if eid not in counts:  # acknowledged by someone else in the meantime
                continue
            delivery = to_delivery(eid.decode(), fields, counts[eid])
            if delivery.deliveries > self.max_deliveries:
                poison.append((delivery, poison_reason(delivery.deliveries)))
            else:
                out.append(delivery)
        if poison:
            await self._bury(poison)
            self._poisoned.extend(poison)
            for delivery, reason in poison:
                log.warning("dead-lettered bus entry %s: %s", delivery.entry_id, reason)
        return out

    async def _counts(self, entries: list[Entry]) -> dict[bytes, int]:
        """Times delivered, from XPENDING, for a batch in one round trip."""
        if not entries:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for eid, _ in entries:
            pipe.xpending_range(self.stream, self.group, min=eid, max=eid, count=1)
        rows = await pipe.execute()
        pairs = zip(entries, rows, strict=True)
        return {eid: int(row[0]["times_delivered"]) for (eid, _), row in pairs if row}

    async def _bury(self, items: list[tuple[Delivery, str]]) -> None:
        """Dead-letter and acknowledge atomically: an entry is never in both streams."""
        pipe = self.redis.pipeline(transaction=True)
        for delivery, reason in items:
            fields: dict[Any, Any] = dead_letter_fields(delivery, reason)  # redis-py's Dict
            pipe.xadd(self.dead_letter_stream, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        ids = [delivery.entry_id for delivery, _ in items]
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        await pipe.execute()

    async def _ensure_group(self) -> None:
        await ensure_group(self.redis, self.stream, self.group)
        self._group_ready = True

    async def _grouped(self, command: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run a group command; if Redis lost the group (a restart without persistence,
        a FLUSHALL), re-create it and retry once."""
        if not self._group_ready:
            await self._ensure_group()
        try:
            return await command(*args)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        log.warning("consumer group %s of %s was gone; re-creating it", self.group, self.stream)
        await self._ensure_group()
        return await command(*args)


def _entries(reply: Any) -> list[Entry]:
    """Entries of an XREADGROUP reply (RESP2: [[stream, [(id, fields), ...]]])."""
    return [(eid, fields) for _, entries in reply or [] for eid, fields in entries]
