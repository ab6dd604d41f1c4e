"""Retention planning: deletions by age, by object age, to keep the free-space floor and under
the byte cap, and when recording must stop. Examples first, then properties over generated
segments, objects and disks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detektor.domain.recordings import (
    ObjectSpan,
    RecordingSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    SpanKind,
)
from detektor.domain.retention import (
    CLAIM_S,
    Deletion,
    DeletionReason,
    must_stop,
    plan_retention,
    shortest_keep_s,
)
from support.retention_plans import AGE, DAY, DISK_LOW, MAX_BYTES, NOW, OBJECTS_AGE, seg

POLICY = RecordPolicy(retain_days=2, objects_retain_days=10, pre_s=5, post_s=5)


def plan(
    segments: list[Segment],
    spans: list[ObjectSpan] = (),  # type: ignore[assignment]
    policy: RecordPolicy = POLICY,
    free: int = 10**12,
    floor: int = 0,
    cap: int | None = None,
) -> dict[str, DeletionReason]:
    deletions = plan_retention(segments, spans, {"porch": policy}, NOW, free, floor, cap)
    return {d.segment.path: d.reason for d in deletions}


# --- by age -------------------------------------------------------------------------------


def test_continuous_footage_goes_after_retain_days_and_the_rest_stays() -> None:
    old, young = seg(NOW - 3 * DAY), seg(NOW - DAY)
    assert plan([old, young]) == {old.path: AGE}


def test_the_age_is_the_segments_end() -> None:
    # Started before the cutoff, ended after it: still within retain_days.
    straddling = seg(NOW - 2 * DAY - timedelta(seconds=5))
    ended = seg(NOW - 2 * DAY - timedelta(seconds=10))
    assert plan([straddling, ended]) == {ended.path: AGE}


def test_footage_with_an_object_outlives_retain_days_until_objects_retain_days() -> None:
    kept, gone = seg(NOW - 5 * DAY), seg(NOW - 11 * DAY)
    spans = [
        ObjectSpan("porch", kept.start + timedelta(seconds=2), kept.start + timedelta(seconds=4)),
        ObjectSpan("porch", gone.start, gone.end),
    ]
    assert plan([kept, gone], spans) == {gone.path: OBJECTS_AGE}


def test_an_object_claims_footage_pre_s_before_and_post_s_after_it() -> None:
    before, after = seg(NOW - 5 * DAY), seg(NOW - 5 * DAY + timedelta(seconds=30))
    # The object is seen from 3 s after `before` ends to 4 s before `after` starts.
    span = ObjectSpan(
        "porch", before.end + timedelta(seconds=3), after.start - timedelta(seconds=4)
    )
    assert plan([before, after], [span]) == {}
    tight = RecordPolicy(retain_days=2, objects_retain_days=10, pre_s=2, post_s=3)
    assert plan([before, after], [span], tight) == {before.path: AGE, after.path: AGE}


def test_an_object_still_in_view_claims_everything_after_its_start() -> None:
    early, late = seg(NOW - 4 * DAY), seg(NOW - 3 * DAY)
    span = ObjectSpan("porch", early.end + timedelta(minutes=1))
    assert plan([early, late], [span]) == {early.path: AGE}


def test_objects_of_another_camera_claim_nothing_here() -> None:
    old = seg(NOW - 3 * DAY)
    assert plan([old], [ObjectSpan("garden", old.start, old.end)]) == {old.path: AGE}


def test_in_objects_mode_footage_without_objects_goes_once_no_object_can_claim_it() -> None:
    policy = RecordPolicy(mode=RecordMode.OBJECTS, retain_days=2, objects_retain_days=10, pre_s=5)
    unclaimed = seg(NOW - timedelta(seconds=10 + 5 + CLAIM_S))
    waiting = seg(NOW - timedelta(seconds=10 + CLAIM_S))
    claimed = seg(NOW - DAY)
    spans = [ObjectSpan("porch", claimed.start, claimed.end)]
    assert plan([unclaimed, waiting, claimed], spans, policy) == {unclaimed.path: AGE}


def test_a_camera_without_a_policy_follows_the_default() -> None:
    other = seg(NOW - 8 * DAY, camera="garden")
    recent = seg(NOW - 6 * DAY, camera="garden")
    assert plan([other, recent]) == {other.path: AGE}  # the default keeps 7 days


# --- by space -----------------------------------------------------------------------------


def footage() -> tuple[list[Segment], list[ObjectSpan]]:
    """Four young segments, oldest first: continuous, object, continuous, object."""
    segments = [seg(NOW - timedelta(hours=4 - i), size=100) for i in range(4)]
    spans = [ObjectSpan("porch", s.start, s.end) for s in segments[1::2]]
    return segments, spans


def test_below_the_floor_continuous_footage_goes_first_oldest_first_until_the_floor() -> None:
    segments, spans = footage()
    c1, o1, c2, _ = segments
    assert plan(segments, spans, free=1000, floor=1100) == {c1.path: DISK_LOW}
    assert plan(segments, spans, free=1000, floor=1101) == {c1.path: DISK_LOW, c2.path: DISK_LOW}
    assert plan(segments, spans, free=1000, floor=1300) == {
        c1.path: DISK_LOW,
        c2.path: DISK_LOW,
        o1.path: DISK_LOW,
    }


def test_what_age_frees_counts_toward_the_floor() -> None:
    segments, spans = footage()
    old = seg(NOW - 3 * DAY, size=100)
    assert plan([old, *segments], spans, free=1000, floor=1100) == {old.path: AGE}


def test_above_max_bytes_the_same_order_applies() -> None:
    segments, spans = footage()
    c1, o1, c2, _ = segments
    assert plan(segments, spans, cap=400) == {}
    assert plan(segments, spans, cap=250) == {c1.path: MAX_BYTES, c2.path: MAX_BYTES}
    assert plan(segments, spans, cap=150) == {
        c1.path: MAX_BYTES,
        c2.path: MAX_BYTES,
        o1.path: MAX_BYTES,
    }


def test_an_unreachable_floor_deletes_nothing_for_it_and_recording_must_stop() -> None:
    segments, spans = footage()
    assert plan(segments, spans, free=1000, floor=1401) == {}
    kept = sum(s.bytes for s in segments)
    assert kept == 400
    assert must_stop(kept, 1000, 1401)
    assert not must_stop(kept, 1000, 1400)
    assert not must_stop(0, 5, 5)
    assert must_stop(0, 4, 5)
    # The byte cap still applies while the floor cannot be met.
    c1 = segments[0]
    assert plan(segments, spans, free=1000, floor=1401, cap=300) == {c1.path: MAX_BYTES}


# --- malformed arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "free", "floor", "cap", "words"),
    [
        (datetime(2026, 12, 6), 0, 0, None, "naive"),
        (NOW, -1, 0, None, "free_bytes"),
        (NOW, 0, -1, None, "min_free_bytes"),
        (NOW, 0, 0, -5, "max_bytes"),
        (NOW, 1.5, 0, None, "free_bytes"),
    ],
)
def test_malformed_disk_numbers_and_times_are_refused(
    now: datetime, free: int, floor: int, cap: int | None, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        plan_retention([], [], {}, now, free, floor, cap)


def test_wrong_item_types_are_refused() -> None:
    with pytest.raises(TypeError, match="Segment"):
        plan_retention(["x.mp4"], [], {}, NOW, 0, 0)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ObjectSpan"):
        plan_retention([], [(NOW, NOW)], {}, NOW, 0, 0)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="RecordPolicy"):
        plan_retention([], [], {"porch": {"retain_days": 1}}, NOW, 0, 0)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="kept_bytes"):
        must_stop([object()], 0, 1)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------

CAMERAS = ("porch", "garden")


@st.composite
def scenes(draw: st.DrawFn) -> dict[str, object]:
    segments: list[Segment] = []
    for camera in CAMERAS:
        at = NOW - timedelta(seconds=draw(st.integers(0, 20 * 86_400)))
        for _ in range(draw(st.integers(0, 12))):
            length = draw(st.integers(0, 600))
            segments.append(seg(at, length, camera, draw(st.integers(0, 1000))))
            at += timedelta(seconds=length + draw(st.integers(1, 3 * 86_400)))
    spans = []
    for _ in range(draw(st.integers(0, 6))):
        start = NOW - timedelta(seconds=draw(st.integers(-3600, 25 * 86_400)))
        length = draw(st.none() | st.integers(0, 86_400))
        end = None if length is None else start + timedelta(seconds=length)
        spans.append(ObjectSpan(draw(st.sampled_from(CAMERAS)), start, end))
    motion = []
    for _ in range(draw(st.integers(0, 6))):
        start = NOW - timedelta(seconds=draw(st.integers(-3600, 25 * 86_400)))
        end = start + timedelta(seconds=draw(st.integers(1, 86_400)))
        motion.append(RecordingSpan(draw(st.sampled_from(CAMERAS)), SpanKind.MOTION, start, end))
    policies = {}
    for camera in CAMERAS:
        retain = draw(st.floats(0, 10))
        policies[camera] = RecordPolicy(
            mode=draw(st.sampled_from(RecordMode)),
            retain_days=retain,
            objects_retain_days=retain + draw(st.floats(0, 10)),
            pre_s=draw(st.floats(0, 60)),
            post_s=draw(st.floats(0, 60)),
        )
    total = sum(s.bytes for s in segments)
    return {
        "segments": draw(st.permutations(segments)),
        "spans": spans,
        "motion": motion,
        "policies": policies,
        "free": draw(st.integers(0, 5000)),
        "floor": draw(st.integers(0, total + 5000)),
        "cap": draw(st.none() | st.integers(0, total + 100)),
    }


def is_object_footage(
    s: Segment, spans: list[ObjectSpan] | list[RecordingSpan], policy: RecordPolicy
) -> bool:
    """The definition, spelled out naively (of motion footage too, given motion spans)."""
    for span in spans:
        if span.camera != s.camera:
            continue
        low = span.start - timedelta(seconds=policy.pre_s)
        if span.end is None:
            if s.end >= low:
                return True
        elif s.end >= low and s.start <= span.end + timedelta(seconds=policy.post_s):
            return True
    return False


@given(scenes())
def test_retention_properties(scene: dict[str, object]) -> None:
    segments: list[Segment] = scene["segments"]  # type: ignore[assignment]
    spans: list[ObjectSpan] = scene["spans"]  # type: ignore[assignment]
    policies: dict[str, RecordPolicy] = scene["policies"]  # type: ignore[assignment]
    free, floor = int(scene["free"]), int(scene["floor"])  # type: ignore[call-overload]
    cap: int | None = scene["cap"]  # type: ignore[assignment]
    motion_spans: list[RecordingSpan] = scene["motion"]  # type: ignore[assignment]
    deletions: list[Deletion] = plan_retention(
        segments, spans, policies, NOW, free, floor, cap, motion_spans=motion_spans
    )
    gone = {d.segment.path: d.reason for d in deletions}
    assert len(gone) == len(deletions)  # none twice
    for d in deletions:  # what a sweep with room to spare reads is all that can be due
        if d.reason in (AGE, OBJECTS_AGE):
            horizon = NOW - timedelta(seconds=shortest_keep_s(policies[d.segment.camera]))
            assert d.segment.start <= horizon
    assert {d.segment for d in deletions} <= set(segments)
    kept = [s for s in segments if s.path not in gone]
    total = sum(s.bytes for s in segments)
    kept_bytes = sum(s.bytes for s in kept)
    objects = {s.path for s in segments if is_object_footage(s, spans, policies[s.camera])}
    motion = {
        s.path
        for s in segments
        if s.path not in objects
        and policies[s.camera].mode is RecordMode.MOTION
        and is_object_footage(s, motion_spans, policies[s.camera])
    }

    def rank(s: Segment) -> int:  # the order space deletions take footage in
        return 2 if s.path in objects else 1 if s.path in motion else 0

    # The floor is met whenever deleting could meet it; otherwise recording must stop.
    possible = free + total >= floor
    assert must_stop(total, free, floor) is not possible
    if possible:
        assert free + total - kept_bytes >= floor
    else:
        assert DISK_LOW not in gone.values()
    if cap is not None:
        assert kept_bytes <= cap

    # Age: each reason matches the kind of footage, and nothing kept is past its time.
    for s in segments:
        policy = policies[s.camera]
        if s.path in objects:
            assert gone.get(s.path) != AGE
            keep = timedelta(days=policy.objects_retain_days)
            assert (s.end <= NOW - keep) is (gone.get(s.path) == OBJECTS_AGE)
        else:
            assert gone.get(s.path) != OBJECTS_AGE
            claimable = policy.mode in (RecordMode.OBJECTS, RecordMode.MOTION)
            if claimable and s.path not in motion:
                keep = timedelta(seconds=policy.pre_s + CLAIM_S)
            else:
                keep = timedelta(days=policy.retain_days)
            assert (s.end <= NOW - keep) is (gone.get(s.path) == AGE)

    # Space: object footage outlives motion footage, which outlives the rest, oldest goes
    # first, and no more goes than needed (without the last space deletion, the floor or the
    # cap would be missed).
    by_space = [d.segment for d in deletions if d.reason in (DISK_LOW, MAX_BYTES)]
    for deleted in by_space:
        assert all(rank(s) >= rank(deleted) for s in kept)
        same_kind = [s for s in kept if rank(s) == rank(deleted)]
        assert all((s.start, s.camera) > (deleted.start, deleted.camera) for s in same_kind)
    if by_space:
        last = by_space[-1].bytes
        short_of_floor = possible and free + total - kept_bytes - last < floor
        over_cap = cap is not None and kept_bytes + last > cap
        assert short_of_floor or over_cap
