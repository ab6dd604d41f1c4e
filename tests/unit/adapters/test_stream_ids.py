"""Stream entry ids compare as numbers: the helper, and the tracking consumer's checkpoint."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from contract.builders import event, frame
from detektor.adapters.memory import MemoryEventStore
from detektor.adapters.redis_streams import next_stream_id, stream_id_key
from detektor.domain.events import EventType
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.services.tracking.consumer import EventsConsumer
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.settings import TrackingSettings
from support.redis import redis_namespace


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("1-9", "1-10"), ("9-0", "10-0"), (b"1-9", b"1-10"), (b"9-99", b"10-0"), ("5", "5-1")],
)
def test_stream_ids_order_by_their_numbers(lower: str | bytes, higher: str | bytes) -> None:
    assert stream_id_key(lower) < stream_id_key(higher)
    assert max([higher, lower], key=stream_id_key) == higher


def test_the_next_id_follows_an_id() -> None:
    assert next_stream_id(b"1700000000000-9") == "1700000000000-10"
    assert stream_id_key(next_stream_id("0-0")) > stream_id_key("0-0")


@pytest.mark.parametrize("bad", ["", "-", "1-", "a-1", "1-2-3", "-1-0", "\uff11-0", "$"])
def test_anything_else_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Redis stream entry id"):
        stream_id_key(bad)


def test_the_consumer_checkpoints_the_numerically_last_entry_of_a_batch() -> None:
    store = MemoryEventStore()
    f = frame(camera="ids")
    entries = [
        (entry_id, {b"envelope": json.dumps(event(kind, f, n).to_dict()).encode()})
        for n, (entry_id, kind) in enumerate(
            [(b"1-9", EventType.CAPTURED), (b"1-10", EventType.QUEUED)]
        )
    ]

    async def run(url: str, prefix: str) -> None:
        settings = TrackingSettings(stream=f"{prefix}:events", consumer="c1")
        metrics = TrackingMetrics(Metrics("unit", "0"))
        async with Redis.from_url(url) as redis:
            consumer = EventsConsumer(
                redis, Ingestor(store, metrics), settings, metrics, Liveness()
            )
            await consumer.process(entries)

    with redis_namespace() as (url, prefix):
        asyncio.run(run(url, prefix))
    assert store.version(f) == 2
    assert store.checkpoint("tracking:c1") == "1-10"
