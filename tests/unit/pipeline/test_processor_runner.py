"""The processor framework over the in-memory bus: events, acks, retries, dead letters."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence

import pytest
from opentelemetry.sdk.trace import TracerProvider

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.events import EventType
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.pipeline import processor as processor_module
from detektor.pipeline.decoding import Frame
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.motion_regions import MotionRegionsProcessor
from detektor.pipeline.processing import Processor, Result
from detektor.pipeline.processor import ProcessorRunner
from detektor.pipeline.settings import ProcessorSettings
from support.frames import message

GOOD_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


class Flaky(Processor):
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def process(self, frames: Sequence[Frame]) -> list[Result]:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"transient failure {self.calls}")
        return [Result([{"label": "thing", "score": 0.5, "box": [0, 0, 1, 1]}]) for _ in frames]


def run_until(
    processor: Processor,
    bus: MemoryFrameBus,
    sink: MemoryEventSink,
    done: Callable[[], bool],
    *,
    drop_on_shutdown: bool = False,
    attempts: int = 3,
) -> PipelineMetrics:
    metrics = PipelineMetrics(Metrics("unit", "0"))
    settings = ProcessorSettings(
        # Shedding by age has its own tests (test_shedding.py); frames here may be built
        # at collection time, seconds before they are processed.
        batch_size=4,
        max_wait_ms=20,
        attempts=attempts,
        consumer="c1",
        max_frame_age_ms=0,
    )
    runner = ProcessorRunner(
        processor, bus, sink, metrics, settings, Liveness(), drop_on_shutdown=drop_on_shutdown
    )

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        for _ in range(400):
            if done():
                break
            await asyncio.sleep(0.01)
        runner.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    return metrics


def types_of(sink: MemoryEventSink, frame_id: object) -> list[EventType]:
    return [e.type for e in sink.events if e.frame_id == frame_id]


def test_frames_are_processed_completed_and_acknowledged() -> None:
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    msgs = [message(seq=i, traceparent=GOOD_PARENT) for i in range(6)]

    async def publish() -> None:
        for m in msgs:
            await bus.publish(m)

    asyncio.run(publish())
    completed = lambda: sum(e.type is EventType.COMPLETED for e in sink.events) == 6  # noqa: E731
    metrics = run_until(MotionRegionsProcessor(), bus, sink, completed)
    for m in msgs:
        assert types_of(sink, m.frame_id) == [
            EventType.PROCESSING,
            EventType.PROCESSED,
            EventType.COMPLETED,
        ]
    processed = [e for e in sink.events if e.type is EventType.PROCESSED]
    assert {e.data["processor"] for e in processed} == {"motion_regions"}
    # Consecutive shifted pictures differ, so from the second frame on there are regions.
    assert any(e.data["detections"] for e in processed[1:])
    assert asyncio.run(bus.backlog()) == (0, 0)
    assert metrics.frame_latency.labels("cam")._sum.get() > 0  # type: ignore[attr-defined]


def test_lifecycle_events_carry_their_batch_span_trace_id(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real SDK tracer for the runner alone: installing a global provider would leak into
    # every later test of the session.
    monkeypatch.setattr(processor_module, "tracer", TracerProvider().get_tracer("test"))
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    msgs = [message(seq=i, traceparent=GOOD_PARENT) for i in range(6)]

    async def publish() -> None:
        for m in msgs:
            await bus.publish(m)

    asyncio.run(publish())
    completed = lambda: sum(e.type is EventType.COMPLETED for e in sink.events) == 6  # noqa: E731
    run_until(MotionRegionsProcessor(), bus, sink, completed)
    assert len(sink.events) == 18
    by_batch: dict[object, set[str | None]] = {}
    for m in msgs:
        events = [e for e in sink.events if e.frame_id == m.frame_id]
        ids = {e.trace_id for e in events}
        assert len(ids) == 1, f"{m.frame_id}: one frame's events carry trace ids {ids}"
        trace_id = ids.pop()
        assert trace_id is not None
        assert HEX32.fullmatch(trace_id)
        assert trace_id != "0" * 32
        # The batch span is a new trace, linked to (not a child of) the frame's create span.
        assert trace_id != GOOD_PARENT.split("-")[1]
        assert all(e.span_id and HEX16.fullmatch(e.span_id) for e in events)
        batch = next(e.data["batch_id"] for e in events if e.type is EventType.PROCESSING)
        by_batch.setdefault(batch, set()).add(trace_id)
    # Six frames in batches of at most four: each batch one trace, no two batches alike.
    assert len(by_batch) >= 2
    assert all(len(ids) == 1 for ids in by_batch.values())
    assert len(set().union(*by_batch.values())) == len(by_batch)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({b"frame_id": b"cam:1:000001", b"camera": b"cam"}, "missing field"),
        (message(seq=2, jpeg=b"not a jpeg at all").to_fields(), "undecodable JPEG"),
        (message(seq=3, traceparent="00-zz-yy-01").to_fields(), "malformed traceparent"),
        ({**message(seq=4).to_fields(), b"jpeg": b"\xff" * (9 * 1024 * 1024)}, "exceeds"),
        (message(seq=5, width=320, height=240, jpeg=message().jpeg).to_fields(), "entry says"),
    ],
)
def test_unusable_entries_are_dead_lettered_with_frame_failed(
    fields: dict[bytes, bytes], reason: str
) -> None:
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    good = message(seq=9)

    async def publish() -> None:
        await bus.publish_fields(fields)
        await bus.publish(good)

    asyncio.run(publish())
    run_until(MotionRegionsProcessor(), bus, sink, lambda: len(bus.dead) == 1 and bool(sink.events))
    assert len(bus.dead) == 1
    assert reason in bus.dead[0][1]
    failed = [e for e in sink.events if e.type is EventType.FAILED]
    assert len(failed) == 1
    assert reason in str(failed[0].data["error"])
    assert types_of(sink, good.frame_id)[-1] is EventType.COMPLETED  # the consumer kept going


def test_errors_are_retried_then_succeed() -> None:
    bus, sink, flaky = MemoryFrameBus(), MemoryEventSink(), Flaky(failures=2)
    msg = message()
    asyncio.run(bus.publish(msg))
    run_until(flaky, bus, sink, lambda: EventType.COMPLETED in types_of(sink, msg.frame_id))
    assert flaky.calls == 3
    assert types_of(sink, msg.frame_id)[-1] is EventType.COMPLETED
    assert not bus.dead


def test_persistent_errors_dead_letter_each_frame_with_the_error() -> None:
    bus, sink, broken = MemoryFrameBus(), MemoryEventSink(), Flaky(failures=100)
    msgs = [message(seq=i) for i in range(2)]

    async def publish() -> None:
        for m in msgs:
            await bus.publish(m)

    asyncio.run(publish())
    run_until(broken, bus, sink, lambda: len(bus.dead) == 2, attempts=2)
    assert broken.calls == 2
    for m in msgs:
        assert types_of(sink, m.frame_id) == [EventType.PROCESSING, EventType.FAILED]
    failure = next(e for e in sink.events if e.type is EventType.FAILED)
    assert failure.data["stage"] == "flaky"
    assert "transient failure 2" in str(failure.data["error"])
    assert asyncio.run(bus.backlog()) == (0, 0)


def test_shutdown_drops_unstarted_frames_on_the_memory_bus() -> None:
    bus, sink = MemoryFrameBus(), MemoryEventSink()
    msgs = [message(seq=i) for i in range(3)]

    async def publish() -> None:
        for m in msgs:
            await bus.publish(m)

    asyncio.run(publish())
    run_until(MotionRegionsProcessor(), bus, sink, lambda: True, drop_on_shutdown=True)
    for m in msgs:
        kinds = types_of(sink, m.frame_id)
        assert kinds[-1] in (EventType.COMPLETED, EventType.DROPPED)
    dropped = [e for e in sink.events if e.type is EventType.DROPPED]
    assert all(e.data["reason"] == "shutdown" for e in dropped)
    assert asyncio.run(bus.backlog()) == (0, 0)


def test_poison_dead_lettered_by_the_bus_gets_frame_failed() -> None:
    bus, sink = MemoryFrameBus(max_deliveries=1), MemoryEventSink()
    msg = message()

    async def deliver_twice() -> None:
        await bus.publish(msg)
        await bus.consume("gone", 10, block_ms=0)  # a consumer that died without acking
        await bus.claim("c1", 0, 10)  # second delivery: over the limit

    asyncio.run(deliver_twice())
    run_until(MotionRegionsProcessor(), bus, sink, lambda: bool(sink.events))
    assert [e.type for e in sink.events] == [EventType.FAILED]
    assert "delivered 2 times" in str(sink.events[0].data["error"])
