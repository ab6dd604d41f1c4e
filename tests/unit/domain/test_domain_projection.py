from __future__ import annotations

from datetime import timedelta

import pytest

from detektor.domain.events import Envelope, EventType
from detektor.domain.lifecycle import FrameState
from detektor.domain.projection import FrameRow, advance, row_from_view, sorts_after
from detektor.domain.timeline import fold

from .builders import FRAME, T0, make_event

E = EventType
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"

LEGAL = {
    "completed": [E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PUBLISHED, E.COMPLETED],
    "two processors": [
        E.CAPTURED,
        E.QUEUED,
        E.PROCESSING,
        E.PROCESSED,
        E.PROCESSING,
        E.PROCESSED,
        E.PUBLISHED,
        E.PUBLISHED,
        E.COMPLETED,
    ],
    "skipped": [E.CAPTURED, E.SKIPPED],
    "dropped": [E.CAPTURED, E.QUEUED, E.DROPPED],
    "failed": [E.CAPTURED, E.QUEUED, E.PROCESSING, E.FAILED],
    "in flight": [E.CAPTURED, E.QUEUED],
}


def events_of(types: list[EventType]) -> list[Envelope]:
    # A trace id from the second event on: the row keeps the first non-null one.
    return [
        make_event(t, at_ms=i * 5, trace_id=None if i == 0 else (TRACE, OTHER_TRACE)[i % 2])
        for i, t in enumerate(types)
    ]


def advance_all(events: list[Envelope]) -> tuple[FrameRow, list[str | None]]:
    row: FrameRow | None = None
    anomalies: list[str | None] = []
    for position, envelope in enumerate(events, start=1):
        if row is not None:
            assert sorts_after(row, position, envelope)
        step = advance(row, position, envelope)
        row = step.row
        anomalies.append(step.anomaly)
    assert row is not None
    return row, anomalies


@pytest.mark.parametrize("name", list(LEGAL))
def test_advancing_equals_folding_at_every_step(name: str) -> None:
    events = events_of(LEGAL[name])
    for n in range(1, len(events) + 1):
        row, anomalies = advance_all(events[:n])
        assert row == row_from_view(fold(enumerate(events[:n], start=1)))
        assert anomalies == [None] * n
        assert row.version == n
        assert row.last_position == n
        assert row.anomalies == 0


def test_a_finished_row_records_its_outcome() -> None:
    events = events_of([E.CAPTURED, E.QUEUED, E.DROPPED])
    row, _ = advance_all(events)
    assert row.frame_id == FRAME
    assert row.camera == "front-door"
    assert row.state is FrameState.DROPPED
    assert row.reason == "bus_full"
    assert row.terminal_at == events[-1].occurred_at
    assert row.last_event_at == events[-1].occurred_at
    assert row.has_captured
    assert row.captured_at == events[0].occurred_at
    assert row.trace_id == OTHER_TRACE  # the first non-null, from the second event


def test_an_in_flight_row_has_no_outcome() -> None:
    row, _ = advance_all(events_of([E.CAPTURED, E.QUEUED, E.PROCESSING]))
    assert row.state is FrameState.PROCESSING
    assert (row.reason, row.terminal_at) == (None, None)


def test_anomalies_are_counted_and_returned() -> None:
    events = [
        make_event(E.CAPTURED, 0),
        make_event(E.COMPLETED, 5),  # skips the pipeline: illegal
        make_event(E.DROPPED, 10, {"reason": "stale"}),  # after a terminal state
        make_event(E.QUEUED, 15),  # and again
    ]
    row, anomalies = advance_all(events)
    assert anomalies[0] is None
    assert all(isinstance(a, str) and a for a in anomalies[1:])
    assert "illegal transition captured -> completed" in str(anomalies[1])
    assert "after terminal state completed" in str(anomalies[2])
    assert row.anomalies == 3
    # The first terminal event decides the outcome; later ones change nothing.
    assert (row.state, row.reason, row.terminal_at) == (FrameState.COMPLETED, None, T0 + _ms(5))
    assert row == row_from_view(fold(enumerate(events, start=1)))


def test_a_frame_first_seen_without_its_capture_is_an_anomaly() -> None:
    step = advance(None, 7, make_event(E.QUEUED, 30))
    assert step.anomaly is not None
    assert "frame.captured was not seen" in step.anomaly
    row = step.row
    assert (row.state, row.has_captured, row.anomalies) == (FrameState.QUEUED, False, 1)
    assert row.captured_at == FRAME.captured_at  # the id's capture time, until the event
    assert (row.version, row.last_position) == (1, 7)


def test_the_captured_event_sets_captured_at_once() -> None:
    events = [make_event(E.CAPTURED, 3), make_event(E.CAPTURED, 4)]
    row, anomalies = advance_all(events)
    assert row.captured_at == T0 + _ms(3)
    assert anomalies[1] is not None  # captured -> captured is not a legal move


def test_sorts_after_orders_by_time_then_position() -> None:
    row = advance(None, 10, make_event(E.CAPTURED, 100)).row
    assert sorts_after(row, 5, make_event(E.QUEUED, 101))  # later wins over a lower position
    assert not sorts_after(row, 50, make_event(E.QUEUED, 99))  # earlier loses to a higher one
    assert sorts_after(row, 11, make_event(E.QUEUED, 100))  # a tie goes by position
    assert not sorts_after(row, 9, make_event(E.QUEUED, 100))
    assert not sorts_after(row, 10, make_event(E.QUEUED, 100))


def test_to_dict_is_json_ready() -> None:
    row, _ = advance_all(events_of([E.CAPTURED, E.SKIPPED]))
    assert row.to_dict() == {
        "frame_id": str(FRAME),
        "camera": "front-door",
        "state": "skipped",
        "reason": "no_motion",
        "captured_at": "2025-11-27T14:03:07.123000Z",
        "last_event_at": "2025-11-27T14:03:07.128000Z",
        "terminal_at": "2025-11-27T14:03:07.128000Z",
        "trace_id": OTHER_TRACE,
        "events": 2,
        "anomalies": 0,
    }


def _ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)
