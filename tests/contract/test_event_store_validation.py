"""The EventStore contract, part: what the door lets in, every store holds; what a store
would refuse never reaches it.

Validation (the domain's `Envelope.from_dict`) rejects what PostgreSQL would refuse (lone
surrogates, NUL, integers past 64 bits, non-finite floats, deep nesting, oversized data), so
memory, SQLite and PostgreSQL answer a batch with poison in it the same way: the poison is
`rejected` naming its field, the rest is stored. Values at the edge of every limit are stored
and read back unchanged by each store. Bad read arguments are a ValueError everywhere.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import Any

import pytest

from detektor.domain.events import Envelope
from detektor.domain.fields import INT_MAX, INT_MIN, MAX_DEPTH, MAX_KEY, MAX_STRING
from detektor.kit.metrics import Metrics
from detektor.ports import EventStore, FrameQuery
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics

from .builders import APPENDED, VALID_DATA, E, event, frame, whole_log


def nested(depth: int) -> object:
    """`depth` levels of objects (`{"n": ...}`) around an array, the value itself included."""
    value: object = ["bottom"]
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def captured(data_extra: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    return {
        **event(E.CAPTURED, frame(seq)).to_dict(),
        "data": {**VALID_DATA[E.CAPTURED], **data_extra},
    }


# (extra data, the field the rejection names): each is something PostgreSQL's jsonb or
# bigint would refuse, or a limit past which no store is asked to go.
POISON = [
    ({"note": "\ud800"}, "data.note"),
    ({"note": "ok", "nested": {"deeper": ["fine", "a\udfffb"]}}, "data.nested.deeper[1]"),
    ({"\ud83d": 1}, "data"),
    ({"note": "nul\x00"}, "data.note"),
    ({"big": INT_MAX + 1}, "data.big"),
    ({"small": [INT_MIN - 1]}, "data.small[0]"),
    ({"ratio": 1e20}, "data.ratio"),
    ({"ratio": -(2.0**53) * 2}, "data.ratio"),
    ({"ratio": math.inf}, "data.ratio"),
    ({"ratio": -math.inf}, "data.ratio"),
    ({"ratio": math.nan}, "data.ratio"),
    # `data` is level 1, so the array at the bottom is level MAX_DEPTH + 1.
    ({"deep": nested(MAX_DEPTH)}, "data.deep" + ".n" * (MAX_DEPTH - 1)),
    ({"long": "x" * (MAX_STRING + 1)}, "data.long"),
    ({"k" * (MAX_KEY + 1): 1}, "data"),
    ({"many": list(range(10_001))}, "data.many"),
    ({f"s{i}": "y" * 60_000 for i in range(20)}, "data.s17"),
]


def test_poison_is_rejected_naming_its_field_and_the_rest_of_the_batch_is_stored(
    store: EventStore,
) -> None:
    ingestor = Ingestor(store, TrackingMetrics(Metrics("contract", "0")))
    good = [captured({}, seq=100 + i) for i in range(2)]
    raw = [good[0], *(captured(extra, seq=i) for i, (extra, _) in enumerate(POISON)), good[1]]
    outcomes = asyncio.run(ingestor.ingest(raw, source="contract"))
    assert [o.status for o in outcomes] == ["appended", *["rejected"] * len(POISON), "appended"]
    assert [o.field for o in outcomes[1:-1]] == [field for _, field in POISON]
    stored = [e for _, e in whole_log(store)]
    assert [str(e.event_id) for e in stored] == [g["event_id"] for g in good]


def test_a_rejection_names_the_path_of_the_first_bad_value() -> None:
    # The size check counts as it walks, so the 18th 60,000-character string crosses 1 MiB.
    with pytest.raises(ValueError, match="larger than 1048576 characters") as info:
        Envelope.from_dict(captured(POISON[-1][0]))
    assert getattr(info.value, "field", None) == "data.s17"


EDGES: dict[str, object] = {
    "int_max": INT_MAX,
    "int_min": INT_MIN,
    "float_max": 2.0**53,
    "float_min": -(2.0**53),
    "fraction": 123456789012345.67,
    "small": 1.234e-300,
    "tiny": 5e-324,
    "negative_zero": -0.0,
    "astral": "\U0001f600 and \u00e9 and \u4e2d",
    "long": "z" * MAX_STRING,
    "k" * MAX_KEY: "key of the longest length",
    "deep": nested(MAX_DEPTH - 1),
    "many": list(range(10_000)),
    "empty": {"list": [], "object": {}, "text": "", "null": None, "flag": False},
}


def test_values_at_each_limit_are_stored_and_read_back_unchanged(store: EventStore) -> None:
    envelope = Envelope.from_dict(captured(EDGES))
    assert [r.status for r in store.append([envelope])] == [APPENDED]
    [(_, back)] = whole_log(store)
    assert back == envelope
    assert back.to_dict()["data"] == {**VALID_DATA[E.CAPTURED], **EDGES}
    view = store.frame(envelope.frame_id)
    assert view is not None
    assert json.loads(json.dumps(view.to_dict()))["events"][0]["data"]["int_max"] == INT_MAX


def test_a_log_position_past_64_bits_is_a_value_error(store: EventStore) -> None:
    store.append([event(E.CAPTURED, frame(1))])
    assert store.read_log(INT_MAX, 10) == []
    for after in (INT_MAX + 1, -1):
        with pytest.raises(ValueError, match="after must be a log position"):
            store.read_log(after, 10)
    with pytest.raises(ValueError, match="limit must be at most"):
        store.read_log(0, INT_MAX + 1)


def cursor_of(*fields: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(fields)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "captured_at",
    [
        "garbage",
        "0000-01-01T00:00:00.000000Z",
        "2025-13-01T00:00:00.000000Z",
        "2025-11-27T14:03:07",  # no offset
        "2025-11-27T14:03:07.000000Z'); DROP TABLE frames; --",
    ],
)
def test_a_cursor_with_a_bad_timestamp_is_a_value_error(
    store: EventStore, captured_at: str
) -> None:
    store.append([event(E.CAPTURED, frame(1))])
    with pytest.raises(ValueError, match=r"cursor .* is not valid"):
        store.frames(FrameQuery(cursor=cursor_of(captured_at, str(frame(1)))))


def test_a_cursor_in_another_offset_reads_like_the_canonical_one(store: EventStore) -> None:
    frames = [frame(seq, at_ms=seq) for seq in range(3)]
    store.append([event(E.CAPTURED, f) for f in frames])
    first = store.frames(FrameQuery(limit=1))
    assert first.next_cursor is not None
    at = frames[2].captured_at
    shifted = cursor_of(at.isoformat().replace("+00:00", "Z"), str(frames[2]))
    canonical = store.frames(FrameQuery(cursor=first.next_cursor))
    assert store.frames(FrameQuery(cursor=shifted)) == canonical
    assert [r.frame_id for r in canonical.frames] == [frames[1], frames[0]]
