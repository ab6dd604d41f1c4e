"""Poison on the frames stream: one entry's problem never stops the runner nor its batch,
and outcome metrics are counted only once their events exist."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus, dead_letter_fields, to_delivery
from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope, EventType
from detektor.domain.messages import FrameMessage
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from support.frames import message


def runner(bus: MemoryFrameBus, sink: object) -> ProcessorRunner:
    settings = ProcessorSettings(batch_size=8, max_wait_ms=20, consumer="c1", max_frame_age_ms=0)
    metrics = PipelineMetrics(Metrics("unit", "0"))
    return ProcessorRunner(MotionRegionsProcessor(), bus, sink, metrics, settings, Liveness())  # type: ignore[arg-type]


def processed_count(r: ProcessorRunner, camera: str = "cam") -> float:
    value: float = r.metrics.frames.labels(camera, "processed", "")._value.get()  # type: ignore[attr-defined]
    return value


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (b"captured_ms", b"10000000000000000", "captured_ms: must be from 0 to"),
        (b"captured_ms", b"9" * 5000, "captured_ms: not an integer"),
        (b"width", b"100000", "width: must be from 1 to 65535"),
        (b"pts", str(2**63).encode(), "pts: must be from"),
    ],
)
def test_out_of_range_fields_are_refused_with_the_field_named(
    field: bytes, value: bytes, reason: str
) -> None:
    fields = {**message().to_fields(), field: value}
    with pytest.raises(ValidationError) as caught:
        FrameMessage.from_fields(fields)
    assert reason in str(caught.value)


def test_an_out_of_range_capture_time_is_dead_lettered_and_the_batch_goes_on() -> None:
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    good = [message(seq=1), message(seq=3)]
    poison = {**message(seq=2).to_fields(), b"captured_ms": b"10000000000000000"}
    r = runner(bus, sink)

    async def scenario() -> bool:
        await bus.publish(good[0])
        await bus.publish_fields(poison)
        await bus.publish(good[1])
        task = asyncio.create_task(r.run())
        for _ in range(300):
            if sum(e.type is EventType.COMPLETED for e in sink.events) == 2 or task.done():
                break
            await asyncio.sleep(0.01)
        alive = not task.done()
        r.stop()
        await asyncio.wait_for(task, 5)
        return alive

    assert asyncio.run(scenario()), "the runner stopped on a poison frame"
    assert [reason for _, reason in bus.dead] == [
        "malformed entry: captured_ms: must be from 0 to 9999999999999, got 10000000000000000"
    ]
    for m in good:
        assert [e.type for e in sink.events if e.frame_id == m.frame_id][-1] is EventType.COMPLETED
    failed = [e for e in sink.events if e.type is EventType.FAILED]
    assert [str(e.frame_id) for e in failed] == [poison[b"frame_id"].decode()]
    assert asyncio.run(bus.backlog()) == (0, 0)
    assert processed_count(r) == 2


def test_an_entry_that_raises_while_decoded_is_dead_lettered_alone() -> None:
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    good = message(seq=1)
    broken = message(seq=2)
    r = runner(bus, sink)

    async def scenario() -> None:
        ids = [(await bus.publish(m)).entry_id for m in (broken, good)]
        deliveries = await bus.consume("c1", 10, block_ms=0)
        assert [d.entry_id for d in deliveries] == ids
        # A payload of the wrong type makes the decoder itself raise (TypeError).
        bad_message = dataclasses.replace(broken, jpeg=None)  # type: ignore[arg-type]
        deliveries[0] = dataclasses.replace(deliveries[0], message=bad_message)
        await r.handle(deliveries)

    asyncio.run(scenario())
    assert len(bus.dead) == 1
    assert "TypeError" in bus.dead[0][1]
    assert [e.type for e in sink.events if e.frame_id == good.frame_id][-1] is EventType.COMPLETED
    assert asyncio.run(bus.backlog()) == (0, 0)


def test_parsing_never_raises_whatever_the_fields_hold() -> None:
    fields = {**message().to_fields(), b"frame_id": b"\xff\xfe", b"width": b"\x00" * 30}
    delivery = to_delivery("1-0", fields, 1)
    assert delivery.message is None
    assert delivery.error


class FailingSink(MemoryEventSink):
    """A sink that loses the outcome events (e.g. the events stream went away)."""

    async def emit(self, events: Sequence[Envelope]) -> None:
        if any(e.type is EventType.PROCESSED for e in events):
            raise RuntimeError("events stream lost")
        await super().emit(events)


def test_outcomes_are_not_counted_when_their_events_were_not_emitted() -> None:
    bus, sink = MemoryFrameBus(), FailingSink()
    r = runner(bus, sink)

    async def scenario() -> None:
        await bus.publish(message(seq=1))
        deliveries = await bus.consume("c1", 10, block_ms=0)
        with pytest.raises(RuntimeError, match="events stream lost"):
            await r.handle(deliveries)

    asyncio.run(scenario())
    assert processed_count(r) == 0
    assert not r.latencies
    assert asyncio.run(bus.backlog()) == (0, 1)  # still pending: it will be processed again


def test_a_reason_with_a_lone_surrogate_can_still_be_dead_lettered() -> None:
    delivery = to_delivery("1-0", message().to_fields(), 1)
    fields = dead_letter_fields(delivery, "decoder said \ud800")
    assert fields[b"dead_reason"] == b"decoder said \\ud800"
