from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.frames import CAMERA_RE, FrameId, validate_camera


@pytest.mark.parametrize(
    "text",
    [
        "front-door:1764230400123:000042",
        "a:0:000000",
        "cam_2:9999999999999:999999",
        "x" * 64 + ":1:000001",
        "0garage:5:123456",
    ],
)
def test_parse_round_trips_canonical_text(text: str) -> None:
    frame_id = FrameId.parse(text)
    assert str(frame_id) == text
    assert FrameId.parse(str(frame_id)) == frame_id


def test_parse_splits_the_parts() -> None:
    frame_id = FrameId.parse("front-door:1764230400123:000042")
    assert (frame_id.camera, frame_id.captured_ms, frame_id.seq) == (
        "front-door",
        1764230400123,
        42,
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must be '<camera>:<capture epoch ms>:<seq>'"),
        ("front-door", "must be '<camera>:<capture epoch ms>:<seq>'"),
        ("front-door:1764230400123", "must be '<camera>:<capture epoch ms>:<seq>'"),
        ("front-door:1764230400123:000042:7", "must be '<camera>:<capture epoch ms>:<seq>'"),
        ("front-door::1764230400123:000042", "must be '<camera>:<capture epoch ms>:<seq>'"),
        (":1764230400123:000042", "has camera ''"),
        ("Front-Door:1764230400123:000042", "has camera 'Front-Door'"),
        ("front door:1764230400123:000042", "has camera 'front door'"),
        ("-door:1764230400123:000042", "has camera '-door'"),
        ("x" * 65 + ":1:000001", "has camera"),
        ("front-door:1764230400123:00042", "has seq '00042'"),
        ("front-door:1764230400123:0000042", "has seq '0000042'"),
        ("front-door:1764230400123:", "has seq ''"),
        ("front-door:1764230400123:00004a", "has seq '00004a'"),
        ("front-door:1764230400123:+00042", "has seq '+00042'"),
        ("front-door:-1764230400123:000042", "has capture epoch ms '-1764230400123'"),
        ("front-door:abc:000042", "has capture epoch ms 'abc'"),
        ("front-door::000042", "has capture epoch ms ''"),
        ("front-door:1.5:000042", "has capture epoch ms '1.5'"),
        ("front-door:17642304001234:000042", "at most 13 digits"),
        ("front-door:01764230400:000042", "without leading zeros"),
        ("front-door:\uff11:000042", "has capture epoch ms"),
        ("front-door:1764230400123:000042\n", "has seq"),
        (" front-door:1764230400123:000042", "has camera"),
    ],
)
def test_parse_rejects_malformed_ids(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        FrameId.parse(text)
    assert info.value.field == "frame_id"
    assert fragment in info.value.message
    assert "e.g." in info.value.message or "must match" in info.value.message


@pytest.mark.parametrize("value", [None, 42, b"front-door:1:000001", ["a", 1, 1]])
def test_parse_rejects_non_strings(value: object) -> None:
    with pytest.raises(ValidationError, match="must be a string") as info:
        FrameId.parse(value)
    assert info.value.field == "frame_id"


def test_parse_names_the_callers_field() -> None:
    with pytest.raises(ValidationError) as info:
        FrameId.parse("nope", field="path.frame_id")
    assert info.value.field == "path.frame_id"


def test_make_wraps_the_running_counter() -> None:
    assert FrameId.make("cam", 1, 1_000_042) == FrameId("cam", 1, 42)
    assert str(FrameId.make("cam", 1, 999_999)).endswith(":999999")
    assert str(FrameId.make("cam", 1, 1_000_000)).endswith(":000000")


@pytest.mark.parametrize(
    ("camera", "ms", "seq"),
    [
        ("cam", 1, 1_000_000),
        ("cam", 1, -1),
        ("cam", -1, 0),
        ("cam", 10_000_000_000_000, 0),
        ("cam", True, 0),
        ("cam", 1, True),
        ("cam", 1.0, 0),
        ("Cam", 1, 0),
    ],
)
def test_constructor_rejects_out_of_range_parts(camera: str, ms: int, seq: int) -> None:
    with pytest.raises(ValidationError) as info:
        FrameId(camera, ms, seq)
    assert info.value.field == "frame_id"


def test_captured_at_is_the_exact_utc_millisecond() -> None:
    frame_id = FrameId("cam", 1764230400123, 0)
    assert frame_id.captured_at == datetime(2025, 11, 27, 8, 0, 0, 123000, tzinfo=UTC)


def test_ids_order_by_camera_time_then_seq() -> None:
    ids = [FrameId("b", 1, 0), FrameId("a", 2, 0), FrameId("a", 1, 5), FrameId("a", 1, 2)]
    assert [str(i) for i in sorted(ids)] == ["a:1:000002", "a:1:000005", "a:2:000000", "b:1:000000"]


def test_frame_ids_are_hashable_and_frozen() -> None:
    frame_id = FrameId("cam", 1, 1)
    assert {frame_id, FrameId("cam", 1, 1)} == {frame_id}
    with pytest.raises(AttributeError):
        frame_id.seq = 2  # type: ignore[misc]


@pytest.mark.parametrize("name", ["front-door", "a", "0", "cam_1", "x" * 64, "a-_-b"])
def test_validate_camera_accepts_valid_names(name: str) -> None:
    assert validate_camera(name) == name
    assert CAMERA_RE.fullmatch(name)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Front Door", "'front-door'"),
        ("garage.cam", "'garage-cam'"),
        ("-back", "'back'"),
        ("", "e.g."),
        ("x" * 65, "e.g."),
        ("café", "e.g."),
        ("cam\n", "e.g."),
    ],
)
def test_validate_camera_rejects_with_an_actionable_message(name: str, suggestion: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_camera(name)
    assert info.value.field == "camera"
    assert f"camera {name!r} must match ^[a-z0-9][a-z0-9_-]{{0,63}}$" in info.value.message
    assert suggestion in info.value.message


def test_validate_camera_rejects_non_strings_under_the_given_field() -> None:
    with pytest.raises(ValidationError, match="must be a string") as info:
        validate_camera(7, field="cameras[0].name")
    assert info.value.field == "cameras[0].name"


def test_validation_error_carries_field_and_message() -> None:
    error = ValidationError("data.width", "must be at least 1, got 0")
    assert isinstance(error, ValueError)
    assert (error.field, error.message) == ("data.width", "must be at least 1, got 0")
    assert str(error) == "data.width: must be at least 1, got 0"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.field, copy.message) == (error.field, error.message)
