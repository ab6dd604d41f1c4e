# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""Turning envelopes and projection rows into PostgreSQL values and back.

It owns the column lists of `events` and `frames` (their order is the COPY and `unnest` order
everywhere), the types they are sent as, and the JSON encoding of envelope data.
Stored events are rebuilt through the `Envelope` constructor, which re-validates every field,
so a hand-edited or corrupted row fails loudly on read instead of handing out a bad event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from detektor.adapters.storekit import FRAME_FIELDS
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.projection import FrameRow

# Written by COPY with explicit positions: the store allocates them under its append lock.
EVENT_INSERT_COLUMNS = (
    "position",
    "event_id",
    "frame_id",
    "camera",
    "type",
    "occurred_at",
    "trace_id",
    "span_id",
    "schema_version",
    "data",
    "anomaly",
)
EVENT_TYPES = (
    "int8",
    "uuid",
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "text",
    "int2",
    "jsonb",
    "text",
)
EVENT_COLUMNS = ", ".join(EVENT_INSERT_COLUMNS[:-1])  # what reads select, in this order
# What events are sent as, by COPY and INSERT alike: the data goes as JSON text, encoded
# while the server is busy looking the batch up, and parsed by jsonb's input function.
EVENT_COPY_TYPES = tuple("text" if t == "jsonb" else t for t in EVENT_TYPES)

FRAME_TYPES = (
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "int8",
    "int4",
    "bool",
    "text",
    "timestamptz",
    "text",
    "int4",
)
FRAME_COLUMNS = ", ".join(FRAME_FIELDS)

# One statement for any number of rows: arrays bound as binary parameters, unnested
# server-side. It runs inside a pipeline (COPY cannot), which is what keeps a one-event
# append at a couple of round trips.
UPSERT_FRAMES = (
    f"INSERT INTO frames ({FRAME_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"%b::{t}[]" for t in FRAME_TYPES)
    + ") ON CONFLICT (frame_id) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in FRAME_FIELDS[1:])
)
INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(EVENT_INSERT_COLUMNS)}) OVERRIDING SYSTEM VALUE "
    f"SELECT {', '.join(EVENT_INSERT_COLUMNS[:9])}, data::jsonb, anomaly FROM unnest("
    + ", ".join(f"%b::{t}[]" for t in EVENT_COPY_TYPES)
    + f") AS u({', '.join(EVENT_INSERT_COLUMNS)})"
)


def _plain(value: object) -> object:
    # Envelope data is frozen into read-only mappings (tuples need no help: json writes
    # them as arrays). The exact-type test first: an ABC check costs a microsecond a call.
    if type(value) is MappingProxyType or isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


# One encoder for all: json.dumps with any option set builds a new encoder on every call.
_ENCODER = json.JSONEncoder(default=_plain, separators=(",", ":"), allow_nan=False)


def dumps(value: object) -> str:
    """Compact JSON for jsonb columns, frozen envelope data included. (Envelopes cannot
    hold the NUL character jsonb refuses: the domain rejects it.)"""
    return _ENCODER.encode(value)


EventRecord = tuple[
    int, uuid.UUID, str, str, str, datetime, str | None, str | None, int, str, str | None
]


def event_record(
    position: int, envelope: Envelope, frame: str, data: str, anomaly: str | None
) -> EventRecord:
    """One `events` row in EVENT_INSERT_COLUMNS order, with the frame id's text and the
    data's JSON (`dumps`) made by the caller, who has them already."""
    return (
        position,
        envelope.event_id,
        frame,
        envelope.camera,
        envelope.type.value,
        envelope.occurred_at,
        envelope.trace_id,
        envelope.span_id,
        envelope.schema_version,
        data,
        anomaly,
    )


def event_from(record: Sequence[Any]) -> tuple[int, Envelope]:
    """A (position, envelope) pair from a row selected as EVENT_COLUMNS."""
    position, event_id, frame_id, camera, type_, occurred_at, trace_id, span_id, version, data = (
        record
    )
    envelope = Envelope(
        event_id=event_id,
        type=EventType(type_),
        frame_id=FrameId.parse(frame_id),
        camera=camera,
        occurred_at=occurred_at,
        trace_id=trace_id,
        span_id=span_id,
        schema_version=version,
        data=data,
    )
    return int(position), envelope


def frame_from(record: Sequence[Any]) -> FrameRow:
    """A projection row from a row selected as FRAME_COLUMNS."""
    (
        frame_id,
        camera,
        state,
        captured_at,
        last_event_at,
        last_position,
        version,
        has_captured,
        reason,
        terminal_at,
        trace_id,
        anomalies,
    ) = record
    return FrameRow(
        frame_id=FrameId.parse(frame_id),
        camera=camera,
        state=FrameState(state),
        captured_at=captured_at,
        last_event_at=last_event_at,
        last_position=last_position,
        version=version,
        has_captured=has_captured,
        reason=reason,
        terminal_at=terminal_at,
        trace_id=trace_id,
        anomalies=anomalies,
    )


def frame_columns(rows: Sequence[FrameRow]) -> list[list[Any]]:
    """UPSERT_FRAMES's parameters: one array per column, in FRAME_FIELDS order."""
    return [
        [str(r.frame_id) for r in rows],
        [r.camera for r in rows],
        [r.state.value for r in rows],
        [r.captured_at for r in rows],
        [r.last_event_at for r in rows],
        [r.last_position for r in rows],
        [r.version for r in rows],
        [r.has_captured for r in rows],
        [r.reason for r in rows],
        [r.terminal_at for r in rows],
        [r.trace_id for r in rows],
        [r.anomalies for r in rows],
    ]


def event_columns(records: Sequence[EventRecord]) -> list[list[Any]]:
    """INSERT_EVENTS's parameters: the records transposed into one array per column."""
    return [list(column) for column in zip(*records, strict=True)]
