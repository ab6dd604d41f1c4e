"""Which recorded segments to delete, and when recording must stop: pure planning over the
recording index's segments, the objects seen, the per-camera policies and the disk's numbers.

Footage is *object footage* when it overlaps an object's span widened by the camera's
`pre_s` before and `post_s` after; the rest is *continuous footage*. Deletions, in order:

1. `age`: continuous footage whose end is older than `retain_days` (in `objects` mode, older
   than `pre_s` + `CLAIM_S`: long enough for an object that starts just after it to claim it);
2. `objects_age`: object footage whose end is older than `objects_retain_days`;
3. `disk_low`: while the free bytes (with what 1 and 2 free) are below `min_free_bytes`, the
   oldest remaining segment, all continuous footage before any object footage;
4. `max_bytes`: the same order while the bytes kept are above `max_bytes`.

When the floor cannot be met even by deleting every segment (something else fills the disk),
no segment is deleted for it: that would destroy all footage and still not free the disk.
`must_stop` then says recording has to stop instead, until the floor can be met again.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from detektor.domain.recordings import (
    ObjectSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    require_count,
    require_instant,
)

# In `objects` mode, how long past `pre_s` footage without an object waits for one to claim
# it: an object is known only once it is confirmed, some sightings after it first appeared.
CLAIM_S = 60.0

DEFAULT_POLICY = RecordPolicy()

_FAR_PAST = datetime.min.replace(tzinfo=UTC)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class DeletionReason(StrEnum):
    AGE = "age"
    OBJECTS_AGE = "objects_age"
    DISK_LOW = "disk_low"
    MAX_BYTES = "max_bytes"


@dataclass(frozen=True, slots=True)
class Deletion:
    segment: Segment
    reason: DeletionReason


def _shift(instant: datetime, seconds: float) -> datetime:
    """`instant` moved by `seconds`, clamped to the representable range."""
    try:
        return instant + timedelta(seconds=seconds)
    except OverflowError:
        return _FAR_FUTURE if seconds > 0 else _FAR_PAST


class _Claims:
    """Per camera, the merged object spans widened by the camera's pre_s and post_s, to ask
    whether a segment is object footage in O(log spans)."""

    def __init__(self, spans: Iterable[ObjectSpan], policy_of: _Policies) -> None:
        widened: dict[str, list[tuple[datetime, datetime]]] = {}
        for span in spans:
            if not isinstance(span, ObjectSpan):
                raise TypeError(f"object spans must be ObjectSpan, got {type(span).__name__}")
            policy = policy_of(span.camera)
            end = _FAR_FUTURE if span.end is None else _shift(span.end, policy.post_s)
            widened.setdefault(span.camera, []).append((_shift(span.start, -policy.pre_s), end))
        self._merged: dict[str, tuple[list[datetime], list[datetime]]] = {}
        for camera, intervals in widened.items():
            lows: list[datetime] = []
            highs: list[datetime] = []
            for low, high in sorted(intervals):
                if highs and low <= highs[-1]:
                    highs[-1] = max(highs[-1], high)
                else:
                    lows.append(low)
                    highs.append(high)
            self._merged[camera] = (lows, highs)

    def claimed(self, segment: Segment) -> bool:
        """Whether the segment overlaps a widened span (touching counts: keep, not lose)."""
        lows, highs = self._merged.get(segment.camera, ([], []))
        # The first span not ending before the segment starts is the only one that can overlap.
        i = bisect.bisect_left(highs, segment.start)
        return i < len(lows) and lows[i] <= segment.end


class _Policies:
    def __init__(self, policies: Mapping[str, RecordPolicy], default: RecordPolicy) -> None:
        for camera, policy in policies.items():
            if not isinstance(policy, RecordPolicy):
                raise TypeError(f"policy of {camera!r} must be a RecordPolicy")
        self._policies = policies
        self._default = default

    def __call__(self, camera: str) -> RecordPolicy:
        return self._policies.get(camera, self._default)


def _expired(
    segment: Segment, object_footage: bool, policy: RecordPolicy, now: datetime
) -> DeletionReason | None:
    if object_footage:
        keep_s, reason = policy.objects_retain_days * 86_400, DeletionReason.OBJECTS_AGE
    elif policy.mode is RecordMode.OBJECTS:
        keep_s, reason = policy.pre_s + CLAIM_S, DeletionReason.AGE
    else:
        keep_s, reason = policy.retain_days * 86_400, DeletionReason.AGE
    return reason if segment.end <= _shift(now, -keep_s) else None


def plan_retention(
    segments: Sequence[Segment],
    object_spans: Iterable[ObjectSpan],
    policies: Mapping[str, RecordPolicy],
    now: datetime,
    free_bytes: int,
    min_free_bytes: int,
    max_bytes: int | None = None,
    *,
    default: RecordPolicy = DEFAULT_POLICY,
) -> list[Deletion]:
    """The segments to delete now and why, age deletions first, then the space ones oldest
    first. `policies` maps cameras to their policy; other cameras' footage (a camera removed
    from the configuration) follows `default`. `max_bytes` None: no cap on the bytes kept."""
    now = require_instant(now, "now")
    free = require_count(free_bytes, "free_bytes")
    floor = require_count(min_free_bytes, "min_free_bytes")
    cap = None if max_bytes is None else require_count(max_bytes, "max_bytes")
    policy_of = _Policies(policies, default)
    claims = _Claims(object_spans, policy_of)
    deletions: list[Deletion] = []
    kept: list[tuple[bool, Segment]] = []
    for segment in segments:
        if not isinstance(segment, Segment):
            raise TypeError(f"segments must be Segment, got {type(segment).__name__}")
        object_footage = claims.claimed(segment)
        reason = _expired(segment, object_footage, policy_of(segment.camera), now)
        if reason is None:
            kept.append((object_footage, segment))
        else:
            deletions.append(Deletion(segment, reason))
    freed = sum(d.segment.bytes for d in deletions)
    kept_bytes = sum(segment.bytes for _, segment in kept)
    reachable = free + freed + kept_bytes >= floor
    need_free = floor - free - freed if reachable else 0
    need_cap = 0 if cap is None else kept_bytes - cap
    # Continuous footage (False) before object footage, each oldest first.
    for _, segment in sorted(kept, key=lambda k: (k[0], k[1].start, k[1].camera)):
        if need_free > 0:
            deletions.append(Deletion(segment, DeletionReason.DISK_LOW))
        elif need_cap > 0:
            deletions.append(Deletion(segment, DeletionReason.MAX_BYTES))
        else:
            break
        need_free -= segment.bytes
        need_cap -= segment.bytes
    return deletions


def must_stop(segments: Iterable[Segment], free_bytes: int, min_free_bytes: int) -> bool:
    """Whether recording has to stop: even deleting every segment would leave the free bytes
    below the floor."""
    free = require_count(free_bytes, "free_bytes")
    floor = require_count(min_free_bytes, "min_free_bytes")
    total = 0
    for segment in segments:
        if not isinstance(segment, Segment):
            raise TypeError(f"segments must be Segment, got {type(segment).__name__}")
        total += segment.bytes
        if free + total >= floor:
            return False
    return free + total < floor
