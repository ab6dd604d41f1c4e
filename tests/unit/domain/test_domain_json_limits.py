"""What any store can hold: the limits `freeze_json` (and so every Envelope) enforces, each
rejection naming the path of the value at fault."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.domain.fields import (
    INT_MAX,
    INT_MIN,
    MAX_DATA_SIZE,
    MAX_DEPTH,
    MAX_FLOAT,
    MAX_ITEMS,
    MAX_KEY,
    MAX_STRING,
    describe,
    freeze_json,
    require_int,
    require_number,
    thaw_json,
)
from detektor.domain.frames import FrameId


def rejected(value: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        freeze_json(value, "data")
    return info.value


def objects(depth: int) -> dict[str, Any]:
    """`depth` levels of `{"n": ...}`, the outermost included."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ({"a": "\ud800"}, "data.a", "lone surrogate '\\ud800' at index 0"),
        ({"a": ["ok", "x\udc00"]}, "data.a[1]", "lone surrogate '\\udc00' at index 1"),
        ({"\udfff": 1}, "data", "keys must be valid Unicode"),
        ({"a": {"b\x00": 1}}, "data.a", "keys must not contain the NUL"),
        ({"a": [[["\x00"]]]}, "data.a[0][0][0]", "NUL character"),
        ({"n": INT_MAX + 1}, "data.n", "64-bit"),
        ({"n": [INT_MIN - 1]}, "data.n[0]", "64-bit"),
        ({"n": 10**5000}, "data.n", "an integer of 16610 bits"),
        ({"f": math.nan}, "data.f", "finite"),
        ({"f": [math.inf]}, "data.f[0]", "finite"),
        ({"f": 1e20}, "data.f", "within ±2^53"),
        ({"f": -1e300}, "data.f", "within ±2^53"),
        ({"s": "x" * (MAX_STRING + 1)}, "data.s", f"at most {MAX_STRING} characters"),
        ({"k" * (MAX_KEY + 1): 1}, "data", f"keys may hold at most {MAX_KEY}"),
        ({"l": [0] * (MAX_ITEMS + 1)}, "data.l", f"at most {MAX_ITEMS} entries"),
        ({"o": {str(i): i for i in range(MAX_ITEMS + 1)}}, "data.o", "entries"),
        ({"d": objects(MAX_DEPTH)}, "data.d" + ".n" * (MAX_DEPTH - 1), f"{MAX_DEPTH} levels"),
        ({"b": b"bytes"}, "data.b", "must be JSON data, got bytes"),
        ({"s": {1, 2}}, "data.s", "must be JSON data, got set"),
        ({1: "x"}, "data", "keys must be strings"),
    ],
)
def test_what_no_store_can_hold_is_rejected_naming_the_path(
    value: object, field: str, words: str
) -> None:
    error = rejected(value)
    assert error.field == field
    assert words in error.message


def test_the_total_size_counts_strings_keys_and_values() -> None:
    chunk = "y" * 50_000
    error = rejected({"list": [chunk] * 30})
    assert error.field == "data.list[20]"  # 21 chunks of 50,001 cross 1,048,576
    assert f"larger than {MAX_DATA_SIZE}" in error.message
    assert freeze_json({"list": [chunk] * 20}, "data") is not None


def test_values_at_each_limit_pass_and_thaw_back_unchanged() -> None:
    value = {
        "int": [INT_MIN, INT_MAX, 0, -1],
        "float": [MAX_FLOAT, -MAX_FLOAT, 0.5, -0.0, 5e-324],
        "text": ["x" * MAX_STRING, "\U0001f600\u00e9\u4e2d", ""],
        "k" * MAX_KEY: None,
        "items": list(range(MAX_ITEMS)),
        "deep": objects(MAX_DEPTH - 1),
        "flags": [True, False, None],
    }
    assert thaw_json(freeze_json(value, "data")) == value


def test_a_surrogate_pair_from_json_is_one_character_and_passes() -> None:
    text = json.loads('"\\ud83d\\ude00"')
    assert freeze_json({"emoji": text}, "data") == {"emoji": "\U0001f600"}
    # In Python text the two halves stay two lone surrogates, which no store can encode.
    assert rejected({"emoji": "\ud83d\ude00"}).field == "data.emoji"


def test_envelope_data_is_checked_before_the_schema_and_names_the_path() -> None:
    raw = {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": "frame.captured",
        "frame_id": "cam:1764252187000:000001",
        "camera": "cam",
        "occurred_at": "2025-11-27T14:03:07Z",
        "schema_version": 1,
        "data": {"width": INT_MAX + 1, "height": 1, "source": "rtsp\ud800"},
    }
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(raw)
    assert info.value.field == "data.width"
    raw["data"] = {"width": 1, "height": 1, "source": "rtsp\ud800"}
    with pytest.raises(ValidationError) as info:
        Envelope.from_dict(raw)
    assert info.value.field == "data.source"


def test_nesting_near_the_recursion_limit_is_refused_without_recursing() -> None:
    deep: list[Any] = []
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    assert rejected({"d": deep}).field.startswith("data.d[0]")
    # describe() of such a value, as in "must be a JSON object, got ...", must not recurse.
    assert describe(deep).startswith("[[[")
    with pytest.raises(ValidationError, match="must be a JSON object"):
        Envelope.from_dict(deep)


def test_integer_checks_refuse_64_bit_overflow_with_a_short_message() -> None:
    with pytest.raises(ValidationError, match="64-bit integer, got an integer of 16610 bits"):
        require_int(10**5000, "schema_version")
    with pytest.raises(ValidationError, match=r"at most 1\.0, got an integer of 16610 bits"):
        require_number(10**5000, "score", maximum=1.0)
    with pytest.raises(ValidationError, match="an integer of 16610 bits"):
        FrameId("cam", 10**5000, 1)
    assert require_int(INT_MAX, "n") == INT_MAX
