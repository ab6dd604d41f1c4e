"""Wiring of the tracking service: store, ingestion, stream consumer, background jobs, app.

The pictures routes serve the snapshot files that ``serve objects`` writes under
``<data_dir>/snapshots`` (a volume both mount), and accept links signed with the key in
``<data_dir>/link-secret`` (or ``DETEKTOR_LINK_SECRET``), the notifier's too.

Start-up opens the event store named by ``DETEKTOR_DATABASE_URL`` and applies its migrations,
then starts the Redis stream consumer (unless ``tracking.consume`` is off), the retention job
and the accounting-gauge refresher. Shutdown stops the workers, letting the batch in hand
commit, then closes the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from anyio import to_thread
from fastapi import FastAPI
from redis.asyncio import Redis

from detektor.adapters.redis_streams import EVENTS_STREAM_MAXLEN
from detektor.adapters.stores import open_event_store
from detektor.adapters.stream_trim import StreamMetrics, trim_stream
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.redact import mask_secret
from detektor.kit.signing import LinkSigner, load_link_secret
from detektor.kit.workers import join, pause
from detektor.ports import EventStore, StoreLocked
from detektor.services.objects.snapshot_upkeep import snapshot_store
from detektor.services.recordings.serving import open_recordings
from detektor.services.tracking.api import router
from detektor.services.tracking.consumer import EventsConsumer
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.objects_api import router as objects_router
from detektor.services.tracking.pictures_api import router as pictures_router
from detektor.services.tracking.pictures_api import serve_pictures
from detektor.services.tracking.recordings_api import router as recordings_router
from detektor.services.tracking.settings import TrackingSettings
from detektor.services.tracking.state import TrackingState
from detektor.settings import Settings
from detektor.ui.routes import UI_ROUTERS

log = logging.getLogger(__name__)
CONSUMER = "events-consumer"  # the consumer's heartbeat name too
JOBS = "jobs"
UPKEEP = "stream-upkeep"


def build(settings: Settings) -> FastAPI:
    kit = ServiceKit("tracking", settings)
    metrics = TrackingMetrics(kit.metrics)
    streams = StreamMetrics(kit.metrics)
    cfg = settings.tracking
    database_url = settings.database_url.get_secret_value()
    signer = LinkSigner(load_link_secret(settings))  # a bad key is a ConfigError at start
    snapshots = snapshot_store(settings)  # written by serve objects (the shared data volume)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await to_thread.run_sync(open_event_store, database_url)
        applied = await to_thread.run_sync(store.migrate)
        await to_thread.run_sync(store.hold_service_lock)  # replay refuses while we run (ADR 13)
        log.info(
            "event store ready",
            extra={"database": mask_secret(database_url), "migrations_applied": applied},
        )
        state = TrackingState(cfg, store, metrics, Ingestor(store, metrics), settings.jaeger_ui_url)
        app.state.tracking = state
        serve_pictures(app, snapshots, signer, settings.objects.link_ttl_s)
        recordings = app.state.recordings = await to_thread.run_sync(
            open_recordings, settings, database_url
        )

        async def store_answers() -> None:
            await to_thread.run_sync(store.checkpoint, "readiness-probe")

        kit.readiness.add("event_store", store_answers)
        # Each worker with how to ask it to stop.
        workers: list[tuple[Callable[[], None], asyncio.Task[None]]] = []
        stop = asyncio.Event()
        redis: Redis | None = None
        if cfg.consume:
            client = redis = Redis.from_url(settings.redis_url.get_secret_value())
            consumer = EventsConsumer(client, state.ingestor, cfg, metrics, kit.liveness)
            kit.readiness.add("redis", client.ping)
            workers.append((consumer.stop, kit.supervisor.start(CONSUMER, consumer.run)))

            async def upkeep() -> None:
                await _stream_upkeep(consumer, client, streams, stop, cfg)

            workers.append((stop.set, kit.supervisor.start(UPKEEP, upkeep)))
        workers.append((stop.set, kit.supervisor.start(JOBS, lambda: _jobs(state, stop, kit))))
        try:
            yield
        finally:
            for halt, _task in workers:
                halt()
            await join([task for _, task in workers], settings.shutdown_timeout_s)
            if redis is not None:
                await redis.aclose()
            await to_thread.run_sync(recordings.index.close)
            await to_thread.run_sync(store.close)

    return create_app(
        kit,
        routers=[router, objects_router, pictures_router, recordings_router, *UI_ROUTERS],
        lifespan=lifespan,
        summary={
            "database": mask_secret(database_url),
            "consume_stream": cfg.stream if cfg.consume else None,
            "stale_after_s": cfg.stale_after_s,
            "retention_days": cfg.retention_days,
            "snapshots": str(snapshots.root) if snapshots else None,
        },
        body_limits={"/v1/events": cfg.max_body_bytes},
    )


async def _jobs(state: TrackingState, stop: asyncio.Event, kit: ServiceKit) -> None:
    """Refresh the accounting gauges, and purge events past retention, until stopped."""
    cfg = state.settings
    store: EventStore = state.store
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        kit.liveness.beat(JOBS, max_silence_s=cfg.metrics_interval_s + 120)
        try:
            await to_thread.run_sync(store.hold_service_lock)  # re-taken if its connection died
        except StoreLocked as exc:
            log.warning("%s", exc)
        now = datetime.now(UTC)
        stale_after = timedelta(seconds=cfg.stale_after_s)
        for camera in await to_thread.run_sync(store.cameras):
            acc = await to_thread.run_sync(store.accounting, camera, now, stale_after)
            state.metrics.publish_accounting(acc)
        if state.last_purge is None or loop.time() - state.last_purge >= cfg.purge_interval_s:
            state.last_purge = loop.time()
            cutoff = now - timedelta(days=cfg.retention_days)
            purged = await to_thread.run_sync(store.purge, cutoff)
            if purged:
                log.info("retention: purged %d events older than %s", purged, cutoff.isoformat())
        await pause(stop, cfg.metrics_interval_s)


async def _stream_upkeep(
    consumer: EventsConsumer,
    redis: Redis,
    streams: StreamMetrics,
    stop: asyncio.Event,
    cfg: TrackingSettings,
) -> None:
    """Refresh the consumer-lag gauges, apart from the consumer, which may be failing; trim
    the entries every group has acknowledged, so the stream never reaches its cap unread."""
    while not stop.is_set():
        await consumer.refresh_lag()
        await trim_stream(redis, cfg.stream, streams, cap=EVENTS_STREAM_MAXLEN)
        await pause(stop, cfg.metrics_interval_s)
