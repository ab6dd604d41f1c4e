"""``detektor serve objects``: the objects stage as a service of its own (ADR 20).

It reads the detector's detections stream, keeps one tracker per camera it owns (a Redis
lease, ``lease.py``; any number of instances share the cameras, each camera in one at a
time), puts each camera's frames back in capture order (``reorder.py``), and writes:

- the object events to the lifecycle-events stream (tracking stores them);
- one entry per frame to ``objects.stream`` (``frame_id``, ``camera``, ``captured_ms``,
  ``detections``, ``traceparent``, ``objects`` = the frame's object events as JSON), capped
  like the detections stream, for the notifier to read once it is switched over.

Workers: the detections reader, the lease keeper (renews every ``lease_ttl_s / 3``), the
ticker (releases what waited ``reorder_window_ms``, ends the objects of quiet cameras) and
the skip watcher. A clean stop tracks what is buffered, ends every object and releases the
leases, so another instance takes the cameras over at once; after a crash it waits for the
leases to expire. A new owner starts a fresh tracker: see ``docs/objects.md``.

Snapshots: the detector keeps each frame's JPEG in Redis for ``detector.pictures_ttl_s``
(ADR 25); this service fetches those of the frames it tracks and keeps each object's best
sighting and each camera's latest frame under ``<data_dir>/snapshots``, which the tracking
service (pictures) and the notifier (Home Assistant's image entities) read: one volume in
compose. Retention runs in the ticker every ``objects.snapshots.sweep_interval_s``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from redis.asyncio import Redis

from detektor.adapters.event_sinks import RedisEventSink
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.health import Liveness
from detektor.kit.transient import is_transient
from detektor.kit.workers import join, pause
from detektor.services.objects.consumer import Collecting, ObjectsConsumer
from detektor.services.objects.lease import CameraLeases
from detektor.services.objects.metrics import ObjectMetrics, ObjectServiceMetrics
from detektor.services.objects.output import ObjectsOutput
from detektor.services.objects.pictures import FramePictures
from detektor.services.objects.skips import WORKER as SKIPS
from detektor.services.objects.skips import SkipWatcher
from detektor.services.objects.snapshot_upkeep import SWEEP, snapshot_store, sweep_snapshots
from detektor.services.objects.stage import ObjectsStage
from detektor.settings import Settings

log = logging.getLogger(__name__)
READER, LEASES, TICKER = "detections-reader", "leases", "objects-ticker"
READ_COUNT = 500
BLOCK_MS = 1000
TICK_S = 0.25


def build(settings: Settings) -> FastAPI:
    cfg = settings.objects
    kit = ServiceKit("objects", settings)
    stage_metrics = ObjectMetrics(kit.metrics)
    metrics = ObjectServiceMetrics(kit.metrics)
    detections = settings.detector.detections_stream
    # Unique per process: two instances given the same name must never share a lease.
    owner = f"{cfg.consumer}/{uuid.uuid4().hex[:8]}"
    snapshots = snapshot_store(settings, kit.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = Redis.from_url(settings.redis_url.get_secret_value())
        kit.readiness.add("redis", redis.ping)
        events = RedisEventSink(redis, settings.tracking.stream)
        collected = Collecting()
        stage = ObjectsStage(cfg, collected, stage_metrics, snapshots)
        pictures = FramePictures(redis, detections, stage_metrics) if snapshots else None
        leases = CameraLeases(redis, cfg.stream, owner, cfg.lease_ttl_s)
        output = ObjectsOutput(redis, cfg.stream, f"{detections}:objects-dead", leases.key, owner)
        consumer = ObjectsConsumer(
            redis, detections, stage, collected, leases, output, events, metrics, pictures=pictures
        )
        watcher = SkipWatcher(
            redis, settings.tracking.stream, stage, leases, consumer.lock, kit.liveness
        )
        stop = asyncio.Event()
        workers: list[tuple[Callable[[], None], asyncio.Task[None]]] = [
            (stop.set, kit.supervisor.start(READER, lambda: _read(consumer, stop, kit.liveness))),
            (stop.set, kit.supervisor.start(LEASES, lambda: _renew(consumer, stop, kit.liveness))),
            (stop.set, kit.supervisor.start(TICKER, lambda: _tick(consumer, stop, kit.liveness))),
            (watcher.stop, kit.supervisor.start(SKIPS, watcher.run)),
        ]
        if snapshots is not None:
            keep = snapshots  # narrowed for the closure

            async def sweep() -> None:
                await sweep_snapshots(keep, stop, kit.liveness)

            workers.append((stop.set, kit.supervisor.start(SWEEP, sweep)))
        try:
            yield
        finally:
            for halt, _ in workers:
                halt()
            await join([task for _, task in workers], settings.shutdown_timeout_s)
            try:
                await consumer.finish(datetime.now(UTC))
            except Exception as exc:  # Redis away at shutdown: the leases expire by themselves
                log.warning("objects: could not finish cleanly: %s", exc)
            await events.close()
            await redis.aclose()

    return create_app(
        kit,
        lifespan=lifespan,
        summary={
            "owner": owner,
            "detections_stream": detections,
            "objects_stream": cfg.stream,
            "events_stream": settings.tracking.stream,
            "lease_ttl_s": cfg.lease_ttl_s,
            "reorder_window_ms": cfg.reorder_window_ms,
            "snapshots": str(snapshots.root) if snapshots else None,
        },
    )


async def _read(consumer: ObjectsConsumer, stop: asyncio.Event, liveness: Liveness) -> None:
    """Follow the detections stream from its end until stopped; Redis outages are waited out."""
    cursor: str | None = None
    delay = 0.5
    while not stop.is_set():
        liveness.beat(READER, max_silence_s=BLOCK_MS / 1000 + 60)
        try:
            if cursor is None:
                cursor = await consumer.start_id()
            reply = await consumer.redis.xread(
                {consumer.stream: cursor}, count=READ_COUNT, block=BLOCK_MS
            )
            for _, entries in reply or []:
                for eid, fields in entries:
                    async with consumer.lock:
                        await consumer.handle(eid, fields or {})
                    cursor = eid.decode()
            delay = 0.5
        except Exception as exc:
            if not is_transient(exc):
                raise
            liveness.beat(READER, max_silence_s=BLOCK_MS / 1000 + 120)
            log.warning("objects: detections reader paused (%s); retrying in %.1fs", exc, delay)
            await pause(stop, delay)
            delay = min(delay * 2, 10.0)


async def _renew(consumer: ObjectsConsumer, stop: asyncio.Event, liveness: Liveness) -> None:
    interval = consumer.leases.renew_interval_s
    while not stop.is_set():
        liveness.beat(LEASES, max_silence_s=interval + 60)
        await consumer.renew()  # an outage is handled inside: leases run out locally
        await pause(stop, interval)


async def _tick(consumer: ObjectsConsumer, stop: asyncio.Event, liveness: Liveness) -> None:
    while not stop.is_set():
        liveness.beat(TICKER, max_silence_s=60)
        try:
            await consumer.tick()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("objects: tick paused (%s)", exc)
        await pause(stop, TICK_S)
