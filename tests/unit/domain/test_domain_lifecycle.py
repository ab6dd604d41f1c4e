from __future__ import annotations

import pytest

from detektor.domain.events import FRAME_EVENT_TYPES, OBJECT_EVENT_TYPES, EventType
from detektor.domain.lifecycle import (
    STATE_AFTER,
    TERMINAL,
    TRANSITIONS,
    FrameState,
    Transition,
    apply,
    can_transition,
    is_terminal,
)

S = FrameState
E = EventType

EVENT_FOR = {state: event for event, state in STATE_AFTER.items()}

LEGAL = [(state, target) for state, targets in TRANSITIONS.items() for target in targets]
ILLEGAL = [
    (state, target)
    for state in FrameState
    if state not in TERMINAL
    for target in FrameState
    if target not in TRANSITIONS[state]
]


def run(*events: EventType) -> tuple[FrameState, list[str]]:
    state: FrameState | None = None
    anomalies: list[str] = []
    for event in events:
        transition = apply(state, event)
        state = transition.new_state
        if transition.anomaly is not None:
            anomalies.append(transition.anomaly)
    assert state is not None
    return state, anomalies


def test_states_terminals_and_event_mapping() -> None:
    assert [s.value for s in FrameState] == [
        "captured",
        "skipped",
        "queued",
        "processing",
        "processed",
        "published",
        "completed",
        "dropped",
        "failed",
    ]
    assert {S.SKIPPED, S.COMPLETED, S.DROPPED, S.FAILED} == TERMINAL
    assert all(f"frame.{state.value}" == event.value for event, state in STATE_AFTER.items())
    assert set(TRANSITIONS) == set(FrameState)
    assert all(not TRANSITIONS[state] for state in TERMINAL)


def test_the_transition_table_is_exactly_the_designed_one() -> None:
    assert dict(TRANSITIONS) == {
        S.CAPTURED: {S.SKIPPED, S.QUEUED, S.DROPPED, S.FAILED},
        S.QUEUED: {S.PROCESSING, S.DROPPED, S.FAILED},
        S.PROCESSING: {S.PROCESSING, S.PROCESSED, S.FAILED, S.DROPPED},
        S.PROCESSED: {S.PROCESSING, S.PUBLISHED, S.COMPLETED, S.DROPPED, S.FAILED},
        S.PUBLISHED: {S.PUBLISHED, S.COMPLETED, S.FAILED, S.DROPPED},
        S.SKIPPED: set(),
        S.COMPLETED: set(),
        S.DROPPED: set(),
        S.FAILED: set(),
    }


def test_the_happy_path_has_no_anomalies() -> None:
    assert run(E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PUBLISHED, E.COMPLETED) == (
        S.COMPLETED,
        [],
    )


def test_two_processors_and_two_targets_are_legal() -> None:
    events = (E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PROCESSING, E.PROCESSED)
    assert run(*events, E.PUBLISHED, E.PUBLISHED, E.COMPLETED) == (S.COMPLETED, [])


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ((E.CAPTURED, E.SKIPPED), S.SKIPPED),
        ((E.CAPTURED, E.DROPPED), S.DROPPED),
        ((E.CAPTURED, E.QUEUED, E.DROPPED), S.DROPPED),
        ((E.CAPTURED, E.QUEUED, E.PROCESSING, E.FAILED), S.FAILED),
        ((E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.COMPLETED), S.COMPLETED),
    ],
)
def test_short_legal_paths(events: tuple[EventType, ...], final: FrameState) -> None:
    assert run(*events) == (final, [])


def test_the_first_event_starts_the_frame() -> None:
    assert apply(None, E.CAPTURED) == Transition(S.CAPTURED, None)


@pytest.mark.parametrize("event", [e for e in FRAME_EVENT_TYPES if e is not E.CAPTURED])
def test_a_first_event_other_than_captured_is_an_anomaly_but_applied(event: EventType) -> None:
    transition = apply(None, event)
    assert transition.new_state is STATE_AFTER[event]
    assert transition.anomaly is not None
    assert event.value in transition.anomaly
    assert "frame.captured was not seen" in transition.anomaly


@pytest.mark.parametrize(("state", "target"), LEGAL)
def test_every_legal_transition(state: FrameState, target: FrameState) -> None:
    assert can_transition(state, target)
    assert apply(state, EVENT_FOR[target]) == Transition(target, None)


@pytest.mark.parametrize(("state", "target"), ILLEGAL)
def test_illegal_transitions_move_on_and_say_why(state: FrameState, target: FrameState) -> None:
    assert not can_transition(state, target)
    transition = apply(state, EVENT_FOR[target])
    assert transition.new_state is target
    assert transition.anomaly is not None
    assert f"illegal transition {state.value} -> {target.value}" in transition.anomaly


def test_illegal_transition_lists_what_was_allowed() -> None:
    transition = apply(S.CAPTURED, E.PROCESSED)
    assert transition.anomaly == (
        "illegal transition captured -> processed (frame.processed); "
        "from captured only dropped, failed, queued, skipped may follow"
    )


def test_a_skipped_stage_is_flagged_once_and_the_rest_is_normal() -> None:
    state, anomalies = run(E.CAPTURED, E.PROCESSING, E.PROCESSED, E.COMPLETED)
    assert state is S.COMPLETED
    assert len(anomalies) == 1
    assert "captured -> processing" in anomalies[0]


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("event", FRAME_EVENT_TYPES)
def test_events_after_a_terminal_state_keep_it(terminal: FrameState, event: EventType) -> None:
    transition = apply(terminal, event)
    assert transition.new_state is terminal
    assert transition.anomaly == f"{event.value} after terminal state {terminal.value}; state kept"


def test_is_terminal() -> None:
    assert [s for s in FrameState if is_terminal(s)] == [
        S.SKIPPED,
        S.COMPLETED,
        S.DROPPED,
        S.FAILED,
    ]
    assert not is_terminal(None)


@pytest.mark.parametrize("event", sorted(OBJECT_EVENT_TYPES))
@pytest.mark.parametrize("state", [None, *FrameState])
def test_object_events_are_not_lifecycle_events(state: FrameState | None, event: EventType) -> None:
    # Callers route object events beside the state machine; reaching it is a bug, not data.
    assert event not in STATE_AFTER
    with pytest.raises(ValueError, match="not a frame lifecycle event"):
        apply(state, event)
