"""Segments, record policies and object spans check themselves when built."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.recordings import ObjectSpan, RecordMode, RecordPolicy, Segment

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def segment(**changes: object) -> Segment:
    base = Segment(
        camera="front-door",
        start=T0,
        end=T0 + timedelta(seconds=10),
        path="front-door/2026/12/06/12-00-00.mp4",
        bytes=1_000_000,
        codec="h264",
        keyframes=5,
        audio=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_valid_segment_keeps_its_fields_and_is_normalised_to_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    s = segment(
        start=T0.astimezone(plus_one), end=(T0 + timedelta(seconds=10)).astimezone(plus_one)
    )
    assert s.start == T0
    assert s.start.utcoffset() == timedelta(0)
    assert s.start.tzinfo is UTC
    assert s.bytes == 1_000_000
    assert segment(end=T0).end == T0  # a segment of one frame lasts no time


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"end": T0 - timedelta(microseconds=1)}, "end", "before start"),
        ({"end": T0 + timedelta(hours=1, seconds=1)}, "end", "at most"),
        ({"bytes": -1}, "bytes", "integer from 0"),
        ({"bytes": True}, "bytes", "integer from 0"),
        ({"bytes": 2**63}, "bytes", "integer from 0"),
        ({"bytes": 1.5}, "bytes", "integer from 0"),
        ({"keyframes": -3}, "keyframes", "integer from 0"),
        ({"camera": "Front Door"}, "camera", "must match"),
        ({"camera": "front-door\n"}, "camera", "must match"),
        ({"camera": ""}, "camera", "must match"),
        ({"camera": "a" * 65}, "camera", "must match"),
        ({"camera": 7}, "camera", "string"),
        ({"start": datetime(2026, 12, 6, 12, 0)}, "start", "naive"),
        ({"end": datetime(2026, 12, 6, 12, 0, 10)}, "end", "naive"),
        ({"start": "2026-12-06T12:00:00Z"}, "start", "datetime"),
        ({"path": "/etc/passwd"}, "path", "relative"),
        ({"path": "../outside.mp4"}, "path", "relative"),
        ({"path": "front-door/../../x.mp4"}, "path", "relative"),
        ({"path": "front-door//x.mp4"}, "path", "relative"),
        ({"path": ""}, "path", "relative"),
        ({"path": "a/.hidden.mp4"}, "path", "relative"),
        ({"path": "a\x00b.mp4"}, "path", "relative"),
        ({"path": "x" * 1025}, "path", "relative"),
        ({"codec": ""}, "codec", "codec name"),
        ({"codec": "H 264"}, "codec", "codec name"),
        ({"audio": 1}, "audio", "true or false"),
    ],
)
def test_malformed_segments_are_refused_naming_the_field(
    changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        segment(**changes)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_policy_defaults_keep_object_footage_longer() -> None:
    policy = RecordPolicy()
    assert policy.mode is RecordMode.CONTINUOUS
    assert policy.objects_retain_days > policy.retain_days


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"retain_days": -1}, "retain_days"),
        ({"retain_days": float("nan")}, "retain_days"),
        ({"objects_retain_days": float("inf")}, "objects_retain_days"),
        ({"retain_days": 10, "objects_retain_days": 5}, "objects_retain_days"),
        ({"pre_s": -0.5}, "pre_s"),
        ({"post_s": 7200}, "post_s"),
        ({"post_s": True}, "post_s"),
        ({"mode": "continuous"}, "mode"),
    ],
)
def test_malformed_policies_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RecordPolicy(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_object_spans_check_camera_and_times() -> None:
    assert ObjectSpan("porch", T0).end is None
    with pytest.raises(ValidationError, match="naive"):
        ObjectSpan("porch", datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="before start"):
        ObjectSpan("porch", T0, T0 - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="must match"):
        ObjectSpan("Porch", T0)
