"""The processor framework: consume frames in batches, process, record, acknowledge.

A processor only implements ``process(frames) -> results`` (about 30 lines, see
``motion_regions.py``); the runner does the rest:

- it consumes batches from the frame bus (up to ``batch_size``, waiting at most
  ``max_wait_ms`` to fill one), re-reads its own pending entries after a restart and claims
  those a dead peer left pending;
- it dead-letters entries it cannot use (missing fields, out-of-range numbers, oversized or
  undecodable JPEG, malformed ``traceparent``, anything that raises while one entry is
  decoded) with the reason, and records ``frame.failed`` for them; the rest of the batch goes
  on;
- per batch it emits ``frame.processing``, opens one ``process`` span linked to every frame's
  ``create`` span, runs ``process`` in a worker thread, retries it on error, then emits
  ``frame.processed`` (and ``frame.completed`` when it is the last stage), acknowledges, and
  only then counts the outcomes in the metrics;
- a batch that still fails after ``attempts`` tries is dead-lettered, each frame with
  ``frame.failed`` and the error;
- a frame that would be older than ``max_frame_age_ms`` when its batch is done is not
  processed: ``frame.dropped``, ``reason=stale``, acknowledged (``shedding.py``, ADR 30).

On shutdown the batch in hand is finished. Entries never started stay pending on the bus
for another consumer or the next start (Redis); with the in-memory bus, which dies with the
process, ``drop_on_shutdown`` records them as ``frame.dropped``, ``reason=shutdown``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from anyio import to_thread
from opentelemetry import trace

from detektor.domain.events import EventType
from detektor.kit.health import Liveness
from detektor.kit.tracecontext import span_context_of
from detektor.kit.transient import is_transient
from detektor.pipeline.decoding import Frame, decode, raw_frame_id
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.outcomes import count_outcomes, outcome_events
from detektor.pipeline.processing import Processor, Result
from detektor.pipeline.settings import ProcessorSettings
from detektor.pipeline.shedding import STALE, AgeBudget, stale_events
from detektor.ports import Delivery, EventSink, FrameBus

log = logging.getLogger(__name__)
tracer = trace.get_tracer("detektor.pipeline")


class ProcessorRunner:
    def __init__(
        self,
        processor: Processor,
        bus: FrameBus,
        sink: EventSink,
        metrics: PipelineMetrics,
        settings: ProcessorSettings,
        liveness: Liveness,
        *,
        drop_on_shutdown: bool = False,
        publish: Callable[[list[Frame], list[Result]], Awaitable[None]] | None = None,
    ) -> None:
        self.processor = processor
        self.bus = bus
        self.sink = sink
        self.metrics = metrics
        self.settings = settings
        self.liveness = liveness
        self.drop_on_shutdown = drop_on_shutdown
        self.publish = publish  # results onward (the detections stream), before the ack
        self.stopping = asyncio.Event()
        self.worker = f"processor:{processor.name}"
        # Recent end-to-end latencies in seconds, for progress lines and run summaries.
        self.latencies: deque[float] = deque(maxlen=100_000)
        self.budget = AgeBudget(settings.max_frame_age_ms)

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Process until stopped. Errors reach the kit's supervisor, which retries a bus
        outage with backoff and restarts from this consumer's pending entries."""
        next_claim = 0.0
        cfg = self.settings
        pending_first = True
        while not self.stopping.is_set():
            self.liveness.beat(self.worker, max_silence_s=120)
            if pending_first:
                batch = await self.bus.pending(cfg.consumer, cfg.batch_size)
                pending_first = bool(batch)
            elif time.monotonic() >= next_claim:
                next_claim = time.monotonic() + cfg.claim_idle_ms / 2000
                batch = await self.bus.claim(cfg.consumer, cfg.claim_idle_ms, cfg.batch_size)
                await self._report_backlog()
            else:
                batch = []
            if not batch:
                batch = await self._gather()
            for delivery, reason in self.bus.drain_poisoned():
                self.metrics.dead_letters.labels(self.processor.name).inc()
                await self._fail(delivery, reason, dead_letter=False)
            if batch:
                await self.handle(batch)
        if self.drop_on_shutdown:
            await self._drop_unstarted()

    async def _gather(self) -> list[Delivery]:
        """Up to batch_size entries (fewer where the age limit asks for it): block for the
        first, then at most max_wait_ms more. Stale frames are shed as they come and take no
        place in the batch: a camera whose turn on the bus yields one gets another turn, or
        the cameras with the oldest backlog would spend every turn on drops (ADR 30)."""
        cfg = self.settings
        size = self.budget.batch_size(cfg.batch_size)
        batch = await self.bus.consume(cfg.consumer, size, block_ms=500)
        deadline = time.monotonic() + cfg.max_wait_ms / 1000
        fresh: list[Delivery] = []
        while True:
            fresh += await self._shed_stale(batch)
            if len(fresh) >= size or self.stopping.is_set():
                break
            # Polled, not a short BLOCK: Redis checks the timeouts of blocked clients on its
            # 100 ms cron when idle, so "BLOCK 5" could hold a batch back for 100 ms.
            batch = await self.bus.consume(cfg.consumer, size - len(fresh), block_ms=0)
            if batch:
                continue
            left = deadline - time.monotonic()
            if left <= 0 or not fresh:
                break
            await asyncio.sleep(min(left, 0.002))
        return fresh

    async def handle(self, deliveries: list[Delivery]) -> None:
        deliveries = await self._shed_stale(deliveries)
        if not deliveries:
            return
        # JPEG decoding is CPU work: off the event loop, like process() itself.
        limit = self.settings.max_frame_pixels
        decoded = await to_thread.run_sync(lambda: [decode(d, limit) for d in deliveries])
        frames: list[Frame] = []
        usable: list[Delivery] = []
        for delivery, (frame, problem) in zip(deliveries, decoded, strict=True):
            if frame is None:
                await self._reject(delivery, problem or "unusable entry")
            else:
                frames.append(frame)
                usable.append(delivery)
        if frames:
            await self._process(frames, usable)

    async def _process(self, frames: list[Frame], deliveries: list[Delivery]) -> None:
        name = self.processor.name
        batch_id = uuid.uuid4().hex[:16]
        links = [
            trace.Link(ctx)
            for f in frames
            if f.message.traceparent
            and (ctx := span_context_of({"traceparent": f.message.traceparent}))
        ]
        with tracer.start_as_current_span(
            f"process {name}", kind=trace.SpanKind.CONSUMER, links=links
        ) as span:
            span.set_attribute("messaging.batch.message_count", len(frames))
            span.set_attribute("detektor.batch.id", batch_id)
            if len(frames) == 1:
                span.set_attribute("detektor.frame.id", str(frames[0].message.frame_id))
                span.set_attribute("detektor.camera", frames[0].message.camera)
            await self.sink.emit(
                [
                    lifecycle_event(
                        EventType.PROCESSING,
                        f.message.frame_id,
                        {"processor": name, "batch_id": batch_id},
                    )
                    for f in frames
                ]
            )
            started = time.perf_counter()
            results, error = await self._attempts(frames)
            elapsed = time.perf_counter() - started
            if results is None:
                span.set_status(trace.StatusCode.ERROR, error)
                for d in deliveries:
                    await self._fail(d, f"{name}: {error}", dead_letter=True)
                return
            self.metrics.stage_duration.labels(name).observe(elapsed)
            self.budget.observe(elapsed, len(frames))
            # Stamped before the results go onward, so a fast consumer of the detections
            # never records frame.published earlier than frame.processed.
            finished = datetime.now(UTC)
            last_stage = self.settings.last_stage
            outcome = outcome_events(name, frames, results, elapsed, last_stage=last_stage)
            if self.publish is not None:
                await self.publish(frames, results)
            await self.sink.emit(outcome)
        await self._ack([d.entry_id for d in deliveries])
        # Counted only once the events exist and the frames are acknowledged, so the
        # metrics never run ahead of the timelines.
        count_outcomes(
            self.metrics, frames, finished, self.latencies, last_stage=self.settings.last_stage
        )

    async def _ack(self, entry_ids: list[str]) -> None:
        """Acknowledge processed frames, riding out a bus outage: an ack that is lost would
        have the frames reclaimed and processed a second time."""
        delay = 0.2
        for attempt in range(50):
            try:
                await self.bus.ack(entry_ids)
                return
            except Exception as exc:
                if not is_transient(exc) or (self.stopping.is_set() and attempt >= 3):
                    raise
                log.warning("ack failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _attempts(self, frames: list[Frame]) -> tuple[list[Result] | None, str]:
        error = ""
        for attempt in range(1, self.settings.attempts + 1):
            try:
                results = await to_thread.run_sync(self.processor.process, frames)
                if len(results) != len(frames):
                    raise ValueError(f"returned {len(results)} results for {len(frames)} frames")
                return results, ""
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("%s failed (attempt %d): %s", self.processor.name, attempt, error)
                if attempt < self.settings.attempts:
                    await asyncio.sleep(0.1 * 2**attempt)
        return None, error

    async def _reject(self, delivery: Delivery, reason: str) -> None:
        await self._fail(delivery, reason, dead_letter=True)

    async def _fail(self, delivery: Delivery, reason: str, *, dead_letter: bool) -> None:
        if dead_letter:
            await self.bus.dead_letter(delivery, reason)
            self.metrics.dead_letters.labels(self.processor.name).inc()
        frame_id = delivery.message.frame_id if delivery.message else raw_frame_id(delivery)
        log.warning("frame %s failed: %s", frame_id or delivery.entry_id, reason)
        if frame_id is None:
            return  # without a frame id there is no timeline to record the failure in
        await self.sink.emit(
            [
                lifecycle_event(
                    EventType.FAILED, frame_id, {"stage": self.processor.name, "error": reason}
                )
            ]
        )
        self.metrics.outcome(frame_id.camera, "failed")

    async def _drop_unstarted(self) -> None:
        try:
            left = await self.bus.consume(self.settings.consumer, 10_000, block_ms=0)
        except Exception:  # the bus may already be gone; nothing more can be recorded
            return
        events = []
        for d in left:
            if d.message is not None:
                events.append(
                    lifecycle_event(EventType.DROPPED, d.message.frame_id, {"reason": "shutdown"})
                )
                self.metrics.outcome(d.message.camera, "dropped", "shutdown")
        await self.sink.emit(events)
        await self.bus.ack([d.entry_id for d in left])

    async def _shed_stale(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Record, acknowledge and count the frames too old to start; return the rest."""
        now_ms = time.time() * 1000
        shed = self.budget.split(deliveries, now_ms)
        if shed.stale:
            await self.sink.emit(stale_events(shed, self.processor.name, now_ms))
            await self._ack([d.entry_id for d, _ in shed.stale])
            for _, message in shed.stale:  # counted once recorded and acknowledged
                self.metrics.outcome(message.camera, "dropped", STALE)
        return shed.fresh

    async def _report_backlog(self) -> None:
        undelivered, pending = await self.bus.backlog()
        self.metrics.bus_backlog.labels("undelivered").set(undelivered)
        self.metrics.bus_backlog.labels("pending").set(pending)
