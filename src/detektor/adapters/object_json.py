"""An object's stored row as JSON: what the SQL EventStores keep in their object column
(text in SQLite, jsonb in PostgreSQL) and read back. The in-memory store keeps the rows
themselves, so only the SQL adapters use this.

The form holds the whole view, its events' positions and its fold key (`ObjectRow.last`):
everything `advance_row` needs to move the row by the next event.
"""

from __future__ import annotations

import json

from detektor.adapters.objectkit import ObjectRow
from detektor.domain.fields import format_timestamp, parse_timestamp
from detektor.domain.frames import FrameId
from detektor.domain.geometry import validate_box
from detektor.domain.object_events import BestFrame, ObjectState
from detektor.domain.object_projection import ObjectView


def row_to_json(row: ObjectRow) -> str:
    v = row.view
    at, rank, position = row.last
    return json.dumps(
        {
            "object_id": v.object_id,
            "camera": v.camera,
            "label": v.label,
            "state": v.state.value,
            "first_seen": format_timestamp(v.first_seen),
            "last_seen": format_timestamp(v.last_seen),
            "ended_at": None if v.ended_at is None else format_timestamp(v.ended_at),
            "top_score": v.top_score,
            "median_score": v.median_score,
            "zones": list(v.zones),
            "zones_entered": list(v.zones_entered),
            "best": None if v.best is None else v.best.to_dict(),
            "frame_ids": [str(f) for f in v.frame_ids],
            "events": v.events,
            "positions": list(row.positions),
            "last": [format_timestamp(at), rank, position],
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def row_from_json(raw: object) -> ObjectRow:
    """Read back what `row_to_json` wrote (text, or the mapping a jsonb column gives)."""
    doc = json.loads(raw) if isinstance(raw, str | bytes) else raw
    assert isinstance(doc, dict)
    best = doc["best"]
    at, rank, position = doc["last"]
    ended_at = doc["ended_at"]
    view = ObjectView(
        object_id=str(doc["object_id"]),
        camera=str(doc["camera"]),
        label=str(doc["label"]),
        state=ObjectState(doc["state"]),
        first_seen=parse_timestamp(doc["first_seen"], "first_seen"),
        last_seen=parse_timestamp(doc["last_seen"], "last_seen"),
        ended_at=None if ended_at is None else parse_timestamp(ended_at, "ended_at"),
        top_score=float(doc["top_score"]),
        median_score=float(doc["median_score"]),
        zones=tuple(str(z) for z in doc["zones"]),
        zones_entered=tuple(str(z) for z in doc["zones_entered"]),
        best=None
        if best is None
        else BestFrame(
            frame_id=FrameId.parse(best["frame_id"]),
            box=validate_box(best["box"]),
            score=float(best["score"]),
            cut=bool(best["cut"]),
        ),
        frame_ids=tuple(FrameId.parse(f) for f in doc["frame_ids"]),
        events=int(doc["events"]),
    )
    last = (parse_timestamp(at, "last"), int(rank), int(position))
    return ObjectRow(view, tuple(int(p) for p in doc["positions"]), last)
