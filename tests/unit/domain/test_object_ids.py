"""Object ids: what `make_object_id` writes is what `validate_object_id` accepts, and no more."""

from __future__ import annotations

import pytest

from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.object_events import make_object_id, validate_object_id


@pytest.mark.parametrize(
    ("camera", "ms", "track"),
    [("front-door", 1764230400123, 7), ("a", 0, 0), ("c_1-" + "x" * 60, 9_999_999_999_999, 2**62)],
)
def test_made_ids_are_valid(camera: str, ms: int, track: int) -> None:
    oid = make_object_id(camera, FrameId(camera, ms, 1), track)
    assert validate_object_id(oid) == oid


@pytest.mark.parametrize(
    "value",
    [
        "front-door:1764230400123",
        "front-door:1764230400123:7:1",
        "front-door:01:7",
        "front-door:1:07",
        "front-door:1:-7",
        "front-door:12345678901234:7",
        "Front:1:7",
        "front.door:1:7",
        "front-door:1:7\n",
        "../x:1:7",
        "",
        None,
        7,
    ],
)
def test_other_values_are_refused(value: object) -> None:
    with pytest.raises(ValidationError) as err:
        validate_object_id(value, "data.object_id")
    assert err.value.field == "data.object_id"
    assert "<camera>:<first sighting ms>:<track id>" in err.value.message
