"""Trimming the lifecycle-events stream, and saying how full it is against its cap.

Tracking acknowledges events once they are stored, but acknowledged entries stay in the
stream until the producers' MAXLEN cap (``EVENTS_STREAM_MAXLEN``) pushes them out, and the
cap cannot tell read from unread: a backlog larger than the cap loses events. So a periodic
job trims everything every consumer group is done with, and exports the stream's length and
cap: after trimming, the length *is* the backlog of the slowest group, and an alert fires
while it nears the cap, before the cap drops anything.

The oldest entry still needed is the minimum, over the groups, of the entry after the group's
last-delivered id and of its oldest pending (delivered, unacknowledged) id. XINFO GROUPS is
read before XPENDING: an entry delivered between the two is after the last-delivered id
already read, so it is kept either way (the other order could trim it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detektor.adapters.redis_streams import EVENTS_STREAM_MAXLEN, next_stream_id, stream_id_key
from detektor.services.tracking.metrics import TrackingMetrics

log = logging.getLogger(__name__)


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


async def trim_stream(
    redis: Redis, stream: str, metrics: TrackingMetrics, *, cap: int = EVENTS_STREAM_MAXLEN
) -> Trimmed:
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
