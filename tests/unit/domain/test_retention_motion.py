"""Retention planning in `motion` mode: footage around motion is kept `retain_days`, footage
around objects `objects_retain_days`, the rest goes once no motion can claim it; below the
floor, unclaimed footage goes first, then motion footage, then object footage."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from detektor.domain.recordings import (
    ObjectSpan,
    RecordingSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    SpanKind,
)
from detektor.domain.retention import CLAIM_S, DeletionReason, plan_retention
from support.retention_plans import AGE, DAY, DISK_LOW, MAX_BYTES, NOW, OBJECTS_AGE, seg

MOTION = RecordPolicy(
    mode=RecordMode.MOTION, retain_days=2, objects_retain_days=10, pre_s=5, post_s=5
)


def moved(start: datetime, end: datetime, camera: str = "porch") -> RecordingSpan:
    return RecordingSpan(camera, SpanKind.MOTION, start, end)


def plan(
    segments: list[Segment],
    motion: list[RecordingSpan] = (),  # type: ignore[assignment]
    objects: list[ObjectSpan] = (),  # type: ignore[assignment]
    policies: dict[str, RecordPolicy] | None = None,
    free: int = 10**12,
    floor: int = 0,
    cap: int | None = None,
) -> dict[str, DeletionReason]:
    deletions = plan_retention(
        segments,
        objects,
        {"porch": MOTION} if policies is None else policies,
        NOW,
        free,
        floor,
        cap,
        motion_spans=motion,
    )
    return {d.segment.path: d.reason for d in deletions}


def test_footage_with_motion_is_kept_and_footage_without_goes_after_pre_s_and_claim_s() -> None:
    still = seg(NOW - timedelta(seconds=10 + 5 + CLAIM_S))
    moving = seg(NOW - timedelta(hours=1))
    waiting = seg(NOW - timedelta(seconds=10 + CLAIM_S))  # motion may still claim it
    spans = [moved(moving.start + timedelta(seconds=3), moving.start + timedelta(seconds=4))]
    assert plan([still, moving, waiting], spans) == {still.path: AGE}
    # Without the motion span, the moving footage is unclaimed too.
    assert plan([still, moving, waiting]) == {still.path: AGE, moving.path: AGE}


def test_motion_claims_footage_pre_s_before_and_post_s_after_it() -> None:
    before, after = seg(NOW - DAY), seg(NOW - DAY + timedelta(seconds=30))
    span = moved(before.end + timedelta(seconds=3), after.start - timedelta(seconds=4))
    assert plan([before, after], [span]) == {}
    tight = RecordPolicy(mode=RecordMode.MOTION, retain_days=2, pre_s=2, post_s=3)
    assert plan([before, after], [span], policies={"porch": tight}) == {
        before.path: AGE,
        after.path: AGE,
    }


def test_motion_footage_goes_after_retain_days_and_object_footage_outlives_it() -> None:
    motion_only, with_object = seg(NOW - 3 * DAY), seg(NOW - 3 * DAY + timedelta(minutes=5))
    very_old = seg(NOW - 11 * DAY)
    spans = [moved(s.start, s.end) for s in (motion_only, with_object, very_old)]
    objects = [ObjectSpan("porch", s.start, s.end) for s in (with_object, very_old)]
    assert plan([motion_only, with_object, very_old], spans, objects) == {
        motion_only.path: AGE,
        very_old.path: OBJECTS_AGE,
    }


def test_an_object_claims_footage_without_motion_in_motion_mode() -> None:
    # The gate missed it (masked, or too small), the detector did not: it is kept.
    quiet = seg(NOW - 5 * DAY)
    assert plan([quiet], [], [ObjectSpan("porch", quiet.start, quiet.end)]) == {}


def test_motion_claims_nothing_for_another_camera_or_another_mode() -> None:
    porch, garden = seg(NOW - DAY), seg(NOW - DAY, camera="garden")
    garden_motion = [moved(porch.start, porch.end, camera="garden")]
    assert plan([porch], garden_motion) == {porch.path: AGE}
    # A continuous camera keeps all its footage retain_days, motion or not: disk-low order
    # does not see its motion either.
    policies = {"porch": MOTION, "garden": RecordPolicy(retain_days=2)}
    spans = [moved(garden.start, garden.end, camera="garden")]
    assert plan([garden], spans, policies=policies, free=0, floor=1) == {garden.path: DISK_LOW}


def footage() -> list[Segment]:
    """Six young segments, oldest first: unclaimed, motion, object, unclaimed, motion, object
    (the unclaimed still within the claim window)."""
    start = NOW - timedelta(seconds=CLAIM_S - 2)
    return [seg(start + timedelta(seconds=9 * i), seconds=9) for i in range(6)]


def claims(segments: list[Segment]) -> tuple[list[RecordingSpan], list[ObjectSpan]]:
    middle = [s.start + timedelta(seconds=4) for s in segments]
    tick = timedelta(milliseconds=1)
    motion = [moved(middle[i], middle[i] + tick) for i in (1, 4)]
    objects = [ObjectSpan("porch", middle[i], middle[i] + tick) for i in (2, 5)]
    return motion, objects


NO_WIDENING = {"porch": RecordPolicy(mode=RecordMode.MOTION, retain_days=2, pre_s=0, post_s=0)}


@pytest.mark.parametrize(("reason", "space"), [(DISK_LOW, "floor"), (MAX_BYTES, "cap")])
def test_space_deletions_take_unclaimed_then_motion_then_object_footage(
    reason: DeletionReason, space: str
) -> None:
    segments = footage()
    motion, objects = claims(segments)
    u1, m1, o1, u2, m2, _ = segments

    def deleted(need: int) -> list[str]:
        limits = {"free": 0, "floor": need} if space == "floor" else {"cap": 600 - need, "free": 0}
        found = plan(segments, motion, objects, NO_WIDENING, **limits)
        assert set(found.values()) <= {reason}
        return sorted(found, key=[s.path for s in segments].index)

    assert plan(segments, motion, objects, NO_WIDENING) == {}
    assert deleted(200) == [u1.path, u2.path]
    assert deleted(300) == [u1.path, m1.path, u2.path]
    assert deleted(400) == [u1.path, m1.path, u2.path, m2.path]
    assert deleted(500) == [u1.path, m1.path, o1.path, u2.path, m2.path]


def test_wrong_motion_spans_are_refused() -> None:
    gap = RecordingSpan("porch", SpanKind.GAP, NOW - DAY, NOW, "reconnect")
    with pytest.raises(TypeError, match="motion"):
        plan([], [gap])
    with pytest.raises(TypeError, match="motion"):
        plan([], [ObjectSpan("porch", NOW)])  # type: ignore[list-item]
