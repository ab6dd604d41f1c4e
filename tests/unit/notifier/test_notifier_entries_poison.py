"""Poison detection entries: parsing answers a reason for each, and never raises."""

from __future__ import annotations

import json

import pytest

from detektor.services.notifier.entries import parse_entry

FRAME = b"front-door:1764230400123:000042"
HUGE = "9" * 400  # an int that float() cannot hold
HUGER = "9" * 5000  # beyond Python's 4,300-digit int conversion limit: json.loads raises


def with_detections(raw: str | bytes) -> dict[bytes, bytes]:
    return {
        b"frame_id": FRAME,
        b"camera": b"front-door",
        b"captured_ms": b"1764230400123",
        b"detections": raw.encode() if isinstance(raw, str) else raw,
    }


def det(label: str = '"person"', score: str = "0.8", box: str = "[1, 2, 3, 4]") -> str:
    return f'[{{"label": {label}, "score": {score}, "box": {box}}}]'


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (det(score=HUGE), "score must be a number from 0 to 1"),
        (det(box=f"[1, 2, 3, {HUGE}]"), "box must be [x1, y1, x2, y2] numbers"),
        (det(box="[1, 2, 3, 1e300]"), "box must be [x1, y1, x2, y2] numbers"),
        (det(score=HUGER), "not valid JSON: ValueError"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: RecursionError"),
        (det(label='"\\ud800"'), "label must be a non-empty printable string"),
        (det(label='"person\\u0000"'), "label must be a non-empty printable string"),
        (det(label='"' + "x" * 101 + '"'), "longer than 100"),
        (b"\xed\xa0\x80", "not UTF-8"),  # a surrogate encoded as UTF-8 bytes
        ("[" + "0," * 600_000 + "0]", "more than 1048576"),
        ("\x00garbage", "not valid JSON"),
    ],
    ids=[
        "score-400-digits",
        "box-400-digits",
        "box-1e300",
        "score-5000-digits",
        "deep-nesting",
        "label-surrogate",
        "label-nul",
        "label-too-long",
        "utf8-surrogate-bytes",
        "too-big",
        "garbage",
    ],
)
def test_each_poison_entry_is_answered_with_a_reason(raw: str | bytes, reason: str) -> None:
    answer = parse_entry(with_detections(raw))
    assert isinstance(answer, str)
    assert reason in answer
    json.dumps(answer).encode()  # a reason can always be written to the dead-letter stream
    answer.encode()


def deep_data() -> str:
    """A valid object.started envelope whose data nests 300 lists deep (JSON parses it)."""
    from support.object_events import ObjectScript, envelope

    text = json.dumps([envelope(ObjectScript().started()).to_dict()])
    start = text.index('"data": ') + len('"data": ')
    end = text.rindex("}}]") + 1
    return text[:start] + '{"box": ' + "[" * 300 + "]" * 300 + "}" + text[end:]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "objects is not valid JSON: RecursionError"),
        (f"[{HUGER}]", "objects is not valid JSON: ValueError"),
        ("[" + "{}," * 1001 + "{}]", "1002 object events is more than 1000"),
        ("[" + "0," * 3_000_000 + "0]", "more than 4194304"),
        ('[{"event_id": "\\ud800"}]', "objects[0]"),
        (deep_data(), "objects[0]: data"),
    ],
    ids=["deep-nesting", "5000-digits", "too-many", "too-big", "surrogate", "deep-data"],
)
def test_each_poison_objects_field_is_answered_with_a_reason(raw: str, reason: str) -> None:
    answer = parse_entry(
        {**with_detections("[]"), b"objects": raw.encode("utf-8", "surrogatepass")}
    )
    assert isinstance(answer, str)
    assert reason in answer
    json.dumps(answer).encode()
    answer.encode()
