"""The EventStore contract, part: appends, idempotency, optimistic concurrency and checkpoints.

Every adapter (memory, SQLite, PostgreSQL) must pass it; the in-memory store is the reference.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import pytest

from detektor.domain.events import Envelope
from detektor.domain.lifecycle import FrameState
from detektor.ports import AppendResult, Checkpoint, EventStore

from .builders import (
    APPENDED,
    CONFLICT,
    DUPLICATE,
    MINUTE,
    T0,
    TRACE,
    E,
    all_rows,
    event,
    frame,
    increasing,
    lifecycle,
    ms,
    positions,
    whole_log,
)

# --- append -------------------------------------------------------------------------------


def test_append_answers_each_event_in_input_order_with_increasing_positions(
    store: EventStore,
) -> None:
    a, b = frame(1), frame(2, camera="back-yard")
    events = [
        event(E.CAPTURED, a, 0, trace_id=TRACE),
        event(E.CAPTURED, b, 1),
        event(E.QUEUED, a, 2),
        event(E.QUEUED, b, 3),
    ]
    results = store.append(events)
    assert [r.event_id for r in results] == [e.event_id for e in events]
    assert [r.status for r in results] == [APPENDED] * 4
    assert [r.anomaly for r in results] == [None] * 4
    assert increasing(positions(results))
    more = store.append(lifecycle(frame(3), [E.CAPTURED]))
    assert positions(more)[0] > positions(results)[-1]
    # The log hands back exactly what was appended, in position order.
    log = whole_log(store)
    assert [p for p, _ in log] == [*positions(results), *positions(more)]
    assert [e for _, e in log][:4] == events


def test_an_empty_batch_is_a_no_op(store: EventStore) -> None:
    assert store.append([]) == []
    assert whole_log(store) == []


def test_a_duplicate_in_a_later_batch_is_reported_with_its_stored_position(
    store: EventStore,
) -> None:
    f = frame()
    first, second, third = lifecycle(f, [E.CAPTURED, E.QUEUED, E.PROCESSING])
    stored = store.append([first, second])
    again = store.append([first, third])
    assert again[0] == AppendResult(first.event_id, DUPLICATE, position=stored[0].position)
    assert again[1].status is APPENDED
    assert [e.event_id for _, e in whole_log(store)] == [e.event_id for e in (first, second, third)]
    assert store.version(f) == 3


def test_a_duplicate_within_one_batch_is_stored_once(store: EventStore) -> None:
    f = frame()
    captured, queued = lifecycle(f, [E.CAPTURED, E.QUEUED])
    results = store.append([captured, captured, queued])
    assert [r.status for r in results] == [APPENDED, DUPLICATE, APPENDED]
    assert results[1].position == results[0].position
    assert len(whole_log(store)) == 2
    assert store.version(f) == 2


def test_a_resent_event_with_other_content_is_still_a_duplicate(store: EventStore) -> None:
    f = frame()
    captured = event(E.CAPTURED, f)
    store.append([captured])
    changed = replace(captured, occurred_at=captured.occurred_at + MINUTE)
    assert store.append([changed])[0].status is DUPLICATE
    assert [e for _, e in whole_log(store)] == [captured]


def test_matching_expected_versions_append(store: EventStore) -> None:
    f = frame()
    store.append(lifecycle(f, [E.CAPTURED, E.QUEUED]))
    assert store.version(f) == 2
    decided = lifecycle(f, [E.PROCESSING, E.PROCESSED], start_ms=10)
    results = store.append(decided, expected_versions={f: 2})
    assert [r.status for r in results] == [APPENDED, APPENDED]
    assert store.version(f) == 4


def test_expected_version_applies_to_the_frame_before_the_batch(store: EventStore) -> None:
    f = frame()
    results = store.append(
        lifecycle(f, [E.CAPTURED, E.QUEUED, E.PROCESSING]), expected_versions={f: 0}
    )
    assert [r.status for r in results] == [APPENDED] * 3
    assert store.version(f) == 3


def test_a_version_mismatch_conflicts_that_frame_only(store: EventStore) -> None:
    stale, other = frame(1), frame(2)
    store.append(lifecycle(stale, [E.CAPTURED, E.QUEUED, E.PROCESSING]))
    batch = [
        event(E.PROCESSED, stale, 10),
        event(E.CAPTURED, other, 11),
        event(E.PUBLISHED, stale, 12),
        event(E.QUEUED, other, 13),
    ]
    results = store.append(batch, expected_versions={stale: 2, other: 0})
    assert [r.status for r in results] == [CONFLICT, APPENDED, CONFLICT, APPENDED]
    for conflicted in (results[0], results[2]):
        assert conflicted.position is None
        assert conflicted.reason is not None
        assert str(stale) in conflicted.reason
        assert "expected version 2" in conflicted.reason
        assert "found 3" in conflicted.reason
    assert store.version(stale) == 3
    assert store.version(other) == 2
    stored = {e.event_id for _, e in whole_log(store)}
    assert batch[0].event_id not in stored
    assert batch[2].event_id not in stored
    view = store.frame(stale)
    assert view is not None
    assert view.state is FrameState.PROCESSING


def test_no_expected_version_always_appends(store: EventStore) -> None:
    """The observer path: producers report what happened without reading state first."""
    f, g = frame(1), frame(2)
    store.append(lifecycle(f, [E.CAPTURED, E.QUEUED]))
    results = store.append([event(E.PROCESSING, f, 5)])
    assert results[0].status is APPENDED
    # A frame missing from expected_versions is not checked either.
    results = store.append(
        [event(E.PROCESSED, f, 6), event(E.CAPTURED, g)], expected_versions={g: 0}
    )
    assert [r.status for r in results] == [APPENDED, APPENDED]
    assert store.version(f) == 4


def test_a_duplicate_is_reported_before_any_version_check(store: EventStore) -> None:
    """A writer retrying a batch that did commit learns it was stored, not that it conflicts."""
    f = frame()
    batch = lifecycle(f, [E.CAPTURED, E.QUEUED])
    first = store.append(batch, expected_versions={f: 0})
    retry = store.append(batch, expected_versions={f: 0})
    assert [r.status for r in retry] == [DUPLICATE, DUPLICATE]
    assert positions(retry) == positions(first)


def test_version_of_an_unknown_frame_is_zero(store: EventStore) -> None:
    assert store.version(frame(99)) == 0


def test_a_batch_of_a_thousand_events_in_one_call(store: EventStore) -> None:
    frames = [frame(seq, camera="bulk", at_ms=seq) for seq in range(200)]
    types = [E.CAPTURED, E.QUEUED, E.PROCESSING, E.PROCESSED, E.PUBLISHED]
    batch = [e for f in frames for e in lifecycle(f, types)]
    assert len(batch) == 1000
    results = store.append(batch)
    assert [r.status for r in results] == [APPENDED] * 1000
    assert increasing(positions(results))
    assert [p for p, _ in whole_log(store)] == positions(results)
    acc = store.accounting("bulk", T0 + ms(1000), MINUTE)
    assert (acc.captured, acc.in_flight, acc.balanced) == (200, 200, True)


# --- checkpoints and atomicity ------------------------------------------------------------


def test_a_checkpoint_is_stored_with_the_batch(store: EventStore) -> None:
    f = frame()
    assert store.checkpoint("bus") is None
    store.append([event(E.CAPTURED, f)], checkpoint=Checkpoint("bus", "1-0"))
    assert store.checkpoint("bus") == "1-0"
    store.append([event(E.QUEUED, f, 1)], checkpoint=Checkpoint("bus", "2-0"))
    assert store.checkpoint("bus") == "2-0"
    assert store.checkpoint("other") is None
    # A redelivered batch holds only duplicates; its checkpoint still moves on.
    redelivered = whole_log(store)[0][1]
    results = store.append([redelivered], checkpoint=Checkpoint("bus", "3-0"))
    assert results[0].status is DUPLICATE
    assert store.checkpoint("bus") == "3-0"


def test_a_stream_id_checkpoint_compares_as_numbers_and_never_moves_back(
    store: EventStore,
) -> None:
    f = frame()
    store.append([event(E.CAPTURED, f)], checkpoint=Checkpoint("bus", "1-9"))
    store.append([event(E.QUEUED, f, 1)], checkpoint=Checkpoint("bus", "1-10"))
    assert store.checkpoint("bus") == "1-10"  # as text, "1-9" > "1-10"
    store.append([event(E.PROCESSING, f, 2)], checkpoint=Checkpoint("bus", "9-0"))
    store.append([event(E.PROCESSED, f, 3)], checkpoint=Checkpoint("bus", "10-0"))
    assert store.checkpoint("bus") == "10-0"
    # An older entry reclaimed from a dead consumer commits after newer ones: its events are
    # stored, but the checkpoint keeps the furthest position.
    results = store.append([event(E.PUBLISHED, f, 4)], checkpoint=Checkpoint("bus", "9-5"))
    assert results[0].status is APPENDED
    assert store.checkpoint("bus") == "10-0"
    store.append([], checkpoint=Checkpoint("bus", "10-1"))
    assert store.checkpoint("bus") == "10-1"
    # Positions that are not stream ids are the caller's business: the last one wins.
    store.append([], checkpoint=Checkpoint("file", "b"))
    store.append([], checkpoint=Checkpoint("file", "a"))
    assert store.checkpoint("file") == "a"


def test_a_failed_batch_stores_nothing_and_keeps_the_checkpoint(store: EventStore) -> None:
    f = frame()
    store.append([event(E.CAPTURED, f)], checkpoint=Checkpoint("bus", "1-0"))
    good = event(E.QUEUED, f, 1)
    not_an_event = cast(Envelope, "frame.processing")
    with pytest.raises(TypeError, match="Envelope"):
        store.append([good, not_an_event], checkpoint=Checkpoint("bus", "2-0"))
    assert store.checkpoint("bus") == "1-0"
    assert store.version(f) == 1
    assert len(whole_log(store)) == 1
    (row,) = all_rows(store)
    assert (row.state, row.version) == (FrameState.CAPTURED, 1)
    # The store is still usable, and the event goes in once it is sent alone.
    assert store.append([good])[0].status is APPENDED
