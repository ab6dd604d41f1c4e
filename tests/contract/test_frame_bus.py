"""The FrameBus contract: one suite, run against the in-memory twin and the Redis adapter.

Covers delivery through the consumer group, redelivery (own pending, claim after idle),
delivery counts, poison entries dead-lettered by the bus, malformed entries, the cap with
drop-oldest-undelivered, and the backlog that acknowledgement (XACK+XDEL) shrinks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from detektor.domain.messages import MAX_JPEG_BYTES
from detektor.ports import Published
from support.redis import redis_namespace

from .bus_fixtures import TRACEPARENT, BusKit, frame


@pytest.fixture(params=["memory", "redis"])
def kit(request: pytest.FixtureRequest) -> Iterator[BusKit]:
    if request.param == "memory":
        yield BusKit("memory")
        return
    with redis_namespace() as (url, prefix):
        yield BusKit("redis", url, prefix)


def test_publish_consume_ack_round_trip_keeps_every_field(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            sent = [frame(i) for i in range(3)]
            published = [await bus.publish(m) for m in sent]
            assert all(p.entry_id and p.dropped == [] for p in published)
            got = await bus.consume("c1", count=10, block_ms=0)
            assert [d.message for d in got] == sent
            assert [d.entry_id for d in got] == [p.entry_id for p in published]
            for delivery, message in zip(got, sent, strict=True):
                assert dict(delivery.fields) == message.to_fields()
                assert delivery.deliveries == 1
                assert delivery.error is None
                assert delivery.frame_id == str(message.frame_id)
            assert got[0].message is not None
            assert got[0].message.traceparent == TRACEPARENT
            await bus.ack([d.entry_id for d in got])
            assert await bus.backlog() == (0, 0)
            assert await bus.consume("c1", 10, 0) == []
            assert await bus.pending("c1", 10) == []

    kit.run(body)


def test_two_consumers_split_the_entries_without_overlap(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            for i in range(10):
                await bus.publish(frame(i))
            first = await bus.consume("c1", 4, 0)
            second = await bus.consume("c2", 10, 0)
            assert len(first) == 4
            assert len(second) == 6
            ids = [d.entry_id for d in first + second]
            assert len(set(ids)) == 10
            assert await bus.consume("c1", 10, 0) == []

    kit.run(body)


def test_consume_waits_up_to_block_ms_for_a_new_entry(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            assert await bus.consume("c1", 10, 0) == []

            async def later() -> Published:
                await asyncio.sleep(0.05)
                return await bus.publish(frame(1))

            got, published = await asyncio.gather(bus.consume("c1", 10, 2000), later())
            assert [d.entry_id for d in got] == [published.entry_id]
            started = asyncio.get_running_loop().time()
            assert await bus.consume("c1", 10, 100) == []
            assert asyncio.get_running_loop().time() - started >= 0.09

    kit.run(body)


def test_unacked_entries_come_back_to_their_consumer_as_pending(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            for i in range(3):
                await bus.publish(frame(i))
            got = await bus.consume("c1", 10, 0)
            await bus.ack([got[1].entry_id])
            again = await bus.pending("c1", 10)
            assert [d.entry_id for d in again] == [got[0].entry_id, got[2].entry_id]
            assert [d.message for d in again] == [got[0].message, got[2].message]
            assert await bus.pending("c2", 10) == []
            assert [d.entry_id for d in await bus.pending("c1", 1)] == [got[0].entry_id]

    kit.run(body)


def test_claim_takes_entries_idle_for_min_idle_ms_and_counts_deliveries(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            await bus.publish(frame(1))
            (got,) = await bus.consume("c1", 10, 0)
            assert await bus.claim("c2", min_idle_ms=10_000, count=10) == []
            await asyncio.sleep(0.15)
            (claimed,) = await bus.claim("c2", min_idle_ms=100, count=10)
            assert claimed.entry_id == got.entry_id
            assert claimed.message == got.message
            assert claimed.deliveries == 2
            # It is c2's now: gone from c1's pending, and not idle any more.
            assert await bus.pending("c1", 10) == []
            assert await bus.claim("c3", min_idle_ms=100, count=10) == []
            assert [d.deliveries for d in await bus.pending("c2", 10)] == [3]

    kit.run(body)


def test_delivery_counts_grow_with_every_redelivery(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open(max_deliveries=10) as bus:
            await bus.publish(frame(1))
            counts = [d.deliveries for d in await bus.consume("c1", 1, 0)]
            for _ in range(3):
                counts += [d.deliveries for d in await bus.pending("c1", 1)]
            counts += [d.deliveries for d in await bus.claim("c2", 0, 1)]
            assert counts == [1, 2, 3, 4, 5]

    kit.run(body)


@pytest.mark.parametrize("redeliver", ["pending", "claim"])
def test_an_entry_past_max_deliveries_is_dead_lettered_and_never_returned(
    kit: BusKit, redeliver: str
) -> None:
    async def body() -> None:
        async with kit.open(max_deliveries=3) as bus:
            await bus.publish(frame(1))
            await bus.publish(frame(2))
            (got, _) = await bus.consume("c1", 10, 0)
            for expected in (2, 3):
                again = await (
                    bus.pending("c1", 1) if redeliver == "pending" else bus.claim("c1", 0, 1)
                )
                assert [(d.entry_id, d.deliveries) for d in again] == [(got.entry_id, expected)]
            fourth = await (
                bus.pending("c1", 1) if redeliver == "pending" else bus.claim("c1", 0, 1)
            )
            assert got.entry_id not in [d.entry_id for d in fourth]
            (dead,) = await kit.dead(bus)
            assert dead[b"dead_reason"] == b"delivered 4 times without success"
            assert dead[b"dead_source_id"] == got.entry_id.encode()
            assert dead[b"dead_deliveries"] == b"4"
            assert dead[b"frame_id"] == dict(got.fields)[b"frame_id"]
            assert dead[b"jpeg"] == dict(got.fields)[b"jpeg"]
            left = await bus.pending("c1", 10) + await bus.claim("c2", 0, 10)
            assert got.entry_id not in [d.entry_id for d in left]
            assert await bus.consume("c1", 10, 0) == []

    kit.run(body)


def test_dead_letter_keeps_the_fields_and_acknowledges(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            await bus.publish(frame(1))
            (got,) = await bus.consume("c1", 1, 0)
            await bus.dead_letter(got, "undecodable JPEG")
            (dead,) = await kit.dead(bus)
            assert dead == {
                **frame(1).to_fields(),
                b"dead_reason": b"undecodable JPEG",
                b"dead_source_id": got.entry_id.encode(),
                b"dead_deliveries": b"1",
            }
            assert await bus.backlog() == (0, 0)
            assert await bus.claim("c2", 0, 10) == []

    kit.run(body)


def _fields(**changes: bytes | None) -> dict[bytes, bytes]:
    fields = frame(7).to_fields()
    for name, value in changes.items():
        if value is None:
            fields.pop(name.encode())
        else:
            fields[name.encode()] = value
    return fields


@pytest.mark.parametrize(
    ("fields", "field", "frame_id"),
    [
        pytest.param(_fields(camera=None, jpeg=None), "camera", True, id="missing-fields"),
        pytest.param({b"junk": b"1"}, "frame_id", False, id="nothing-usable"),
        pytest.param(_fields(frame_id=b"front-door:12:7"), "frame_id", True, id="bad-frame-id"),
        pytest.param(_fields(jpeg=b"\0" * (MAX_JPEG_BYTES + 1)), "jpeg", True, id="oversized"),
        pytest.param(_fields(width=b"wide"), "width", True, id="bad-width"),
    ],
)
def test_a_malformed_entry_comes_back_with_the_field_named(
    kit: BusKit, fields: dict[bytes, bytes], field: str, frame_id: bool
) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            await bus.publish_fields(fields)
            await bus.publish(frame(8))
            bad, good = await bus.consume("c1", 10, 0)
            assert bad.message is None
            assert bad.error is not None
            assert bad.error.startswith(f"{field}: ")
            assert bad.frame_id == (fields[b"frame_id"].decode() if frame_id else None)
            assert dict(bad.fields) == fields
            assert good.message == frame(8)
            await bus.dead_letter(bad, bad.error)
            (dead,) = await kit.dead(bus)
            assert dead[b"dead_reason"] == bad.error.encode()

    kit.run(body)


def test_a_malformed_traceparent_is_passed_through_as_text(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            await bus.publish_fields(_fields(traceparent=b"not-a-traceparent"))
            (got,) = await bus.consume("c1", 10, 0)
            assert got.error is None
            assert got.message is not None
            assert got.message.traceparent == "not-a-traceparent"

    kit.run(body)


def test_at_the_cap_the_oldest_undelivered_entry_is_dropped(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open(cap=3) as bus:
            for i in range(3):
                assert (await bus.publish(frame(i))).dropped == []
            # No consumer has read yet (no group in Redis): everything is undelivered.
            fourth = await bus.publish(frame(3))
            assert fourth.entry_id is not None
            assert fourth.dropped == [frame(0).frame_id]
            assert await bus.backlog() == (3, 0)
            (taken,) = await bus.consume("c1", 1, 0)
            assert taken.message == frame(1)
            # frame 1 is being processed: the cap skips it and drops frame 2 instead.
            fifth = await bus.publish(frame(4))
            assert fifth.dropped == [frame(2).frame_id]
            assert await bus.backlog() == (2, 1)
            rest = await bus.consume("c1", 10, 0)
            assert [d.message for d in rest] == [frame(3), frame(4)]

    kit.run(body)


def test_at_the_cap_with_everything_pending_the_new_frame_is_refused(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open(cap=3) as bus:
            for i in range(3):
                await bus.publish(frame(i))
            taken = await bus.consume("c1", 10, 0)
            assert len(taken) == 3
            assert await bus.publish(frame(3)) == Published(entry_id=None, dropped=[])
            assert await bus.backlog() == (0, 3)
            await bus.ack([taken[0].entry_id])
            assert (await bus.publish(frame(4))).entry_id is not None
            assert [d.message for d in await bus.consume("c2", 10, 0)] == [frame(4)]

    kit.run(body)


def test_backlog_counts_undelivered_and_pending_and_ack_deletes(kit: BusKit) -> None:
    async def body() -> None:
        async with kit.open() as bus:
            assert await bus.backlog() == (0, 0)
            for i in range(5):
                await bus.publish(frame(i))
            assert await bus.backlog() == (5, 0)
            got = await bus.consume("c1", 2, 0)
            assert await bus.backlog() == (3, 2)
            await bus.ack([got[0].entry_id])
            assert await bus.backlog() == (3, 1)
            await bus.ack([got[1].entry_id, got[1].entry_id])  # a repeated ack is a no-op
            assert await bus.backlog() == (3, 0)
            await bus.ack([])
            # Acknowledged entries are gone: no redelivery, however long one waits.
            assert await bus.pending("c1", 10) == []
            assert await bus.claim("c2", 0, 10) == []

    kit.run(body)
