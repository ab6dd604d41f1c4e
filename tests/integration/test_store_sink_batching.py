"""Issue 16: lifecycle events reach SQLite in larger transactions, off the hot path.

The store sink lingers after the first event of a batch, so one transaction holds the events
of many frames: counted here as the store's appends (each one ``BEGIN IMMEDIATE`` ...
``COMMIT``) while frames arrive as the pipeline emits them. A clean close writes everything;
a ``detektor run`` killed with SIGKILL loses at most the last moments' events and leaves a
store whose rows agree with their events and whose accounting still balances.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detektor.adapters.event_sinks import STORE_LINGER_S, StoreEventSink
from detektor.adapters.sqlite import SqliteEventStore
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.pipeline.events import lifecycle_event
from detektor.ports import AppendResult
from detektor.services.tracking.replay import replay
from support.embedded_run import start_run, wait_for_frames
from support.services import free_port

FRAMES = 60


class CountingStore(SqliteEventStore):
    """The real SQLite store, counting its append transactions."""

    appends = 0

    def append(self, *args: Any, **kwargs: Any) -> list[AppendResult]:
        self.appends += 1
        return super().append(*args, **kwargs)


def frame_events(seq: int) -> list[list[Envelope]]:
    """One frame's events as the stages emit them: capture, processing, processed."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    fid = FrameId.make("cam", now_ms, seq)
    source = {"width": 640, "height": 480, "pts": seq, "source": "synthetic"}
    return [
        [
            lifecycle_event(EventType.CAPTURED, fid, source),
            lifecycle_event(EventType.QUEUED, fid, {"stream": "frames"}),
        ],
        [lifecycle_event(EventType.PROCESSING, fid, {"processor": "p", "batch_id": "b"})],
        [
            lifecycle_event(
                EventType.PROCESSED, fid, {"processor": "p", "duration_ms": 1.0, "detections": []}
            ),
            lifecycle_event(EventType.COMPLETED, fid),
        ],
    ]


def run_frames(store: CountingStore, linger_s: float) -> StoreEventSink:
    """Sixty frames at about 100 frames/s, each stage's events emitted on their own."""

    async def scenario() -> StoreEventSink:
        sink = StoreEventSink(store, linger_s=linger_s)
        for seq in range(1, FRAMES + 1):
            for emitted in frame_events(seq):
                await sink.emit(emitted)
            await asyncio.sleep(0.01)
        await sink.close()
        return sink

    return asyncio.run(scenario())


def test_events_are_written_in_few_transactions_and_all_stored_after_a_clean_close(
    tmp_path: Path,
) -> None:
    batched = CountingStore(str(tmp_path / "batched.db"))
    batched.migrate()
    sink = run_frames(batched, STORE_LINGER_S)
    # About 0.7 s of frames with a 0.25 s linger: a handful of transactions, not one a frame.
    assert batched.appends <= 6, batched.appends
    assert sink.writes == batched.appends
    assert sink.lost == 0
    assert len(batched.read_log(0, 10_000)) == FRAMES * 5
    acc = batched.accounting("cam", datetime.now(UTC), timedelta(minutes=5))
    assert (acc.captured, acc.completed, acc.in_flight, acc.balanced) == (FRAMES, FRAMES, 0, True)
    batched.close()

    # The same frames without lingering, as before issue 16: a transaction per emit or so.
    eager = CountingStore(str(tmp_path / "eager.db"))
    eager.migrate()
    run_frames(eager, 0.0)
    assert eager.appends >= 3 * batched.appends
    assert eager.appends >= FRAMES // 2
    eager.close()


def test_close_does_not_wait_for_the_linger(tmp_path: Path) -> None:
    store = CountingStore(str(tmp_path / "events.db"))
    store.migrate()

    async def scenario() -> float:
        sink = StoreEventSink(store, linger_s=30.0)
        for emitted in frame_events(1):
            await sink.emit(emitted)
        started = time.monotonic()
        await sink.close()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 5.0
    assert len(store.read_log(0, 100)) == 5
    assert store.appends == 1
    store.close()


def test_a_killed_run_loses_only_its_last_moments_and_leaves_a_consistent_store(
    tmp_path: Path,
) -> None:
    port = free_port()
    source = "synthetic://?fps=5&size=640x480"
    proc = start_run(
        tmp_path,
        port,
        *[arg for _ in range(4) for arg in ("--source", source)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        frames = wait_for_frames(port, 60)
        assert frames, "detektor run stored no frame"
        time.sleep(4)  # in full flow: frames in the bus, events in the sink's buffer
        killed_at = datetime.now(UTC)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    path = tmp_path / "detektor-data" / "detektor.db"
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = SqliteEventStore(str(path))
    try:
        log = store.read_log(0, 1_000_000)
        assert log
        newest = max(envelope.occurred_at for _, envelope in log)
        # Lost at most the linger plus the write under way (and this machine's slack).
        assert killed_at - newest <= timedelta(seconds=STORE_LINGER_S + 2.0), killed_at - newest
        # Every row is what its events fold to: no half-written frame.
        assert replay(store, dry_run=True).differences == []
        cameras = store.cameras()
        assert len(cameras) == 4
        for camera in cameras:
            acc = store.accounting(camera, datetime.now(UTC), timedelta(minutes=5))
            # Frames cut short are in flight, never unaccounted for nor orphaned.
            assert acc.imbalance == 0, acc
            assert acc.orphans == 0, acc
            assert acc.captured > 0
    finally:
        store.close()
