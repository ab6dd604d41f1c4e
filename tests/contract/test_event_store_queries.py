"""The EventStore contract, part: timelines, ordering, anomalies and frame lists.

Every adapter (memory, SQLite, PostgreSQL) must pass it; the in-memory store is the reference.
"""

from __future__ import annotations

import math
import random

import pytest

from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.projection import row_from_view
from detektor.ports import EventStore, FrameQuery

from .builders import (
    APPENDED,
    COMPLETE,
    T0,
    E,
    all_rows,
    event,
    folded_row,
    frame,
    lifecycle,
    ms,
    positions,
    reference_accounting,
)

# --- timelines, ordering and anomalies ----------------------------------------------------


def test_frame_folds_events_in_time_order_whatever_the_arrival_order(store: EventStore) -> None:
    f = frame()
    events = lifecycle(f, COMPLETE, step_ms=5)
    arrival = [events[i] for i in (2, 0, 5, 1, 4, 3)]
    results = [store.append([e])[0] for e in arrival]
    assert all(r.status is APPENDED for r in results)
    assert results[-1].anomaly is None  # the last piece completes a legal timeline
    view = store.frame(f)
    assert view is not None
    assert view.envelopes == events
    assert view.state is FrameState.COMPLETED
    assert view.anomalies == []  # arriving out of order is not an anomaly
    assert sorted(p for p, _ in view.events) == sorted(positions(results))
    assert all_rows(store) == [row_from_view(view)]
    assert all_rows(store)[0].anomalies == 0


def test_events_at_the_same_instant_are_ordered_by_position(store: EventStore) -> None:
    f = frame()
    same = [event(t, f, 0) for t in (E.CAPTURED, E.QUEUED, E.PROCESSING)]
    store.append(same)
    view = store.frame(f)
    assert view is not None
    assert view.envelopes == same
    assert view.anomalies == []


def test_an_illegal_transition_is_stored_and_flagged(store: EventStore) -> None:
    f = frame()
    store.append([event(E.CAPTURED, f, 0)])
    skipped_ahead = store.append([event(E.COMPLETED, f, 1)])[0]
    assert skipped_ahead.status is APPENDED
    assert skipped_ahead.anomaly is not None
    assert "captured" in skipped_ahead.anomaly
    after_terminal = store.append([event(E.QUEUED, f, 2)])[0]
    assert after_terminal.status is APPENDED
    assert after_terminal.anomaly is not None
    view = store.frame(f)
    assert view is not None
    assert len(view.envelopes) == 3
    assert len(view.anomalies) == 2
    assert view.state is FrameState.COMPLETED  # a terminal state is kept
    assert all_rows(store)[0].anomalies == 2


def test_a_late_event_that_makes_a_later_one_illegal_reports_the_anomaly(
    store: EventStore,
) -> None:
    f = frame()
    store.append([event(E.CAPTURED, f, 0), event(E.COMPLETED, f, 10)])  # captured -> completed
    late = store.append([event(E.DROPPED, f, 5)])[0]  # ...dropped in between: now terminal first
    assert late.status is APPENDED
    assert late.anomaly is not None
    view = store.frame(f)
    assert view is not None
    assert view.state is FrameState.DROPPED
    assert len(view.anomalies) == 1
    assert all_rows(store) == [row_from_view(view)]


def test_frame_of_an_unknown_id_is_none(store: EventStore) -> None:
    assert store.frame(frame(7)) is None


def test_rows_always_equal_the_fold_of_their_events(store: EventStore) -> None:
    """Random frames, some illegal, arriving shuffled in random batches, with ties in time."""
    rng = random.Random(20251127)
    shapes = [
        COMPLETE,
        (E.CAPTURED, E.SKIPPED),
        (E.CAPTURED, E.QUEUED, E.DROPPED),
        (E.CAPTURED, E.QUEUED, E.PROCESSING, E.FAILED),
        (E.CAPTURED, E.QUEUED, E.PROCESSING),
        (E.CAPTURED, E.COMPLETED, E.QUEUED),
        (E.QUEUED, E.PROCESSING),
    ]
    events = []
    for seq in range(40):
        f = frame(seq, camera=rng.choice(["north", "south"]), at_ms=seq * 10)
        at = seq * 10.0
        for t in rng.choice(shapes):
            at += rng.choice([0, 0.5, 2])  # a step of 0 makes a tie, ordered by position
            events.append(event(t, f, at, reason="no_motion" if t is E.SKIPPED else None))
    rng.shuffle(events)
    while events:
        size = rng.randint(1, 20)
        batch, events = events[:size], events[size:]
        assert all(r.status is APPENDED for r in store.append(batch))
    rows = all_rows(store)
    assert len(rows) == 40
    for row in rows:
        assert row == folded_row(store, row.frame_id)
    now = T0 + ms(500)
    for camera in store.cameras():
        assert store.accounting(camera, now, ms(100)) == reference_accounting(
            store, camera, now, ms(100)
        )


# --- frame lists --------------------------------------------------------------------------


def list_ids(store: EventStore, **query: object) -> list[FrameId]:
    page = store.frames(FrameQuery(limit=1000, **query))  # type: ignore[arg-type]
    assert page.next_cursor is None
    return [row.frame_id for row in page.frames]


def test_frames_filter_by_camera_state_and_time_newest_first(store: EventStore) -> None:
    a1, a2, a3 = (frame(i, camera="alpha", at_ms=i * 1000) for i in (1, 2, 3))
    b1 = frame(4, camera="beta", at_ms=1500)
    store.append(lifecycle(a1))
    store.append(lifecycle(a2, [E.CAPTURED, E.QUEUED]))
    store.append(lifecycle(a3, [E.CAPTURED, E.SKIPPED], reason="masked"))
    store.append(lifecycle(b1, [E.CAPTURED, E.QUEUED]))
    assert list_ids(store) == [a3, a2, b1, a1]
    assert list_ids(store, camera="alpha") == [a3, a2, a1]
    assert list_ids(store, camera="gamma") == []
    assert list_ids(store, state=FrameState.QUEUED) == [a2, b1]
    assert list_ids(store, camera="beta", state=FrameState.QUEUED) == [b1]
    # since is inclusive, until exclusive.
    assert list_ids(store, since=T0 + ms(1500)) == [a3, a2, b1]
    assert list_ids(store, until=T0 + ms(2000)) == [b1, a1]
    assert list_ids(store, since=T0 + ms(1000), until=T0 + ms(3000)) == [a2, b1, a1]
    row = store.frames(FrameQuery(camera="alpha", limit=1)).frames[0]
    assert (row.frame_id, row.state, row.reason, row.captured_at) == (
        a3,
        FrameState.SKIPPED,
        "masked",
        T0 + ms(3000),
    )


def test_captured_at_comes_from_the_captured_event(store: EventStore) -> None:
    f = frame(1, at_ms=0)
    store.append([event(E.QUEUED, f, 50)])
    assert all_rows(store)[0].captured_at == f.captured_at  # the id's time until it arrives
    store.append([event(E.CAPTURED, f, 20)])
    assert all_rows(store)[0].captured_at == T0 + ms(20)
    assert list_ids(store, since=T0 + ms(20)) == [f]


def test_cursor_pages_visit_every_frame_once_even_with_equal_capture_times(
    store: EventStore,
) -> None:
    # 25 frames over 5 instants: ties on captured_at across seqs and cameras.
    frames = [frame(seq, camera=f"cam-{seq % 3}", at_ms=(seq % 5) * 100) for seq in range(25)]
    store.append([event(E.CAPTURED, f) for f in frames])
    everything = list_ids(store)
    # Newest first; equal capture times by frame id, descending.
    assert everything == sorted(frames, key=lambda f: (f.captured_ms, str(f)), reverse=True)
    seen: list[FrameId] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.frames(FrameQuery(limit=4, cursor=cursor))
        pages += 1
        assert 0 < len(page.frames) <= 4
        seen.extend(row.frame_id for row in page.frames)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == math.ceil(25 / 4)
    assert seen == everything


def test_cursor_pages_keep_the_filter(store: EventStore) -> None:
    frames = [frame(seq, camera=f"cam-{seq % 2}", at_ms=(seq % 3) * 100) for seq in range(12)]
    store.append([event(E.CAPTURED, f) for f in frames])
    first = store.frames(FrameQuery(camera="cam-1", limit=5))
    assert first.next_cursor is not None
    second = store.frames(FrameQuery(camera="cam-1", limit=5, cursor=first.next_cursor))
    assert second.next_cursor is None
    ids = [r.frame_id for r in [*first.frames, *second.frames]]
    assert ids == list_ids(store, camera="cam-1")
    assert len(ids) == 6


def test_a_full_last_page_has_no_next_cursor(store: EventStore) -> None:
    store.append([event(E.CAPTURED, frame(seq)) for seq in range(4)])
    page = store.frames(FrameQuery(limit=4))
    assert len(page.frames) == 4
    assert page.next_cursor is None


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_frames_limit_out_of_range_is_refused(store: EventStore, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.frames(FrameQuery(limit=limit))


def test_an_empty_cursor_means_the_first_page(store: EventStore) -> None:
    store.append([event(E.CAPTURED, frame(seq)) for seq in range(3)])
    assert store.frames(FrameQuery(limit=2, cursor="")) == store.frames(FrameQuery(limit=2))


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "WyJ4IiwgInkiXQ", "e30"])
def test_a_malformed_cursor_is_refused(store: EventStore, cursor: str) -> None:
    store.append([event(E.CAPTURED, frame())])
    with pytest.raises(ValueError, match="cursor"):
        store.frames(FrameQuery(cursor=cursor))


def test_naive_time_bounds_are_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="since"):
        store.frames(FrameQuery(since=T0.replace(tzinfo=None)))
