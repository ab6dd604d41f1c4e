"""The lifecycle-events stream consumer: Redis Streams, consumer group, ack after commit.

Each entry carries one envelope as JSON in its ``envelope`` field. A batch is appended in one
transaction together with the consumer's checkpoint (the last stream id it covers); only
after that commit are the entries acknowledged. A crash between commit and ack redelivers
them, and the store answers each again-seen event_id as a duplicate, so nothing is applied
twice. Entries that cannot be parsed, fail validation or that the store refuses (found by
splitting the batch, see ``ingest``) go to the dead-letter stream with the reason, and are
acknowledged so they never block the group: the rest of the batch is stored.

On start the consumer first re-reads its own pending entries (a restart after SIGKILL), then
new ones; entries left pending by a consumer that died for good are claimed with XAUTOCLAIM
once idle for ``claim_idle_ms``.

Each batch is processed inside one OTel messaging "process" span (kind CONSUMER): a child of
the frame's span when the whole batch comes from one frame, otherwise linked to the span of
every event's frame (the envelopes carry ``trace_id`` and ``span_id``), so each frame's trace
reaches its stored events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from redis.asyncio import Redis

from detektor.adapters.redis_streams import (
    dead_letter_entry,
    ensure_group,
    group_lag,
    stream_id_key,
)
from detektor.kit.health import Liveness
from detektor.ports import Checkpoint
from detektor.services.tracking.ingest import Ingestor, Outcome
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.settings import TrackingSettings

log = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]
WORKER = "events-consumer"
tracer = trace.get_tracer("detektor.tracking")
_SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)


class EventsConsumer:
    def __init__(
        self,
        redis: Redis,
        ingestor: Ingestor,
        settings: TrackingSettings,
        metrics: TrackingMetrics,
        liveness: Liveness,
    ) -> None:
        self.redis = redis
        self.ingestor = ingestor
        self.settings = settings
        self.metrics = metrics
        self.liveness = liveness
        self.stopping = asyncio.Event()
        self._last_claim = 0.0

    async def run(self) -> None:
        """Consume until ``stop()``. Errors reach the kit's supervisor, which retries a lost
        Redis or database with backoff; a restart begins with this consumer's pending
        entries, so what was in hand is not skipped."""
        await self._ensure_group()
        await self._drain_own_pending()
        while not self.stopping.is_set():
            self.liveness.beat(WORKER, max_silence_s=60 + self.settings.block_ms / 1000)
            await self._claim_stale()
            await self._read_new()

    def stop(self) -> None:
        self.stopping.set()

    async def _ensure_group(self) -> None:
        await ensure_group(self.redis, self.settings.stream, self.settings.group)

    async def _drain_own_pending(self) -> None:
        while not self.stopping.is_set():
            entries = await self._xreadgroup("0", block=None)
            if not entries:
                return
            log.info("re-processing %d entries pending from before a restart", len(entries))
            await self.process(entries)

    async def _read_new(self) -> None:
        entries = await self._xreadgroup(">", block=self.settings.block_ms)
        if entries:
            await self.process(entries)

    async def _xreadgroup(self, start: str, block: int | None) -> list[Entry]:
        reply = await self.redis.xreadgroup(
            self.settings.group,
            self.settings.consumer,
            {self.settings.stream: start},
            count=self.settings.read_count,
            block=block,
        )
        return [(eid, fields) for _, entries in reply or [] for eid, fields in entries if fields]

    async def _claim_stale(self) -> None:
        now = time.monotonic()
        if now - self._last_claim < self.settings.claim_idle_ms / 2000:
            return
        self._last_claim = now
        reply = await self.redis.xautoclaim(
            self.settings.stream,
            self.settings.group,
            self.settings.consumer,
            min_idle_time=self.settings.claim_idle_ms,
            start_id="0-0",
            count=self.settings.read_count,
        )
        claimed = [(eid, fields) for eid, fields in reply[1] if fields]
        if claimed:
            log.info("claimed %d entries left pending by another consumer", len(claimed))
            await self.process(claimed)
        await self.refresh_lag()

    async def process(self, entries: list[Entry]) -> None:
        """Append a batch, dead-letter the unparsable, then acknowledge all of it."""
        raw: list[object] = []
        ids: list[bytes] = []
        dead: list[tuple[bytes, dict[bytes, bytes], str]] = []
        for eid, fields in entries:
            decoded = _decode(fields)
            if isinstance(decoded, str):
                dead.append((eid, fields, decoded))
            else:
                raw.append(decoded)
                ids.append(eid)
        checkpoint = Checkpoint(
            consumer=f"{self.settings.group}:{self.settings.consumer}",
            position=max((e[0] for e in entries), key=stream_id_key).decode(),
        )
        parent, links = _trace_of(raw)
        with tracer.start_as_current_span(
            f"process {self.settings.stream}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "redis",
                "messaging.operation": "process",
                "messaging.destination.name": self.settings.stream,
                "messaging.consumer.group.name": self.settings.group,
                "messaging.batch.message_count": len(entries),
            },
        ):
            outcomes = await self.ingestor.ingest(raw, source="stream", checkpoint=checkpoint)
        for eid, outcome in zip(ids, outcomes, strict=True):
            if outcome.status == "rejected":
                dead.append((eid, {}, _reason(outcome)))
        for eid, fields, reason in dead:
            await self._dead_letter(eid, fields or dict(entries)[eid], reason)
        await self.redis.xack(self.settings.stream, self.settings.group, *[e[0] for e in entries])

    async def _dead_letter(self, eid: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        payload: dict[Any, Any] = dead_letter_entry(fields, eid, reason)  # redis-py's Dict
        await self.redis.xadd(
            self.settings.dead_letter_stream, payload, maxlen=100_000, approximate=True
        )
        self.metrics.dead_letters.inc()
        log.warning("dead-lettered stream entry %s: %s", eid.decode(), reason)

    async def refresh_lag(self) -> None:
        """Set the lag and pending gauges from the consumer group (also run by the jobs loop,
        so that the lag alert can fire while this consumer is failing)."""
        for group in await self.redis.xinfo_groups(self.settings.stream):
            if group["name"] in (self.settings.group, self.settings.group.encode()):
                lag = await group_lag(self.redis, self.settings.stream, group)
                self.metrics.consumer_lag.set(lag)
                self.metrics.consumer_pending.set(group.get("pending") or 0)


def _trace_of(raw: list[object]) -> tuple[Context | None, list[trace.Link]]:
    """The batch span's parent (its events' one frame span) or its links (several frames).

    Envelopes are read as plain data here, before validation: an id that is not hex of the
    right length simply yields no link."""
    seen: dict[tuple[int, int], None] = {}
    for data in raw:
        if not isinstance(data, dict):
            continue
        trace_id, span_id = data.get("trace_id"), data.get("span_id")
        if not (isinstance(trace_id, str) and isinstance(span_id, str)):
            continue
        try:
            ids = (int(trace_id, 16), int(span_id, 16))
        except ValueError:
            continue
        if len(trace_id) == 32 and len(span_id) == 16 and all(ids):
            seen.setdefault(ids)
    contexts = [trace.SpanContext(t, s, is_remote=True, trace_flags=_SAMPLED) for t, s in seen]
    if contexts and len({c.trace_id for c in contexts}) == 1:
        # One frame (its events may come from several stages' spans): a child of the first.
        first = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0]))
        return first, [trace.Link(c) for c in contexts[1:]]
    return None, [trace.Link(c) for c in contexts]


def _decode(fields: dict[bytes, bytes]) -> object | str:
    """The envelope as plain JSON data, or a reason string when it cannot be read."""
    raw = fields.get(b"envelope")
    if raw is None:
        names = ", ".join(sorted(k.decode(errors="replace") for k in fields))
        return f"missing field 'envelope' (entry has: {names or 'nothing'})"
    try:
        data: object = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and integers beyond Python's
        # 4,300-digit conversion limit; RecursionError, nesting deeper than the stack.
        return f"envelope is not valid JSON: {type(exc).__name__}: {str(exc)[:200]}"
    return data


def _reason(outcome: Outcome) -> str:
    if outcome.field is None:  # refused by the store, not by validation
        return outcome.reason or "refused by the store"
    return f"invalid envelope: {outcome.reason}"
