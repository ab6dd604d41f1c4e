"""Trimming a consumed Redis stream, and saying how full it is against its cap.

Consumers acknowledge entries once they are done with them, but acknowledged entries stay in
the stream until the producers' MAXLEN cap pushes them out, and the cap cannot tell read from
unread: a backlog larger than the cap loses entries. So the service that owns a stream's
consumer group (tracking for the lifecycle events, the notifier for the detections) runs a
periodic job that trims everything every consumer group is done with, and exports the
stream's length and cap: after trimming, the length *is* the backlog of the slowest group,
and the ``StreamNearCap`` alert fires while it nears the cap, before the cap drops anything.

The oldest entry still needed is the minimum, over the groups, of the entry after the group's
last-delivered id and of its oldest pending (delivered, unacknowledged) id. XINFO GROUPS is
read before XPENDING: an entry delivered between the two is after the last-delivered id
already read, so it is kept either way (the other order could trim it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detektor.adapters.redis_streams import next_stream_id, stream_id_key
from detektor.kit.metrics import Metrics
from detektor.kit.workers import pause

log = logging.getLogger(__name__)


class StreamMetrics:
    """The gauges of the streams a service trims, labelled by stream."""

    def __init__(self, metrics: Metrics) -> None:
        self.stream_entries = metrics.gauge(
            "detektor_stream_entries",
            "Entries in a Redis stream after trimming: those some consumer group has not yet "
            "acknowledged",
            ["stream"],
        )
        self.stream_cap = metrics.gauge(
            "detektor_stream_cap_entries",
            "The MAXLEN producers give a Redis stream: past it the oldest entries are dropped, "
            "read or not",
            ["stream"],
        )
        self.stream_trimmed = metrics.counter(
            "detektor_stream_trimmed_entries_total",
            "Entries every consumer group had acknowledged, trimmed from a Redis stream",
            ["stream"],
        )


@dataclass(frozen=True, slots=True)
class Trimmed:
    stream: str
    oldest_needed: str | None  # None: no stream or no group yet, so nothing is known read
    trimmed: int  # entries removed now
    entries: int  # entries left: what some group has not yet acknowledged
    cap: int


async def oldest_needed(redis: Redis, stream: str) -> str | None:
    """The smallest entry id some consumer group of ``stream`` still needs, or None."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return None
        raise
    if not groups:
        return None  # nobody has read anything: every entry is still wanted
    needed = [next_stream_id(group["last-delivered-id"]) for group in groups]
    for group in groups:
        pending = await redis.xpending(stream, group["name"])
        if pending["pending"]:
            needed.append(_text(pending["min"]))
    return min(needed, key=stream_id_key)


async def trim_stream(redis: Redis, stream: str, metrics: StreamMetrics, *, cap: int) -> Trimmed:
    """Trim the entries every group of ``stream`` has acknowledged; refresh its gauges."""
    needed = await oldest_needed(redis, stream)
    trimmed = 0
    if needed is not None:
        # Exact, not `~`: the length left is then the backlog the cap alert compares.
        trimmed = int(await redis.xtrim(stream, minid=needed, approximate=False))
    entries = int(await redis.xlen(stream))
    metrics.stream_entries.labels(stream).set(entries)
    metrics.stream_cap.labels(stream).set(cap)
    if trimmed:
        metrics.stream_trimmed.labels(stream).inc(trimmed)
        log.debug("trimmed %d acknowledged entries from %s", trimmed, stream)
    if entries > 0.8 * cap:
        log.warning(
            "stream %s holds %d unacknowledged entries, %.0f%% of its cap of %d: past the cap "
            "the oldest are dropped unread",
            stream,
            entries,
            100 * entries / cap,
            cap,
        )
    return Trimmed(stream, needed, trimmed, entries, cap)


def _text(entry_id: str | bytes) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


async def keep_trimmed(
    redis: Redis,
    stream: str,
    metrics: StreamMetrics,
    *,
    cap: int,
    stop: asyncio.Event,
    every_s: float = 10.0,
) -> None:
    """Trim ``stream`` every ``every_s`` seconds until ``stop`` is set (a supervised worker)."""
    while not stop.is_set():
        await trim_stream(redis, stream, metrics, cap=cap)
        await pause(stop, every_s)
