"""Small Redis Streams helpers shared by every consumer-group reader (bus, tracking, notifier):
creating a group, ordering entry ids, the length caps of the streams producers write, and the
shape of a dead-lettered entry, and a consumer group's lag; and ``follow``, for the readers
that watch a stream without a group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detektor.kit.transient import is_transient
from detektor.kit.workers import pause

# The MAXLEN (approximate) producers give the lifecycle-events and the detections streams; the
# trim jobs of tracking and the notifier report how full each is against it, before the cap
# drops entries nobody has read.
EVENTS_STREAM_MAXLEN = 1_000_000
DETECTIONS_STREAM_MAXLEN = 100_000
# A group's lag is counted entry by entry up to this many (enough for the lag alerts' 1000).
LAG_COUNTED_UP_TO = 2000


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) from the start, if it does not exist yet."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):  # an existing group is what we want
            raise


def stream_id_key(entry_id: str | bytes) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``) as numbers, so ids compare as Redis orders them.

    As text, ``"1-9" > "1-10"`` and ``"9-0" > "10-0"``; as keys they do not. A bare ``<ms>``
    means ``<ms>-0``. Raises ValueError for anything that is not an entry id.
    """
    text = entry_id.decode("ascii", "replace") if isinstance(entry_id, bytes) else entry_id
    ms, dash, seq = text.partition("-")
    if not (_digits(ms) and (_digits(seq) or not dash)):
        raise ValueError(f"{text!r} is not a Redis stream entry id (<milliseconds>-<sequence>)")
    return int(ms), int(seq or 0)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def next_stream_id(entry_id: str | bytes) -> str:
    """The smallest id after ``entry_id``: everything from it on comes later in the stream."""
    ms, seq = stream_id_key(entry_id)
    return f"{ms}-{seq + 1}"


def safe_text(text: str) -> str:
    """``text`` with lone surrogates escaped: a reason quoting an exception or an entry may
    hold one, which UTF-8 (Redis, JSON, the event store) cannot encode."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter_entry(
    fields: Mapping[bytes, bytes], source_id: bytes, reason: str
) -> dict[bytes, bytes]:
    """A dead-letter stream entry: the original fields, why, and the source entry's id."""
    entry = dict(fields)
    entry[b"dead_reason"] = safe_text(reason).encode()
    entry[b"dead_source_id"] = source_id
    return entry


async def group_lag(redis: Redis, stream: str, group: Mapping[Any, Any]) -> int:
    """Entries of ``stream`` not yet delivered to ``group`` (one answer of XINFO GROUPS).

    Redis's own ``lag`` field is kept from counters that can go wrong: after a Redis restart
    in the middle of trimming, the stack test saw ``lag`` 1345 for a group that had every
    entry delivered, in an empty stream, for good (so the lag gauges, and TrackingLagGrowing,
    would never come back down). So the entries after the group's last-delivered id are
    counted, up to LAG_COUNTED_UP_TO; beyond that Redis's figure is taken when it is larger.
    """
    last = group.get("last-delivered-id") or group.get(b"last-delivered-id") or "0-0"
    last = last.decode() if isinstance(last, bytes) else str(last)
    after = await redis.xrange(stream, min=f"({last}", count=LAG_COUNTED_UP_TO + 1)
    if len(after) <= LAG_COUNTED_UP_TO:
        return len(after)
    return max(int(group.get("lag") or 0), len(after))


async def follow(
    redis: Redis, stream: str, stopping: asyncio.Event
) -> AsyncIterator[list[tuple[bytes, dict[bytes, bytes]]]]:
    """The entries added to ``stream`` from now on, read without a group (every reader sees
    them all), one list per read until ``stopping`` is set. A read that finds nothing, and
    each wait out of a transient Redis error (retried with backoff), yields an empty list, so
    the caller's loop keeps turning (and beating) through an outage."""
    last = "$"
    delay = 0.5
    while not stopping.is_set():
        try:
            reply = await redis.xread({stream: last}, count=1000, block=1000)
            delay = 0.5
        except Exception as exc:
            if not is_transient(exc):
                raise
            await pause(stopping, delay)
            delay = min(delay * 2, 10.0)
            yield []
            continue
        entries = [(eid, fields or {}) for _, found in reply or [] for eid, fields in found]
        if entries:
            last = entries[-1][0].decode()
        yield entries
