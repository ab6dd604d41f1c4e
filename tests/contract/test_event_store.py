"""The EventStore contract: every adapter (memory, SQLite, PostgreSQL) must pass all of it.

The in-memory store is the reference; anything asserted here is behaviour callers rely on.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast

import pytest

from detektor.domain.accounting import Accounting, FrameSummary, account
from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.projection import FrameRow, row_from_view
from detektor.ports import AppendResult, AppendStatus, Checkpoint, EventStore, FrameQuery

from .builders import COMPLETE, T0, TRACE, E, event, frame, lifecycle, ms

APPENDED, DUPLICATE, CONFLICT = AppendStatus.APPENDED, AppendStatus.DUPLICATE, AppendStatus.CONFLICT
MINUTE = timedelta(minutes=1)


def positions(results: list[AppendResult]) -> list[int]:
    found = [r.position for r in results]
    assert None not in found
    return cast(list[int], found)


def increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def whole_log(store: EventStore) -> list[tuple[int, Envelope]]:
    return store.read_log(0, 100_000)


def all_rows(store: EventStore) -> list[FrameRow]:
    return store.frame_rows(None, 100_000)


def folded_row(store: EventStore, frame_id: FrameId) -> FrameRow:
    view = store.frame(frame_id)
    assert view is not None, f"no events stored for {frame_id}"
    return row_from_view(view)


def reference_accounting(
    store: EventStore, camera: str, now: datetime, stale_after: timedelta
) -> Accounting:
    """What `domain.accounting.account` says over the folded timelines of the camera's frames."""
    views = [store.frame(row.frame_id) for row in all_rows(store) if row.camera == camera]
    return account(camera, [v.summary() for v in views if v is not None], now, stale_after)


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


# --- accounting ---------------------------------------------------------------------------


def build_accounting_scenario(store: EventStore) -> dict[str, FrameId]:
    """Eight captured frames of camera "acct", one of each outcome; "recent" is in flight with
    events ten minutes after the others, "stale" in flight since T0."""
    names = ["completed", "no_motion_1", "masked", "no_motion_2", "dropped", "failed", "stale"]
    frames = {name: frame(seq, camera="acct") for seq, name in enumerate(names)}
    frames["recent"] = frame(len(names), camera="acct", at_ms=600_000)
    store.append(lifecycle(frames["completed"]))
    store.append(lifecycle(frames["no_motion_1"], [E.CAPTURED, E.SKIPPED], reason="no_motion"))
    store.append(lifecycle(frames["masked"], [E.CAPTURED, E.SKIPPED], reason="masked"))
    store.append(lifecycle(frames["no_motion_2"], [E.CAPTURED, E.SKIPPED], reason="no_motion"))
    store.append(lifecycle(frames["dropped"], [E.CAPTURED, E.QUEUED, E.DROPPED], reason="bus_full"))
    store.append(lifecycle(frames["failed"], [E.CAPTURED, E.QUEUED, E.PROCESSING, E.FAILED]))
    store.append(lifecycle(frames["recent"], [E.CAPTURED, E.QUEUED]))
    store.append(lifecycle(frames["stale"], [E.CAPTURED, E.QUEUED, E.PROCESSING]))
    # Another camera's frames never count here.
    store.append(lifecycle(frame(1, camera="elsewhere")))
    return frames


def test_accounting_balances_every_outcome(store: EventStore) -> None:
    build_accounting_scenario(store)
    now = T0 + ms(601_000)
    acc = store.accounting("acct", now, MINUTE)
    assert acc == Accounting(
        camera="acct",
        captured=8,
        completed=1,
        skipped={"no_motion": 2, "masked": 1},
        dropped={"bus_full": 1},
        failed=1,
        in_flight=2,
        stale=1,
        orphans=0,
    )
    assert acc.balanced
    assert acc == reference_accounting(store, "acct", now, MINUTE)


def test_stale_means_more_than_the_timeout_since_the_last_event(store: EventStore) -> None:
    f = frame(camera="slow")
    store.append(lifecycle(f, [E.CAPTURED, E.QUEUED]))  # last event at T0 + 1 ms
    last = T0 + ms(1)
    assert store.accounting("slow", last + MINUTE, MINUTE).stale == 0
    assert store.accounting("slow", last + MINUTE + timedelta(microseconds=1), MINUTE).stale == 1


def test_an_orphan_unbalances_accounting(store: EventStore) -> None:
    build_accounting_scenario(store)
    store.append(lifecycle(frame(20, camera="acct"), [E.QUEUED, E.PROCESSING]))
    now = T0 + ms(601_000)
    acc = store.accounting("acct", now, MINUTE)
    assert (acc.orphans, acc.in_flight, acc.captured) == (1, 3, 8)
    assert not acc.balanced
    assert acc == reference_accounting(store, "acct", now, MINUTE)


def test_accounting_of_a_camera_without_frames_is_empty_and_balanced(store: EventStore) -> None:
    acc = store.accounting("nobody", T0, MINUTE)
    assert acc == Accounting(camera="nobody")
    assert acc.balanced


def test_accounting_refuses_bad_arguments(store: EventStore) -> None:
    with pytest.raises(ValidationError):
        store.accounting("Not A Camera", T0, MINUTE)
    with pytest.raises(ValueError, match="timezone"):
        store.accounting("acct", T0.replace(tzinfo=None), MINUTE)
    with pytest.raises(ValueError, match="negative"):
        store.accounting("acct", T0, -MINUTE)


def test_cameras_lists_each_camera_once_sorted(store: EventStore) -> None:
    assert store.cameras() == []
    for seq, camera in enumerate(["porch", "garage", "porch", "attic"]):
        store.append([event(E.CAPTURED, frame(seq, camera=camera))])
    assert store.cameras() == ["attic", "garage", "porch"]


# --- the global log -----------------------------------------------------------------------


def test_read_log_pages_through_everything_in_order(store: EventStore) -> None:
    appended = []
    for seq in range(5):
        appended.extend(store.append(lifecycle(frame(seq), COMPLETE[:5])))
    expected = positions(appended)
    seen: list[int] = []
    after = 0
    while batch := store.read_log(after, 7):
        assert len(batch) <= 7
        seen.extend(p for p, _ in batch)
        after = batch[-1][0]
    assert seen == expected
    assert store.read_log(expected[-1], 10) == []
    assert [p for p, _ in store.read_log(expected[9], 3)] == expected[10:13]
    with pytest.raises(ValueError, match="limit"):
        store.read_log(0, 0)


def test_read_log_never_skips_an_event_that_commits_late(store: EventStore) -> None:
    """Writers append concurrently while a reader follows the log by position."""
    writers, batches = 4, 15
    done = threading.Event()
    errors: list[BaseException] = []
    appended: set[uuid.UUID] = set()
    lock = threading.Lock()

    def write(worker: int) -> None:
        try:
            for b in range(batches):
                f = frame(b, camera=f"writer-{worker}")
                results = store.append(lifecycle(f, [E.CAPTURED, E.QUEUED, E.PROCESSING]))
                with lock:
                    appended.update(r.event_id for r in results)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    seen: list[tuple[int, uuid.UUID]] = []

    def read() -> None:
        try:
            after = 0
            while True:
                finished = done.is_set()  # read once more after the writers stopped
                batch = store.read_log(after, 25)
                seen.extend((p, e.event_id) for p, e in batch)
                if batch:
                    after = batch[-1][0]
                elif finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []
    assert increasing([p for p, _ in seen])
    assert len(seen) == writers * batches * 3
    assert {event_id for _, event_id in seen} == appended


# --- projection rows: replay's view -------------------------------------------------------


def test_frame_rows_page_in_frame_id_order(store: EventStore) -> None:
    ids = [
        frame(seq, camera=cam, at_ms=ms_)
        for seq, (cam, ms_) in enumerate(
            [("b-cam", 5), ("a-cam", 900), ("a-cam", 1000), ("b-cam", 0), ("a-cam", 5)]
        )
    ]
    for f in ids:
        store.append(lifecycle(f, [E.CAPTURED, E.QUEUED]))
    expected = sorted(ids, key=str)
    first = store.frame_rows(None, 3)
    rest = store.frame_rows(first[-1].frame_id, 3)
    assert [r.frame_id for r in [*first, *rest]] == expected
    assert store.frame_rows(expected[-1], 3) == []
    for row in [*first, *rest]:
        assert row == folded_row(store, row.frame_id)
        assert row.version == 2
        assert row.has_captured


def test_replacing_a_corrupted_row_restores_accounting(store: EventStore) -> None:
    frames = build_accounting_scenario(store)
    now = T0 + ms(601_000)
    good = store.accounting("acct", now, MINUTE)
    target = frames["recent"]
    (row,) = [r for r in all_rows(store) if r.frame_id == target]
    corrupted = replace(row, state=FrameState.DROPPED, reason="bus_full", has_captured=False)
    store.replace_rows([corrupted])
    assert [r for r in all_rows(store) if r.frame_id == target] == [corrupted]
    bad = store.accounting("acct", now, MINUTE)
    assert (bad.in_flight, bad.dropped, bad.orphans, bad.captured) == (1, {"bus_full": 2}, 1, 7)
    assert not bad.balanced
    store.replace_rows([folded_row(store, target)])
    assert store.accounting("acct", now, MINUTE) == good
    assert [r for r in all_rows(store) if r.frame_id == target] == [row]


# --- retention ----------------------------------------------------------------------------


def test_purge_deletes_old_events_and_finished_frames(store: EventStore) -> None:
    day = timedelta(days=1)
    old_done = frame(1, camera="purge")
    old_in_flight = frame(2, camera="purge")
    new_done = frame(3, camera="purge", at_ms=2 * 86_400_000)
    late_old = frame(4, camera="purge")  # old, but appended last: the highest positions
    store.append(lifecycle(old_done))
    store.append(lifecycle(old_in_flight, [E.CAPTURED, E.QUEUED]))
    new_events = lifecycle(new_done)
    store.append(new_events)
    last = store.append(lifecycle(late_old, [E.CAPTURED, E.SKIPPED]))
    highest = positions(last)[-1]

    assert store.purge(T0 + day, batch_size=3) == 6 + 2 + 2
    assert [e for _, e in whole_log(store)] == new_events
    assert store.frame(old_done) is None
    assert store.frame(late_old) is None
    view = store.frame(new_done)
    assert view is not None
    assert view.envelopes == new_events
    # An in-flight frame keeps its row (it still counts as in flight), not its old events.
    assert [r.frame_id for r in all_rows(store)] == sorted([old_in_flight, new_done], key=str)
    assert store.version(old_in_flight) == 2
    acc = store.accounting("purge", T0 + 3 * day, MINUTE)
    assert (acc.captured, acc.completed, acc.skipped, acc.in_flight, acc.stale) == (2, 1, {}, 1, 1)
    assert acc == reference_accounting_rows(store, "purge", T0 + 3 * day)
    assert store.cameras() == ["purge"]
    assert store.purge(T0 + day) == 0
    # Positions are never reused, even those of purged events.
    again = store.append([event(E.CAPTURED, frame(5, camera="purge"))])
    assert positions(again)[0] > highest


def reference_accounting_rows(store: EventStore, camera: str, now: datetime) -> Accounting:
    """`account` over the stored rows (the frames' events may be gone after a purge)."""
    summaries = [
        FrameSummary(r.state, r.reason, r.has_captured, r.last_event_at)
        for r in all_rows(store)
        if r.camera == camera
    ]
    return account(camera, summaries, now, MINUTE)


def test_purge_refuses_bad_arguments(store: EventStore) -> None:
    with pytest.raises(ValueError, match="older_than"):
        store.purge(T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="batch_size"):
        store.purge(T0, batch_size=0)


# --- schema -------------------------------------------------------------------------------


def test_migrate_again_is_a_no_op(store: EventStore) -> None:
    store.append([event(E.CAPTURED, frame())])
    assert store.migrate() == []
    assert store.migrate() == []
    assert len(whole_log(store)) == 1
