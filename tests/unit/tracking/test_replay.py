"""``detektor tracking replay`` over the in-memory store: finds and repairs drifted rows."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from detektor.adapters.memory import MemoryEventStore
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.services.tracking.replay import print_report, replay

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def store_with_frames(count: int) -> MemoryEventStore:
    store = MemoryEventStore()
    for n in range(count):
        fid = FrameId.make("cam", int(T0.timestamp() * 1000) + n, n)
        store.append(
            [
                Envelope.new(
                    EventType.CAPTURED,
                    fid,
                    {"width": 1, "height": 1, "pts": n, "source": "synthetic"},
                    T0,
                ),
                Envelope.new(
                    EventType.SKIPPED, fid, {"reason": "no_motion"}, T0 + timedelta(milliseconds=3)
                ),
            ]
        )
    return store


def test_replay_reports_and_repairs_a_drifted_row() -> None:
    store = store_with_frames(700)  # more than one page of 500
    rows = store.frame_rows(None, 1000)
    drifted = replace(rows[3], state=FrameState.QUEUED, reason=None, terminal_at=None)
    store.replace_rows([drifted])

    progress = io.StringIO()
    dry = replay(store, dry_run=True, progress=progress)
    assert dry.checked == 700
    assert [stored.frame_id for stored, _ in dry.differences] == [rows[3].frame_id]
    assert dry.replaced == 0
    assert "700/700 frames" in progress.getvalue()
    assert store.frame_rows(None, 1000)[3] == drifted

    fixed = replay(store, dry_run=False)
    assert fixed.replaced == 1
    assert store.frame_rows(None, 1000)[3] == rows[3]
    assert replay(store, dry_run=True).differences == []

    out = io.StringIO()
    print_report(dry, dry_run=True, out=out)
    text = out.getvalue()
    assert "1 differ" in text
    assert "state: stored <FrameState.QUEUED" in text
