"""Detection entries: a valid one parses, every malformed one names its problem."""

from __future__ import annotations

import json

import pytest

from detektor.services.notifier.entries import parse_entry, raw_frame_id
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
