"""The buffered store sink of ``detektor run``: one event the store refuses costs only that
event, never the batch it was written with (issue 11: the whole chunk of up to 1000 events
used to be dropped)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from detektor.adapters.event_sinks import StoreEventSink
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from support.refusing_store import refusing_sqlite_store

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def captured(seq: int, **extra: object) -> Envelope:
    data = {"width": 640, "height": 480, "pts": seq, "source": "synthetic://", **extra}
    at = T0 + timedelta(seconds=seq)
    return Envelope.new(
        EventType.CAPTURED, FrameId("cam", int(at.timestamp() * 1000), seq), data, occurred_at=at
    )


def test_a_refused_event_is_dropped_alone_and_the_rest_of_its_batch_is_stored(
    tmp_path: Path,
) -> None:
    store = refusing_sqlite_store(tmp_path / "events.db")
    events = [captured(n, poison=True) if n in (7, 30) else captured(n) for n in range(1, 41)]

    async def scenario() -> StoreEventSink:
        sink = StoreEventSink(store, batch=16)
        await sink.emit(events)
        await sink.close()
        return sink

    sink = asyncio.run(scenario())
    assert sink.lost == 2
    stored = [position_event[1].event_id for position_event in store.read_log(0, 100)]
    assert stored == [e.event_id for e in events if "poison" not in e.data]
    store.close()
