"""The in-memory bus shares the processor between cameras: turns, and shedding at the cap."""

from __future__ import annotations

import asyncio

import pytest

from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage

T0_MS = 1_764_230_400_000


def frame(camera: str, seq: int) -> FrameMessage:
    return FrameMessage(FrameId.make(camera, T0_MS + seq, seq), T0_MS + seq, seq, 4, 4, b"jpeg")


def cameras_of(ids: list[FrameId]) -> list[str]:
    return [i.camera for i in ids]


def test_new_entries_are_delivered_in_turns_across_cameras_oldest_first_within_each() -> None:
    async def body() -> list[FrameId]:
        bus = MemoryFrameBus()
        for seq in range(6):
            await bus.publish(frame("busy", seq))
        await bus.publish(frame("quiet", 10))
        await bus.publish(frame("other", 11))
        got = await bus.consume("c1", 5, 0)
        got += await bus.consume("c1", 10, 0)
        return [d.message.frame_id for d in got if d.message]

    order = asyncio.run(body())
    assert cameras_of(order) == ["busy", "quiet", "other", "busy", "busy", "busy", "busy", "busy"]
    assert [i.seq for i in order if i.camera == "busy"] == list(range(6))


def test_a_camera_served_goes_to_the_back_of_the_turn() -> None:
    async def body() -> list[str]:
        bus = MemoryFrameBus()
        for seq in range(3):
            await bus.publish(frame("a", seq))
            await bus.publish(frame("b", 100 + seq))
        one = await bus.consume("c1", 1, 0)  # a
        await bus.publish(frame("c", 200))
        rest = await bus.consume("c1", 10, 0)
        return [d.message.camera for d in one + rest if d.message]

    assert asyncio.run(body()) == ["a", "b", "a", "c", "b", "a", "b"]


def test_at_the_cap_the_camera_with_the_most_waiting_loses_its_oldest() -> None:
    async def body() -> tuple[list[list[FrameId]], list[str]]:
        bus = MemoryFrameBus(cap=5)
        await bus.publish(frame("quiet", 0))
        for seq in range(1, 5):
            await bus.publish(frame("busy", seq))
        drops = [(await bus.publish(frame("busy", seq))).dropped for seq in range(5, 8)]
        drops.append((await bus.publish(frame("quiet", 8))).dropped)
        left = await bus.consume("c1", 10, 0)
        return drops, [str(d.message.frame_id) for d in left if d.message]

    drops, left = asyncio.run(body())
    assert [[i.seq for i in d] for d in drops] == [[1], [2], [3], [4]]
    assert all(i.camera == "busy" for d in drops for i in d)
    assert [FrameId.parse(x).seq for x in left] == [0, 5, 8, 6, 7]


def test_with_every_entry_in_flight_the_newcomer_is_still_refused() -> None:
    async def body() -> tuple[str | None, list[FrameId]]:
        bus = MemoryFrameBus(cap=2)
        await bus.publish(frame("a", 0))
        await bus.publish(frame("b", 1))
        await bus.consume("c1", 10, 0)
        published = await bus.publish(frame("a", 2))
        return published.entry_id, published.dropped

    assert asyncio.run(body()) == (None, [])


def test_an_entry_acknowledged_before_delivery_is_not_delivered() -> None:
    async def body() -> list[str]:
        bus = MemoryFrameBus()
        first = await bus.publish(frame("a", 0))
        await bus.publish(frame("a", 1))
        assert first.entry_id is not None
        await bus.ack([first.entry_id])
        return [str(d.message.frame_id) for d in await bus.consume("c1", 10, 0) if d.message]

    assert [FrameId.parse(x).seq for x in asyncio.run(body())] == [1]


@pytest.mark.parametrize(("old_after_ms", "expected"), [(300, "a0 a1 a2 b0"), (0, "a0 b0 a1 a2")])
def test_an_old_entry_does_not_use_up_its_cameras_turn(old_after_ms: int, expected: str) -> None:
    async def body() -> list[str]:
        bus = MemoryFrameBus(old_after_ms=old_after_ms)
        await bus.publish(frame("a", 0))
        await bus.publish(frame("a", 1))
        await asyncio.sleep(0.4)  # a0 and a1 are old now
        await bus.publish(frame("a", 2))
        await bus.publish(frame("b", 0))
        got = await bus.consume("c1", 10, 0)
        return [f"{d.message.camera}{d.message.frame_id.seq}" for d in got if d.message]

    assert " ".join(asyncio.run(body())) == expected
