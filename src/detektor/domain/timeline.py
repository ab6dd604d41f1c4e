"""The projection of one frame: its state, ordered events, stage durations, detections,
anomalies and the objects seen in it, folded from its events.

Events are ordered by (occurred_at, store position). Producers on different hosts can deliver
them late, and arriving out of order is not an anomaly: a late event re-folds the frame, and only
a contradiction of the state machine in the ordered sequence is flagged.

Object events (`object.*`) sit beside the lifecycle: they are listed under `objects` and never
touch the state, stages, terminal time, anomalies or `events` (which stays the lifecycle).
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detektor.domain.accounting import FrameSummary
from detektor.domain.events import Envelope, EventType
from detektor.domain.fields import format_timestamp, thaw_json
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import TERMINAL, FrameState, Transition
from detektor.domain.lifecycle import apply as apply_transition

_MS = timedelta(milliseconds=1)


def _ms(delta: timedelta) -> float:
    return round(delta / _MS, 3)


def _thaw_detection(item: object, processor: str) -> dict[str, object]:
    # A fresh copy on every read: callers may mutate what they get without touching the view.
    thawed = thaw_json(item)
    assert isinstance(thawed, dict)
    return {**thawed, "processor": processor}


@dataclass(frozen=True, slots=True)
class Stage:
    """Time spent in one state: from the event that entered it to the next event."""

    name: str  # the state being left, e.g. "queued"
    started_at: datetime
    duration_ms: float

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "started_at": format_timestamp(self.started_at),
            "duration_ms": self.duration_ms,
        }


@dataclass(eq=False)
class FrameView:
    """One frame's timeline. Build it with `fold`, or `start` and then `add` event by event."""

    frame_id: FrameId
    camera: str
    state: FrameState
    # The frame.captured event's time; the id's capture time until (or unless) that arrives.
    captured_at: datetime
    last_event_at: datetime
    trace_id: str | None = None  # the first non-null trace id, in event order
    has_captured: bool = False
    terminal_at: datetime | None = None
    terminal_reason: str | None = None  # data.reason of the skip or drop that ended the frame
    events: list[tuple[int, Envelope]] = field(default_factory=list)  # (position, envelope)
    stages: list[Stage] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    # (position, envelope) of the object events, by (occurred_at, position)
    object_events: list[tuple[int, Envelope]] = field(default_factory=list)
    # processor -> its latest detections (frozen mappings), in the order processors appeared
    _detections: dict[str, list[object]] = field(default_factory=dict, repr=False)
    _seen: set[uuid.UUID] = field(default_factory=set, repr=False)

    @classmethod
    def start(cls, position: int, envelope: Envelope) -> FrameView:
        """A view holding the frame's first event."""
        view = cls(
            frame_id=envelope.frame_id,
            camera=envelope.camera,
            state=FrameState.CAPTURED,  # replaced by _record below
            captured_at=envelope.frame_id.captured_at,
            last_event_at=envelope.occurred_at,
        )
        view._record(position, envelope, apply_transition(None, envelope.type))
        return view

    def is_in_order(self, envelope: Envelope, position: int | None = None) -> bool:
        """Whether `envelope` sorts after every event seen, so `apply` may take it. Without a
        position, a tie on occurred_at counts as in order: store positions only grow."""
        last_position = self.events[-1][0]
        if envelope.occurred_at != self.last_event_at:
            return envelope.occurred_at > self.last_event_at
        return position is None or position > last_position

    def apply(self, position: int, envelope: Envelope) -> None:
        """Append an event that sorts after all others (see `is_in_order`); a duplicate event
        id is ignored. Raises ValueError for another frame's event or an out-of-order one.
        Object events may come in any order."""
        self._check_frame(envelope)
        if envelope.event_id in self._seen:
            return
        if envelope.is_object_event:
            self._record_object(position, envelope)
            return
        if not self.is_in_order(envelope, position):
            raise ValueError(
                f"event {envelope.event_id} at {format_timestamp(envelope.occurred_at)} sorts "
                f"before the last event of {self.frame_id}; use add() or fold() instead"
            )
        if self.state not in TERMINAL:
            # Stages end at terminal: what follows a terminal event is an anomaly, not time
            # spent in the pipeline.
            self.stages.append(
                Stage(
                    self.state.value,
                    self.last_event_at,
                    _ms(envelope.occurred_at - self.last_event_at),
                )
            )
        self._record(position, envelope, apply_transition(self.state, envelope.type))

    def add(self, position: int, envelope: Envelope) -> None:
        """Take an event in any arrival order, re-folding in place when it arrives late."""
        self._check_frame(envelope)
        if envelope.event_id in self._seen:
            return
        if envelope.is_object_event or self.is_in_order(envelope, position):
            self.apply(position, envelope)
            return
        refolded = fold([*self.events, *self.object_events, (position, envelope)])
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(refolded, name))

    @property
    def envelopes(self) -> list[Envelope]:
        return [envelope for _, envelope in self.events]

    @property
    def first_event_at(self) -> datetime:
        return self.events[0][1].occurred_at

    @property
    def total_ms(self) -> float | None:
        """From the first event to the terminal one; None while the frame is in flight."""
        if self.terminal_at is None:
            return None
        return _ms(self.terminal_at - self.first_event_at)

    @property
    def detections(self) -> list[dict[str, object]]:
        """Each processor's latest frame.processed detections, tagged with the processor."""
        return [
            _thaw_detection(item, processor)
            for processor, items in self._detections.items()
            for item in items
        ]

    @property
    def objects(self) -> list[dict[str, object]]:
        """One entry per object event, in event order: what the tracker saw in this frame."""
        return [_object_entry(envelope) for _, envelope in self.object_events]

    def summary(self) -> FrameSummary:
        return FrameSummary(
            state=self.state,
            reason=self.terminal_reason,
            captured=self.has_captured,
            last_event_at=self.last_event_at,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; the API adds what needs configuration, such as the Jaeger link."""
        return {
            "frame_id": str(self.frame_id),
            "camera": self.camera,
            "state": self.state.value,
            "trace_id": self.trace_id,
            "captured_at": format_timestamp(self.captured_at),
            "last_event_at": format_timestamp(self.last_event_at),
            "terminal_at": format_timestamp(self.terminal_at) if self.terminal_at else None,
            "total_ms": self.total_ms,
            "events": [{"position": p, **e.to_dict()} for p, e in self.events],
            "stages": [stage.to_dict() for stage in self.stages],
            "detections": self.detections,
            "anomalies": list(self.anomalies),
            "objects": self.objects,
        }

    def _check_frame(self, envelope: Envelope) -> None:
        if envelope.frame_id != self.frame_id:
            raise ValueError(f"event for {envelope.frame_id} given to the view of {self.frame_id}")

    def _record_object(self, position: int, envelope: Envelope) -> None:
        self._seen.add(envelope.event_id)
        bisect.insort(
            self.object_events, (position, envelope), key=lambda p: (p[1].occurred_at, p[0])
        )

    def _record(self, position: int, envelope: Envelope, transition: Transition) -> None:
        was_terminal = bool(self.events) and self.state in TERMINAL
        self.events.append((position, envelope))
        self._seen.add(envelope.event_id)
        self.last_event_at = envelope.occurred_at
        self.state = transition.new_state
        if transition.anomaly is not None:
            self.anomalies.append(
                f"{format_timestamp(envelope.occurred_at)} {envelope.type.value} "
                f"(event {envelope.event_id}): {transition.anomaly}"
            )
        if self.trace_id is None:
            self.trace_id = envelope.trace_id
        if envelope.type is EventType.CAPTURED and not self.has_captured:
            self.has_captured = True
            self.captured_at = envelope.occurred_at
        if not was_terminal and self.state in TERMINAL:
            self.terminal_at = envelope.occurred_at
            reason = envelope.data.get("reason")
            self.terminal_reason = reason if isinstance(reason, str) else None
        if envelope.type is EventType.PROCESSED:
            # Frozen by Envelope, so the view can keep the items without copying them.
            found = envelope.data["detections"]
            assert isinstance(found, tuple)
            self._detections[str(envelope.data["processor"])] = list(found)


def _object_entry(envelope: Envelope) -> dict[str, object]:
    data = envelope.data
    zones = data["zones"]
    box = data["box"]
    assert isinstance(zones, tuple)
    assert isinstance(box, tuple)
    return {
        "object_id": data["object_id"],
        "type": envelope.type.value,
        "label": data["label"],
        "score": data["score"],
        "box": list(box),
        "zones": list(zones),
        "occurred_at": format_timestamp(envelope.occurred_at),
    }


def fold(events: Iterable[tuple[int, Envelope]]) -> FrameView:
    """Build a frame's view from its (position, envelope) pairs, in any order. Raises
    ValueError for no lifecycle event (object events alone make no frame) or for events of
    more than one frame."""
    view = view_of(events)
    if view is None:
        raise ValueError(
            "fold needs at least one event, a lifecycle one (object events make no frame)"
        )
    return view


def view_of(events: Iterable[tuple[int, Envelope]]) -> FrameView | None:
    """`fold`, or None when there is no lifecycle event: object events alone make no frame."""
    ordered = sorted(events, key=lambda pair: (pair[1].occurred_at, pair[0]))
    first = next((pair for pair in ordered if not pair[1].is_object_event), None)
    if first is None:
        # Still refuse another frame's events, as FrameView would.
        if len({envelope.frame_id for _, envelope in ordered}) > 1:
            raise ValueError("events of more than one frame given to fold")
        return None
    view = FrameView.start(*first)
    for position, envelope in ordered:
        view.apply(position, envelope)  # `first` again is a duplicate id, ignored
    return view
