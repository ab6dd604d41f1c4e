"""The stored projection of one frame (a row), and how an event advances it.

Stores keep one ``FrameRow`` per frame so lists and accounting never re-read timelines.
An event that sorts after the row's last event advances the row directly; one that
arrives late (earlier occurred_at) makes the store re-fold the frame from its events,
because only the ordered sequence decides states and anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    if row is None:
        row = FrameRow(
            frame_id=envelope.frame_id,
            camera=envelope.camera,
            state=FrameState.CAPTURED,
            captured_at=envelope.frame_id.captured_at,
            last_event_at=envelope.occurred_at,
            last_position=position,
            version=0,
        )
        transition = apply(None, envelope.type)
    else:
        transition = apply(row.state, envelope.type)
    was_terminal = row.version > 0 and row.state in TERMINAL
    updates: dict[str, object] = {
        "state": transition.new_state,
        "last_event_at": envelope.occurred_at,
        "last_position": position,
        "version": row.version + 1,
        "anomalies": row.anomalies + (transition.anomaly is not None),
        "trace_id": row.trace_id or envelope.trace_id,
    }
    if envelope.type is EventType.CAPTURED and not row.has_captured:
        updates["has_captured"] = True
        updates["captured_at"] = envelope.occurred_at
    if not was_terminal and transition.new_state in TERMINAL:
        updates["terminal_at"] = envelope.occurred_at
        reason = envelope.data.get("reason")
        updates["reason"] = reason if isinstance(reason, str) else None
    return Advance(replace(row, **updates), transition.anomaly)  # type: ignore[arg-type]


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
