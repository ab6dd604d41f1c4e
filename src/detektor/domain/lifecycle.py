"""The frame state machine: states, legal transitions, and how an event moves a frame.

`apply` never raises for a lifecycle event. Lifecycle producers observe rather than decide,
so a contradiction is recorded as an anomaly beside the event and the consumer carries on.
Object events (`object.*`) are not lifecycle events: they never reach the state machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from detektor.domain.events import FRAME_EVENT_TYPES, EventType


class FrameState(StrEnum):
    CAPTURED = "captured"
    SKIPPED = "skipped"
    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    PUBLISHED = "published"
    COMPLETED = "completed"
    DROPPED = "dropped"
    FAILED = "failed"


TERMINAL: frozenset[FrameState] = frozenset(
    {FrameState.SKIPPED, FrameState.COMPLETED, FrameState.DROPPED, FrameState.FAILED}
)

# The state each event type leads to; the names match by construction (frame.X -> X).
STATE_AFTER: Mapping[EventType, FrameState] = {
    t: FrameState(t.value[6:]) for t in FRAME_EVENT_TYPES
}

_S = FrameState
TRANSITIONS: Mapping[FrameState, frozenset[FrameState]] = {
    _S.CAPTURED: frozenset({_S.SKIPPED, _S.QUEUED, _S.DROPPED, _S.FAILED}),
    _S.QUEUED: frozenset({_S.PROCESSING, _S.DROPPED, _S.FAILED}),
    # processing -> processing: a consumer died mid-batch and another reclaimed the frame.
    _S.PROCESSING: frozenset({_S.PROCESSING, _S.PROCESSED, _S.FAILED, _S.DROPPED}),
    # processed -> processing: a second processor (another model) picks the frame up.
    _S.PROCESSED: frozenset({_S.PROCESSING, _S.PUBLISHED, _S.COMPLETED, _S.DROPPED, _S.FAILED}),
    # published -> published: one frame may be sent to several targets.
    _S.PUBLISHED: frozenset({_S.PUBLISHED, _S.COMPLETED, _S.FAILED, _S.DROPPED}),
    _S.SKIPPED: frozenset(),
    _S.COMPLETED: frozenset(),
    _S.DROPPED: frozenset(),
    _S.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of applying one event: the new state, and why it was wrong if it was."""

    new_state: FrameState
    anomaly: str | None = None


def is_terminal(state: FrameState | None) -> bool:
    return state is not None and state in TERMINAL


def can_transition(state: FrameState, target: FrameState) -> bool:
    return target in TRANSITIONS[state]


def apply(state: FrameState | None, event_type: EventType) -> Transition:
    """Move a frame in `state` (None before its first event) by one event of `event_type`.

    Anomalies keep a best-effort state:
    - after a terminal state, the frame stays terminal: its outcome has been counted and a late
      event must not pull it back into flight (accounting would count it twice);
    - any other illegal move still goes to the event's state, because the event did happen and
      the timeline should show where the frame really is (a missed `frame.queued` should not
      leave a frame that is being processed looking "captured");
    - a first event other than `frame.captured` (its capture event lost or not yet arrived)
      likewise starts the frame in that event's state.
    """
    target = STATE_AFTER.get(event_type)
    if target is None:
        raise ValueError(f"{event_type.value} is not a frame lifecycle event; it moves no frame")
    if state is None:
        if event_type is EventType.CAPTURED:
            return Transition(target)
        return Transition(
            target, f"first event is {event_type.value}; frame.captured was not seen before it"
        )
    if state in TERMINAL:
        return Transition(
            state, f"{event_type.value} after terminal state {state.value}; state kept"
        )
    if target in TRANSITIONS[state]:
        return Transition(target)
    allowed = ", ".join(sorted(t.value for t in TRANSITIONS[state]))
    return Transition(
        target,
        f"illegal transition {state.value} -> {target.value} ({event_type.value}); "
        f"from {state.value} only {allowed} may follow",
    )
