"""Which recorded segments to delete, and when recording must stop: pure planning over the
recording index's segments, the objects seen, the motion seen, the per-camera policies and the
disk's numbers.

Footage is *object footage* when it overlaps an object's span widened by the camera's
`pre_s` before and `post_s` after; in `motion` mode, footage that is not object footage is
*motion footage* when it overlaps a motion span widened the same way; the rest is
*unclaimed footage*. Deletions, in order:

1. `age`: unclaimed and motion footage whose end is older than `retain_days`; in `objects`
   and `motion` mode, unclaimed footage once its end is older than `pre_s` + `CLAIM_S`: long
   enough for an object (or motion) that starts just after it to claim it;
2. `objects_age`: object footage whose end is older than `objects_retain_days`;
3. `disk_low`: while the free bytes (with what 1 and 2 free) are below `min_free_bytes`, the
   oldest remaining segment, all unclaimed footage first, then motion footage, then object
   footage;
4. `max_bytes`: the same order while the bytes kept are above `max_bytes`.

Motion spans of a camera not in `motion` mode claim nothing: its footage is all kept anyway.
When the floor cannot be met even by deleting every segment (something else fills the disk),
no segment is deleted for it: that would destroy all footage and still not free the disk.
`must_stop` then says recording has to stop instead, until the floor can be met again.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum

from detektor.domain.recordings import (
    ObjectSpan,
    RecordingSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    SpanKind,
    require_count,
    require_instant,
)

# In `objects` and `motion` mode, how long past `pre_s` footage without an object (or motion)
# waits for one to claim it: an object is known only once it is confirmed, some sightings
# after it first appeared, and a motion span once it closes (at most 30 s chunks).
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


class Footage(IntEnum):
    """What claims a segment, in the order space deletions take them (lowest first)."""

    UNCLAIMED = 0
    MOTION = 1
    OBJECT = 2


class _Claims:
    """Per camera, the merged spans widened by the camera's pre_s and post_s, to ask whether
    a segment overlaps one in O(log spans)."""

    def __init__(self, spans: Iterable[ObjectSpan | RecordingSpan], policy_of: _Policies) -> None:
        widened: dict[str, list[tuple[datetime, datetime]]] = {}
        for span in spans:
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


def _object_spans(spans: Iterable[ObjectSpan]) -> Iterable[ObjectSpan]:
    for span in spans:
        if not isinstance(span, ObjectSpan):
            raise TypeError(f"object spans must be ObjectSpan, got {type(span).__name__}")
        yield span


def _motion_spans(spans: Iterable[RecordingSpan], policy_of: _Policies) -> Iterable[RecordingSpan]:
    for span in spans:
        if not isinstance(span, RecordingSpan) or span.kind is not SpanKind.MOTION:
            raise TypeError(f"motion spans must be motion RecordingSpans, got {span!r}")
        if policy_of(span.camera).mode is RecordMode.MOTION:
            yield span


def _footage(segment: Segment, objects: _Claims, motion: _Claims) -> Footage:
    if objects.claimed(segment):
        return Footage.OBJECT
    return Footage.MOTION if motion.claimed(segment) else Footage.UNCLAIMED


def shortest_keep_s(policy: RecordPolicy) -> float:
    """The least time any footage under ``policy`` is kept after its end: a segment that
    ended later than that before now is not due for an age deletion, whatever claims it."""
    if policy.mode in (RecordMode.OBJECTS, RecordMode.MOTION):
        return min(policy.pre_s + CLAIM_S, policy.retain_days * 86_400)
    return policy.retain_days * 86_400  # objects_retain_days is never shorter


def _expired(
    segment: Segment, footage: Footage, policy: RecordPolicy, now: datetime
) -> DeletionReason | None:
    if footage is Footage.OBJECT:
        keep_s, reason = policy.objects_retain_days * 86_400, DeletionReason.OBJECTS_AGE
    elif footage is Footage.UNCLAIMED and policy.mode in (RecordMode.OBJECTS, RecordMode.MOTION):
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
    motion_spans: Iterable[RecordingSpan] = (),
) -> list[Deletion]:
    """The segments to delete now and why, age deletions first, then the space ones oldest
    first. `policies` maps cameras to their policy; other cameras' footage (a camera removed
    from the configuration) follows `default`. `max_bytes` None: no cap on the bytes kept.
    `motion_spans` (kind motion) claim footage of the cameras in `motion` mode."""
    now = require_instant(now, "now")
    free = require_count(free_bytes, "free_bytes")
    floor = require_count(min_free_bytes, "min_free_bytes")
    cap = None if max_bytes is None else require_count(max_bytes, "max_bytes")
    policy_of = _Policies(policies, default)
    objects = _Claims(_object_spans(object_spans), policy_of)
    motion = _Claims(_motion_spans(motion_spans, policy_of), policy_of)
    deletions: list[Deletion] = []
    kept: list[tuple[Footage, Segment]] = []
    for segment in segments:
        if not isinstance(segment, Segment):
            raise TypeError(f"segments must be Segment, got {type(segment).__name__}")
        footage = _footage(segment, objects, motion)
        reason = _expired(segment, footage, policy_of(segment.camera), now)
        if reason is None:
            kept.append((footage, segment))
        else:
            deletions.append(Deletion(segment, reason))
    freed = sum(d.segment.bytes for d in deletions)
    kept_bytes = sum(segment.bytes for _, segment in kept)
    reachable = free + freed + kept_bytes >= floor
    need_free = floor - free - freed if reachable else 0
    need_cap = 0 if cap is None else kept_bytes - cap
    # Unclaimed footage, then motion footage, then object footage, each oldest first.
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


def must_stop(kept_bytes: int, free_bytes: int, min_free_bytes: int) -> bool:
    """Whether recording has to stop: even deleting every segment kept (``kept_bytes`` of
    footage) would leave the free bytes below the floor."""
    kept = require_count(kept_bytes, "kept_bytes")
    free = require_count(free_bytes, "free_bytes")
    return free + kept < require_count(min_free_bytes, "min_free_bytes")
