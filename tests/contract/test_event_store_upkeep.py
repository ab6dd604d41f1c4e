"""The EventStore contract, part: accounting, the global log, replay rows, retention, schema.

Every adapter (memory, SQLite, PostgreSQL) must pass it; the in-memory store is the reference.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from detektor.domain.accounting import Accounting
from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.ports import EventStore, FrameQuery

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
    assert acc.imbalance == 0
    assert not acc.balanced  # the stale frame: balanced only once nothing is stuck
    assert acc == reference_accounting(store, "acct", now, MINUTE)
    # Ten minutes earlier nothing is stale yet, and the same frames balance.
    early = store.accounting("acct", T0 + ms(10_000), timedelta(hours=1))
    assert (early.stale, early.balanced) == (0, True)


def test_every_frame_stuck_in_flight_is_not_balanced(store: EventStore) -> None:
    for seq in range(5):
        store.append(lifecycle(frame(seq, camera="stuck"), [E.CAPTURED, E.QUEUED]))
    fresh = store.accounting("stuck", T0 + ms(2), MINUTE)
    assert (fresh.in_flight, fresh.stale, fresh.imbalance, fresh.balanced) == (5, 0, 0, True)
    later = store.accounting("stuck", T0 + 2 * MINUTE, MINUTE)
    assert (later.in_flight, later.stale, later.imbalance) == (5, 5, 0)
    assert not later.balanced
    assert later.to_dict()["balanced"] is False


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


def test_purge_removes_whole_frames_whose_last_event_is_old(store: EventStore) -> None:
    day = timedelta(days=1)
    old_done = frame(1, camera="purge")
    old_in_flight = frame(2, camera="purge")  # stuck in flight since T0
    new_done = frame(3, camera="purge", at_ms=2 * 86_400_000)
    late_old = frame(4, camera="purge")  # old, but appended last: the highest positions
    straddling = frame(5, camera="purge")  # captured before the cutoff, finished after it
    store.append(lifecycle(old_done))
    store.append(lifecycle(old_in_flight, [E.CAPTURED, E.QUEUED]))
    new_events = lifecycle(new_done)
    store.append(new_events)
    straddling_events = [
        event(E.CAPTURED, straddling),
        event(E.SKIPPED, straddling, at_ms=86_400_000 + 5, reason="no_motion"),
    ]
    store.append(straddling_events)
    last = store.append(lifecycle(late_old, [E.CAPTURED, E.SKIPPED]))
    highest = positions(last)[-1]

    assert store.purge(T0 + day, batch_size=2) == 6 + 2 + 2
    # A frame goes with all its events or keeps them all: no row without its timeline.
    assert [e for _, e in whole_log(store)] == [*new_events, *straddling_events]
    for gone in (old_done, old_in_flight, late_old):
        assert store.frame(gone) is None
        assert store.version(gone) == 0
    kept = all_rows(store)
    assert [r.frame_id for r in kept] == sorted([new_done, straddling], key=str)
    listed = store.frames(FrameQuery(camera="purge")).frames
    assert {r.frame_id for r in listed} == {new_done, straddling}
    for row in kept:
        assert row == folded_row(store, row.frame_id)
    # Counts follow the rows: the purged frames leave captured and their outcomes together,
    # so the camera stays balanced, and the stuck frame no longer counts as stale.
    acc = store.accounting("purge", T0 + 3 * day, MINUTE)
    assert acc == Accounting(
        camera="purge", captured=2, completed=1, skipped={"no_motion": 1}, in_flight=0, stale=0
    )
    assert acc.balanced
    assert acc == reference_accounting(store, "purge", T0 + 3 * day, MINUTE)
    assert store.cameras() == ["purge"]
    assert store.purge(T0 + day) == 0
    # Positions are never reused, even those of purged events.
    again = store.append([event(E.CAPTURED, frame(6, camera="purge"))])
    assert positions(again)[0] > highest


def test_purging_every_frame_of_a_camera_removes_the_camera(store: EventStore) -> None:
    store.append(lifecycle(frame(1, camera="gone"), [E.CAPTURED, E.QUEUED, E.PROCESSING]))
    store.append(lifecycle(frame(2, camera="gone")))
    store.append(lifecycle(frame(1, camera="kept", at_ms=86_400_000)))
    assert store.purge(T0 + timedelta(hours=1)) == 3 + 6
    assert store.cameras() == ["kept"]
    assert store.accounting("gone", T0 + timedelta(days=2), MINUTE) == Accounting(camera="gone")
    assert [r.camera for r in all_rows(store)] == ["kept"]


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
