"""Detection entries: a valid one parses, every malformed one names its problem."""

from __future__ import annotations

import json

import pytest

from detektor.services.notifier.entries import parse_entry, parse_frameless, raw_frame_id
from detektor.services.notifier.rules import Detection

FRAME = b"front-door:1764230400123:000042"


def fields(**over: bytes) -> dict[bytes, bytes]:
    base = {
        b"frame_id": FRAME,
        b"camera": b"front-door",
        b"captured_ms": b"1764230400123",
        b"detections": json.dumps(
            [{"label": "person", "score": 0.8, "box": [1, 2, 3, 4]}]
        ).encode(),
        b"traceparent": b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    base.update({k.encode(): v for k, v in over.items()})
    return base


def test_a_valid_entry() -> None:
    entry = parse_entry(fields())
    assert not isinstance(entry, str)
    assert str(entry.frame_id) == FRAME.decode()
    assert entry.camera == "front-door"
    assert entry.detections == [Detection("person", 0.8, (1.0, 2.0, 3.0, 4.0))]
    assert entry.traceparent is not None
    empty = parse_entry(fields(detections=b"[]"))
    assert not isinstance(empty, str)
    assert empty.detections == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"frame_id": b"nope"}, "frame id 'nope'"),
        ({"camera": b"back-yard"}, "does not match"),
        ({"detections": b"{not json"}, "not valid JSON"),
        ({"detections": b'{"label": "person"}'}, "must be a JSON list"),
        ({"detections": b'[{"label": "", "score": 0.5, "box": [1,2,3,4]}]'}, "label"),
        ({"detections": b'[{"label": "a", "score": 1.5, "box": [1,2,3,4]}]'}, "score"),
        ({"detections": b'[{"label": "a", "score": true, "box": [1,2,3,4]}]'}, "score"),
        ({"detections": b'[{"label": "a", "score": 0.5, "box": [1,2,3]}]'}, "box"),
        ({"detections": b'[{"label": "a", "score": 0.5, "box": [5,2,3,4]}]'}, "x1 <= x2"),
        ({"detections": b'[{"label": "a", "score": 0.5, "box": "abcd"}]'}, "box"),
        ({"detections": b"[1]"}, "must be an object"),
        ({"frame_id": b"\xff"}, "UTF-8"),
    ],
)
def test_malformed_entries_give_a_reason(bad: dict[str, bytes], reason: str) -> None:
    entry = parse_entry(fields(**bad))
    assert isinstance(entry, str)
    assert reason in entry


def test_missing_fields_are_listed_and_the_frame_id_survives_when_it_can() -> None:
    broken = {b"frame_id": FRAME}
    assert parse_entry(broken) == "missing field(s) camera, detections"
    assert str(raw_frame_id(broken)) == FRAME.decode()
    assert raw_frame_id({b"camera": b"x"}) is None


def object_envelopes(camera: str = "front-door", **over: object) -> list[dict[str, object]]:
    from support.object_events import ObjectScript, envelope

    person = ObjectScript(camera=camera)
    found = [envelope(person.started()).to_dict(), envelope(person.ended(3)).to_dict()]
    found[0].update(over)
    return found


def test_an_entry_with_its_object_events() -> None:
    raw = object_envelopes()
    entry = parse_entry(fields(objects=json.dumps(raw).encode()))
    assert not isinstance(entry, str)
    assert [e.type.value for e in entry.objects] == ["object.started", "object.ended"]
    assert [e.to_dict() for e in entry.objects] == raw
    for empty in (b"", b"[]"):
        none = parse_entry(fields(objects=empty))
        assert not isinstance(none, str)
        assert none.objects == ()


@pytest.mark.parametrize(
    ("objects", "reason"),
    [
        (b"{not json", "objects is not valid JSON"),
        (b'{"type": "object.started"}', "objects must be a JSON list"),
        (b"[1]", "objects[0]: envelope: must be"),
        (b"[{}]", "objects[0]: event_id: is required"),
        (
            json.dumps(object_envelopes(type="frame.completed", data={})).encode(),
            "not an object event",
        ),
        (json.dumps(object_envelopes(type="object.exploded")).encode(), "unknown event type"),
        (json.dumps(object_envelopes("back-yard")).encode(), "is not the entry's camera"),
        (json.dumps(object_envelopes(data={"object_id": "front-door:1:1"})).encode(), "data."),
        (json.dumps(object_envelopes(schema_version=99)).encode(), "newer than this build"),
        (json.dumps(object_envelopes(trace_id="0" * 32)).encode(), "trace_id"),
    ],
    ids=[
        "bad-json",
        "not-a-list",
        "not-an-object",
        "empty-envelope",
        "lifecycle-type",
        "unknown-type",
        "other-camera",
        "bad-data",
        "future-schema",
        "zero-trace-id",
    ],
)
def test_malformed_object_events_give_a_reason(objects: bytes, reason: str) -> None:
    entry = parse_entry(fields(objects=objects))
    assert isinstance(entry, str)
    assert reason in entry


def frameless_fields(**over: bytes) -> dict[bytes, bytes]:
    base = {
        b"kind": b"objects",
        b"camera": b"front-door",
        b"objects": json.dumps(object_envelopes()).encode(),
    }
    base.update({k.encode(): v for k, v in over.items()})
    return base


def test_an_entry_of_object_events_with_no_frame() -> None:
    events = parse_frameless(frameless_fields())
    assert not isinstance(events, str)
    assert [e.type.value for e in events] == ["object.started", "object.ended"]


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"camera": b"Front Door"}, "is not a camera name"),
        ({"camera": b"\xff\xfe"}, "not UTF-8"),
        ({"objects": b""}, "missing field(s) objects"),
        ({"objects": b"[]"}, "objects is empty"),
        ({"objects": b"{not json"}, "objects is not valid JSON"),
        ({"camera": b"back-yard"}, "is not the entry's camera"),
        ({"objects": b"[" * 100_000}, "objects is"),
    ],
    ids=["bad-camera", "not-utf8", "no-objects", "empty", "bad-json", "other-camera", "deep"],
)
def test_malformed_entries_of_object_events_give_a_reason(
    over: dict[str, bytes], reason: str
) -> None:
    problem = parse_frameless(frameless_fields(**over))
    assert isinstance(problem, str)
    assert reason in problem
