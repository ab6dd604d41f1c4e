"""The stored projection of one frame (a row), and how an event advances it.

Stores keep one ``FrameRow`` per frame so lists and accounting never re-read timelines.
An event that sorts after the row's last event advances the row directly; one that
arrives late (earlier occurred_at) makes the store re-fold the frame from its events,
because only the ordered sequence decides states and anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from detektor.domain.events import Envelope, EventType
from detektor.domain.fields import format_timestamp
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import TERMINAL, FrameState, apply
from detektor.domain.timeline import FrameView


@dataclass(frozen=True, slots=True)
class FrameRow:
    frame_id: FrameId
    camera: str
    state: FrameState
    captured_at: datetime
    last_event_at: datetime
    last_position: int
    version: int  # events in the frame's stream
    has_captured: bool = False
    reason: str | None = None  # terminal skip/drop reason
    terminal_at: datetime | None = None
    trace_id: str | None = None
    anomalies: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "frame_id": str(self.frame_id),
            "camera": self.camera,
            "state": self.state.value,
            "reason": self.reason,
            "captured_at": format_timestamp(self.captured_at),
            "last_event_at": format_timestamp(self.last_event_at),
            "terminal_at": format_timestamp(self.terminal_at) if self.terminal_at else None,
            "trace_id": self.trace_id,
            "events": self.version,
            "anomalies": self.anomalies,
        }


@dataclass(frozen=True, slots=True)
class Advance:
    row: FrameRow
    anomaly: str | None


def sorts_after(row: FrameRow, position: int, envelope: Envelope) -> bool:
    """Whether the event comes after everything the row has seen (so `advance` may take it)."""
    if envelope.occurred_at != row.last_event_at:
        return envelope.occurred_at > row.last_event_at
    return position > row.last_position


def first_row(position: int, envelope: Envelope) -> Advance:
    return advance(None, position, envelope)


def advance(row: FrameRow | None, position: int, envelope: Envelope) -> Advance:
    """The row after an in-order event (check `sorts_after` first for an existing row)."""
    # Built field by field rather than with dataclasses.replace: this runs once per stored
    # event, and replace() was a quarter of a batched append's CPU time.
    if row is None:
        transition = apply(None, envelope.type)
        version, anomalies, trace_id, was_terminal = 0, 0, None, False
        has_captured, captured_at = False, envelope.frame_id.captured_at
        reason, terminal_at = None, None
    else:
        transition = apply(row.state, envelope.type)
        version, anomalies, trace_id = row.version, row.anomalies, row.trace_id
        was_terminal = row.version > 0 and row.state in TERMINAL
        has_captured, captured_at = row.has_captured, row.captured_at
        reason, terminal_at = row.reason, row.terminal_at
    if envelope.type is EventType.CAPTURED and not has_captured:
        has_captured, captured_at = True, envelope.occurred_at
    if not was_terminal and transition.new_state in TERMINAL:
        terminal_at = envelope.occurred_at
        given = envelope.data.get("reason")
        reason = given if isinstance(given, str) else None
    new_row = FrameRow(
        frame_id=envelope.frame_id,
        camera=envelope.camera,
        state=transition.new_state,
        captured_at=captured_at,
        last_event_at=envelope.occurred_at,
        last_position=position,
        version=version + 1,
        has_captured=has_captured,
        reason=reason,
        terminal_at=terminal_at,
        trace_id=trace_id or envelope.trace_id,
        anomalies=anomalies + (transition.anomaly is not None),
    )
    return Advance(new_row, transition.anomaly)


def row_from_view(view: FrameView) -> FrameRow:
    """The row a full fold gives: what replay compares stored rows against."""
    return FrameRow(
        frame_id=view.frame_id,
        camera=view.camera,
        state=view.state,
        captured_at=view.captured_at,
        last_event_at=view.last_event_at,
        last_position=view.events[-1][0],
        version=len(view.events),
        has_captured=view.has_captured,
        reason=view.terminal_reason,
        terminal_at=view.terminal_at,
        trace_id=view.trace_id,
        anomalies=len(view.anomalies),
    )
