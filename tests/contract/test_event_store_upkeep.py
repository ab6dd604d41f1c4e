"""The EventStore contract, part: accounting, the global log, replay rows, retention, schema.

Every adapter (memory, SQLite, PostgreSQL) must pass it; the in-memory store is the reference.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from detektor.domain.accounting import Accounting, FrameSummary, account
from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.ports import EventStore

from .builders import (
    COMPLETE,
    MINUTE,
    T0,
    E,
    all_rows,
    event,
    folded_row,
    frame,
    increasing,
    lifecycle,
    ms,
    positions,
    reference_accounting,
    whole_log,
)

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
