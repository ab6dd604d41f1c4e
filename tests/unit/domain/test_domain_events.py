from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.events import (
    FRAME_EVENT_TYPES,
    OBJECT_EVENT_TYPES,
    SCHEMA_VERSION,
    Envelope,
    EventType,
)
from detektor.domain.frames import FrameId
from detektor.domain.payloads import DATA_CHECKS

from .builders import FRAME, VALID_DATA

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def raw_event(
    event_type: EventType = EventType.CAPTURED, /, **overrides: object
) -> dict[str, object]:
    raw: dict[str, object] = {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": event_type.value,
        "frame_id": str(FRAME),
        "camera": FRAME.camera,
        "occurred_at": "2025-11-27T14:03:07.123Z",
        "trace_id": TRACE,
        "span_id": SPAN,
        "schema_version": SCHEMA_VERSION,
        "data": json.loads(json.dumps(VALID_DATA[event_type])),
    }
    raw.update(overrides)
    return raw


def rejection(raw: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(raw)
    return info.value


def test_event_types_are_the_nine_lifecycle_and_three_object_wire_names() -> None:
    assert [t.value for t in EventType] == [
        "frame.captured",
        "frame.skipped",
        "frame.queued",
        "frame.processing",
        "frame.processed",
        "frame.published",
        "frame.completed",
        "frame.dropped",
        "frame.failed",
        "object.started",
        "object.updated",
        "object.ended",
    ]
    assert set(DATA_CHECKS) == {t.value for t in FRAME_EVENT_TYPES}
    assert set(FRAME_EVENT_TYPES) | OBJECT_EVENT_TYPES == set(EventType)


@pytest.mark.parametrize("event_type", list(EventType))
def test_valid_event_of_each_type_round_trips(event_type: EventType) -> None:
    raw = raw_event(event_type)
    envelope = Envelope.from_dict(raw)
    assert envelope.type is event_type
    assert envelope.frame_id == FRAME
    assert envelope.event_id == uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert envelope.occurred_at == datetime(2025, 11, 27, 14, 3, 7, 123000, tzinfo=UTC)
    out = envelope.to_dict()
    assert out == {**raw, "occurred_at": "2025-11-27T14:03:07.123000Z"}
    assert json.loads(json.dumps(out)) == out
    assert Envelope.from_dict(out) == envelope


def test_optional_envelope_keys_may_be_absent_and_extra_keys_are_ignored() -> None:
    raw = raw_event(EventType.COMPLETED, position=17, future_field={"x": 1})
    for key in ("trace_id", "span_id", "data"):
        del raw[key]
    envelope = Envelope.from_dict(raw)
    assert (envelope.trace_id, envelope.span_id, dict(envelope.data)) == (None, None, {})
    assert "position" not in envelope.to_dict()


def test_extra_data_fields_are_kept() -> None:
    data = {**VALID_DATA[EventType.CAPTURED], "codec": "h264", "meta": {"gop": [1, 2]}}
    envelope = Envelope.from_dict(raw_event(data=data))
    assert envelope.to_dict()["data"] == data


@pytest.mark.parametrize(
    "key", ["event_id", "type", "frame_id", "camera", "occurred_at", "schema_version"]
)
def test_missing_required_keys_are_named(key: str) -> None:
    raw = raw_event()
    del raw[key]
    error = rejection(raw)
    assert (error.field, error.message) == (key, "is required")


@pytest.mark.parametrize("raw", [None, [], "event", 3])
def test_a_non_object_envelope_is_rejected(raw: object) -> None:
    assert rejection(raw).field == "envelope"


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"event_id": "not-a-uuid"}, "event_id", "is not a UUID"),
        ({"event_id": "0f8fad5bd9cb469fa16570867728950e"}, "event_id", "8-4-4-4-12"),
        ({"event_id": 7}, "event_id", "is not a UUID"),
        ({"type": "frame.detected"}, "type", "unknown event type 'frame.detected'"),
        ({"type": "FRAME.CAPTURED"}, "type", "use one of frame.captured"),
        ({"type": None}, "type", "unknown event type None"),
        ({"frame_id": "front-door:1:42"}, "frame_id", "has seq '42'"),
        ({"frame_id": 42}, "frame_id", "must be a string"),
        ({"camera": "Front Door"}, "camera", "e.g. 'front-door'"),
        ({"camera": "back-door"}, "camera", "differs from the camera in frame_id"),
        ({"occurred_at": "2025-11-27T14:03:07"}, "occurred_at", "with a timezone"),
        ({"occurred_at": "2025-11-27"}, "occurred_at", "RFC 3339"),
        ({"occurred_at": "20251127T140307Z"}, "occurred_at", "RFC 3339"),
        ({"occurred_at": "2025-11-27T14:03Z"}, "occurred_at", "RFC 3339"),
        ({"occurred_at": "2025-02-30T14:03:07Z"}, "occurred_at", "not a valid date"),
        ({"occurred_at": "2025-11-27T25:03:07Z"}, "occurred_at", "not a valid date"),
        ({"occurred_at": "2025-11-27T14:03:07+24:00"}, "occurred_at", "impossible UTC offset"),
        ({"occurred_at": 1764252187.123}, "occurred_at", "must be an RFC 3339"),
        ({"occurred_at": None}, "occurred_at", "must be an RFC 3339"),
        ({"trace_id": TRACE.upper()}, "trace_id", "32 lowercase hex"),
        ({"trace_id": "0" * 32}, "trace_id", "not all zero"),
        ({"trace_id": TRACE[:-1]}, "trace_id", "32 lowercase hex"),
        ({"trace_id": 1}, "trace_id", "32 lowercase hex"),
        ({"span_id": "0" * 16}, "span_id", "16 lowercase hex"),
        ({"span_id": SPAN + "0"}, "span_id", "16 lowercase hex"),
        ({"schema_version": 0}, "schema_version", "at least 1"),
        ({"schema_version": SCHEMA_VERSION + 1}, "schema_version", "upgrade the consumer"),
        ({"schema_version": "1"}, "schema_version", "must be an integer"),
        ({"schema_version": True}, "schema_version", "must be an integer"),
        ({"data": []}, "data", "must be a JSON object"),
        ({"data": "x"}, "data", "must be a JSON object"),
    ],
)
def test_bad_envelope_fields_are_named(
    overrides: dict[str, object], field: str, fragment: str
) -> None:
    error = rejection(raw_event(**overrides))
    assert error.field == field
    assert fragment in error.message


GOOD_PROCESSED = VALID_DATA[EventType.PROCESSED]
DETECTION = {"label": "car", "score": 0.5, "box": [0, 0, 10, 10]}


def with_detection(**changes: object) -> dict[str, object]:
    item = {**DETECTION, **changes}
    for key, value in changes.items():
        if value is None:
            del item[key]
    return {**GOOD_PROCESSED, "detections": [DETECTION, item]}


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        (EventType.CAPTURED, {"height": 480, "source": "s"}, "data.width"),
        (EventType.CAPTURED, {"width": 0, "height": 480, "source": "s"}, "data.width"),
        (EventType.CAPTURED, {"width": True, "height": 480, "source": "s"}, "data.width"),
        (EventType.CAPTURED, {"width": 640.0, "height": 480, "source": "s"}, "data.width"),
        (EventType.CAPTURED, {"width": 640, "height": -1, "source": "s"}, "data.height"),
        (EventType.CAPTURED, {"width": 640, "height": "480", "source": "s"}, "data.height"),
        (EventType.CAPTURED, {"width": 1, "height": 1, "pts": 1.5, "source": "s"}, "data.pts"),
        (EventType.CAPTURED, {"width": 1, "height": 1, "pts": False, "source": "s"}, "data.pts"),
        (EventType.CAPTURED, {"width": 1, "height": 1}, "data.source"),
        (EventType.CAPTURED, {"width": 1, "height": 1, "source": 3}, "data.source"),
        (EventType.SKIPPED, {}, "data.reason"),
        (EventType.SKIPPED, {"reason": ""}, "data.reason"),
        (EventType.SKIPPED, {"reason": "No Motion"}, "data.reason"),
        (EventType.SKIPPED, {"reason": "no-motion"}, "data.reason"),
        (EventType.SKIPPED, {"reason": "1st"}, "data.reason"),
        (EventType.SKIPPED, {"reason": "a" * 65}, "data.reason"),
        (EventType.QUEUED, {}, "data.stream"),
        (EventType.QUEUED, {"stream": "  "}, "data.stream"),
        (EventType.PROCESSING, {"batch_id": "b"}, "data.processor"),
        (EventType.PROCESSING, {"processor": "p"}, "data.batch_id"),
        (EventType.PROCESSING, {"processor": "p", "batch_id": 7}, "data.batch_id"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "processor": None}, "data.processor"),
        (EventType.PROCESSED, {"processor": "p", "detections": []}, "data.duration_ms"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "duration_ms": -0.1}, "data.duration_ms"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "duration_ms": True}, "data.duration_ms"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "duration_ms": math.inf}, "data.duration_ms"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "duration_ms": "3"}, "data.duration_ms"),
        (EventType.PROCESSED, {"processor": "p", "duration_ms": 1}, "data.detections"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "detections": {}}, "data.detections"),
        (EventType.PROCESSED, {**GOOD_PROCESSED, "detections": [1]}, "data.detections[0]"),
        (EventType.PROCESSED, with_detection(label=None), "data.detections[1].label"),
        (EventType.PROCESSED, with_detection(label=""), "data.detections[1].label"),
        (EventType.PROCESSED, with_detection(score=None), "data.detections[1].score"),
        (EventType.PROCESSED, with_detection(score=1.01), "data.detections[1].score"),
        (EventType.PROCESSED, with_detection(score=-0.01), "data.detections[1].score"),
        (EventType.PROCESSED, with_detection(score=True), "data.detections[1].score"),
        (EventType.PROCESSED, with_detection(score=math.nan), "data.detections[1].score"),
        (EventType.PROCESSED, with_detection(box=None), "data.detections[1].box"),
        (EventType.PROCESSED, with_detection(box=[0, 0, 1]), "data.detections[1].box"),
        (EventType.PROCESSED, with_detection(box="0,0,1,1"), "data.detections[1].box"),
        (EventType.PROCESSED, with_detection(box=[0, 0, 1, "1"]), "data.detections[1].box[3]"),
        (EventType.PROCESSED, with_detection(box=[0, True, 1, 1]), "data.detections[1].box[1]"),
        (EventType.PROCESSED, with_detection(box=[5, 0, 4, 1]), "data.detections[1].box"),
        (EventType.PROCESSED, with_detection(box=[0, 5, 1, 4]), "data.detections[1].box"),
        (EventType.PUBLISHED, {}, "data.target"),
        (EventType.PUBLISHED, {"target": ["mqtt"]}, "data.target"),
        (EventType.DROPPED, {"reason": "Bus Full"}, "data.reason"),
        (EventType.DROPPED, {"reason": None}, "data.reason"),
        (EventType.FAILED, {"error": "boom"}, "data.stage"),
        (EventType.FAILED, {"stage": "detector"}, "data.error"),
        (EventType.FAILED, {"stage": "detector", "error": None}, "data.error"),
        (EventType.COMPLETED, {"extra": math.nan}, "data.extra"),
        (EventType.COMPLETED, {"extra": {1: "a"}}, "data.extra"),
        (EventType.COMPLETED, {"extra": {"when": datetime.now(UTC)}}, "data.extra.when"),
        (EventType.COMPLETED, {"extra": [1, object()]}, "data.extra[1]"),
    ],
)
def test_bad_data_names_the_field(
    event_type: EventType, data: dict[str, object], field: str
) -> None:
    error = rejection(raw_event(event_type, data=data))
    assert error.field == field
    assert error.message
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        (EventType.CAPTURED, {"width": 1, "height": 1, "pts": None, "source": "s"}),
        (EventType.CAPTURED, {"width": 1, "height": 1, "pts": -3, "source": "s"}),
        (EventType.CAPTURED, {"width": 1, "height": 1, "source": "s"}),
        (EventType.SKIPPED, {"reason": "detector_busy"}),
        (EventType.PROCESSED, {"processor": "p", "duration_ms": 0, "detections": []}),
        (EventType.PROCESSED, with_detection(score=0, box=[-1.5, 0, -1.5, 0])),
        (EventType.PROCESSED, with_detection(score=1, extra="kept")),
        (EventType.FAILED, {"stage": "detector", "error": ""}),
        (EventType.COMPLETED, {"note": None, "n": [1, 2.5, "x", True, {"k": []}]}),
    ],
)
def test_edge_data_that_is_valid(event_type: EventType, data: dict[str, object]) -> None:
    envelope = Envelope.from_dict(raw_event(event_type, data=data))
    assert envelope.to_dict()["data"] == data


def test_data_errors_on_unknown_type_report_the_type_first() -> None:
    error = rejection(raw_event(type="frame.nope", data={"width": "bad"}))
    assert error.field == "type"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-27T14:03:07Z", datetime(2025, 11, 27, 14, 3, 7, tzinfo=UTC)),
        ("2025-11-27t14:03:07z", datetime(2025, 11, 27, 14, 3, 7, tzinfo=UTC)),
        ("2025-11-27 14:03:07+00:00", datetime(2025, 11, 27, 14, 3, 7, tzinfo=UTC)),
        ("2025-11-27T16:03:07.5+02:00", datetime(2025, 11, 27, 14, 3, 7, 500000, tzinfo=UTC)),
        ("2025-11-27T09:33:07-04:30", datetime(2025, 11, 27, 14, 3, 7, tzinfo=UTC)),
        (
            "2025-11-27T14:03:07.123456789Z",
            datetime(2025, 11, 27, 14, 3, 7, 123456, tzinfo=UTC),
        ),
    ],
)
def test_occurred_at_is_normalised_to_utc(text: str, expected: datetime) -> None:
    envelope = Envelope.from_dict(raw_event(occurred_at=text))
    assert envelope.occurred_at == expected
    assert envelope.occurred_at.utcoffset() == timedelta(0)
    assert envelope.to_dict()["occurred_at"] == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_envelope_constructor_enforces_the_same_rules() -> None:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "type": EventType.QUEUED,
        "frame_id": FRAME,
        "camera": FRAME.camera,
        "occurred_at": datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))),
        "trace_id": None,
        "span_id": None,
        "schema_version": 1,
        "data": {"stream": "s"},
    }
    envelope = Envelope(**fields)  # type: ignore[arg-type]
    assert envelope.occurred_at == datetime(2025, 1, 1, 11, tzinfo=UTC)
    assert envelope.occurred_at.tzinfo is UTC
    for key, bad, field in [
        ("occurred_at", datetime(2025, 1, 1), "occurred_at"),
        ("data", {}, "data.stream"),
        ("frame_id", str(FRAME), "frame_id"),
        ("type", "frame.queued", None),
    ]:
        if field is None:
            assert Envelope(**{**fields, key: bad}).type is EventType.QUEUED  # type: ignore[arg-type]
            continue
        with pytest.raises(ValidationError) as info:
            Envelope(**{**fields, key: bad})  # type: ignore[arg-type]
        assert info.value.field == field


def test_data_is_a_read_only_copy() -> None:
    data = {"processor": "p", "duration_ms": 1, "detections": [dict(DETECTION)]}
    envelope = Envelope.from_dict(raw_event(EventType.PROCESSED, data=data))
    data["processor"] = "changed"
    data["detections"][0]["label"] = "changed"  # type: ignore[index]
    assert envelope.data["processor"] == "p"
    assert envelope.to_dict()["data"] == {
        "processor": "p",
        "duration_ms": 1,
        "detections": [DETECTION],
    }
    with pytest.raises(TypeError):
        envelope.data["processor"] = "x"  # type: ignore[index]
    out = envelope.to_dict()
    out["data"]["processor"] = "mutated"  # type: ignore[index]
    assert envelope.data["processor"] == "p"


def test_new_fills_in_id_time_camera_and_version() -> None:
    before = datetime.now(UTC)
    envelope = Envelope.new(EventType.COMPLETED, FRAME, trace_id=TRACE, span_id=SPAN)
    assert envelope.event_id.version == 4
    assert before <= envelope.occurred_at <= datetime.now(UTC)
    assert envelope.occurred_at.tzinfo is UTC
    assert envelope.camera == FRAME.camera
    assert envelope.schema_version == SCHEMA_VERSION
    assert (envelope.trace_id, envelope.span_id) == (TRACE, SPAN)
    assert dict(envelope.data) == {}
    assert Envelope.new(EventType.COMPLETED, FRAME).event_id != envelope.event_id


def test_new_validates_data() -> None:
    with pytest.raises(ValidationError) as info:
        Envelope.new(EventType.SKIPPED, FrameId("cam", 1, 1), {"reason": "Because"})
    assert info.value.field == "data.reason"


def test_envelopes_hash_by_event_id() -> None:
    first = Envelope.from_dict(raw_event())
    again = Envelope.from_dict(raw_event())
    other = Envelope.from_dict(raw_event(event_id=str(uuid.uuid4())))
    assert first == again
    assert len({first, again, other}) == 2


def test_nul_characters_are_refused_in_data() -> None:
    from detektor.domain.errors import ValidationError
    from detektor.domain.fields import freeze_json

    with pytest.raises(ValidationError) as err:
        freeze_json({"source": "rtsp\x00"}, "data")
    assert err.value.field == "data.source"
    with pytest.raises(ValidationError):
        freeze_json({"a\x00": 1}, "data")
