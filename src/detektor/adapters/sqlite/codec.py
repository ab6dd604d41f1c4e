# ruff: noqa: S608
# The statements below are assembled from constant column lists; every value is bound.
"""The store's SQL statements, and turning envelopes and projection rows into SQLite
parameters and back.

Stored rows are read back through `Envelope.from_dict` and `parse_timestamp`, the same gates
untrusted input goes through, so a hand-edited or corrupted database fails loudly on read
instead of handing out an invalid event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from detektor.adapters.storekit import FRAME_FIELDS, IN_FLIGHT
from detektor.domain.events import Envelope
from detektor.domain.fields import format_timestamp, parse_timestamp, thaw_json
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.projection import FrameRow

EVENT_COLUMNS = (
    "position, event_id, frame_id, camera, type, occurred_at, trace_id, span_id, "
    "schema_version, data"
)
INSERT_EVENT = (
    "INSERT INTO events (event_id, frame_id, camera, type, occurred_at, trace_id, span_id, "
    "schema_version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_LOG = f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
# A frame's events but one (the event being appended, at the second parameter).
SELECT_STREAM = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE frame_id = ? AND position != ? ORDER BY position"
)

FRAME_COLUMNS = ", ".join(FRAME_FIELDS)
UPSERT_FRAME = (
    f"INSERT INTO frames ({FRAME_COLUMNS}) VALUES ({', '.join('?' for _ in FRAME_FIELDS)}) "
    "ON CONFLICT (frame_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in FRAME_FIELDS[1:])
)
SELECT_FRAME = f"SELECT {FRAME_COLUMNS} FROM frames WHERE frame_id = ?"
SELECT_FRAME_ROWS = (
    f"SELECT {FRAME_COLUMNS} FROM frames WHERE frame_id > ? ORDER BY frame_id LIMIT ?"
)

_IN_FLIGHT = ", ".join(f"'{state}'" for state in IN_FLIGHT)
COUNT_STALE = (
    "SELECT COUNT(*) FROM frames WHERE camera = ? "
    f"AND state IN ({_IN_FLIGHT}) AND last_event_at < ?"
)
# Whole frames, finished or not, whose last event is before the retention cutoff (ADR 13).
SELECT_PURGEABLE_FRAMES = f"SELECT {FRAME_COLUMNS} FROM frames WHERE last_event_at < ? LIMIT ?"


def select_frames(conditions: Sequence[str]) -> str:
    """The frame list, newest first, with `conditions` (literal SQL with ? parameters) and a
    LIMIT parameter last."""
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT {FRAME_COLUMNS} FROM frames{where} "
        "ORDER BY captured_at DESC, frame_id DESC LIMIT ?"
    )


Params = tuple[object, ...]


def event_params(envelope: Envelope) -> Params:
    return (
        str(envelope.event_id),
        str(envelope.frame_id),
        envelope.camera,
        envelope.type.value,
        format_timestamp(envelope.occurred_at),
        envelope.trace_id,
        envelope.span_id,
        envelope.schema_version,
        json.dumps(thaw_json(envelope.data), separators=(",", ":"), allow_nan=False),
    )


def event_from(record: Sequence[object]) -> tuple[int, Envelope]:
    """A (position, envelope) pair from a row selected as EVENT_COLUMNS."""
    position, event_id, frame_id, camera, type_, occurred_at, trace_id, span_id, version, data = (
        record
    )
    assert isinstance(position, int)
    assert isinstance(data, str)
    envelope = Envelope.from_dict(
        {
            "event_id": event_id,
            "type": type_,
            "frame_id": frame_id,
            "camera": camera,
            "occurred_at": occurred_at,
            "trace_id": trace_id,
            "span_id": span_id,
            "schema_version": version,
            "data": json.loads(data),
        }
    )
    return position, envelope


def _when(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _parse_when(value: object, name: str) -> datetime | None:
    return None if value is None else parse_timestamp(value, name)


def frame_params(row: FrameRow) -> Params:
    """The row as parameters in FRAME_FIELDS order."""
    return (
        str(row.frame_id),
        row.camera,
        row.state.value,
        format_timestamp(row.captured_at),
        format_timestamp(row.last_event_at),
        row.last_position,
        row.version,
        int(row.has_captured),
        row.reason,
        _when(row.terminal_at),
        row.trace_id,
        row.anomalies,
    )


def frame_from(record: Sequence[object]) -> FrameRow:
    """A FrameRow from a row selected as FRAME_COLUMNS."""
    values = dict(zip(FRAME_FIELDS, record, strict=True))
    captured_at = _parse_when(values["captured_at"], "captured_at")
    last_event_at = _parse_when(values["last_event_at"], "last_event_at")
    last_position, version, anomalies = (
        values["last_position"],
        values["version"],
        values["anomalies"],
    )
    assert captured_at is not None
    assert last_event_at is not None
    assert isinstance(last_position, int)
    assert isinstance(version, int)
    assert isinstance(anomalies, int)
    reason, trace_id = values["reason"], values["trace_id"]
    assert reason is None or isinstance(reason, str)
    assert trace_id is None or isinstance(trace_id, str)
    return FrameRow(
        frame_id=FrameId.parse(values["frame_id"]),
        camera=str(values["camera"]),
        state=FrameState(str(values["state"])),
        captured_at=captured_at,
        last_event_at=last_event_at,
        last_position=last_position,
        version=version,
        has_captured=bool(values["has_captured"]),
        reason=reason,
        terminal_at=_parse_when(values["terminal_at"], "terminal_at"),
        trace_id=trace_id,
        anomalies=anomalies,
    )
