"""Wiring of ``detektor run``: cameras, in-memory bus, processor and tracking in one process.

Every stage is the same code the distributed services run; only the adapters differ: the
in-memory bus instead of Redis, and lifecycle events appended straight to the store (SQLite
in the data directory, unless DETEKTOR_DATABASE_URL is set) instead of the events stream.
The tracking API, /metrics and health share one port.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from anyio import to_thread
from fastapi import FastAPI

from detektor.adapters.event_sinks import StoreEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.stores import open_event_store
from detektor.embedded.progress import outcome_totals, print_summary, progress_line
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.redact import mask_secret
from detektor.kit.signing import LinkSigner, load_link_secret, signed_url
from detektor.kit.workers import join, pause
from detektor.pipeline.decoding import Frame
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processing import Result
from detektor.pipeline.processor import ProcessorRunner
from detektor.ports import EventSink
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings
from detektor.services.detector.processor import load_processor
from detektor.services.notifier.embedded import EmbeddedNotifier
from detektor.services.objects.metrics import ObjectMetrics
from detektor.services.objects.snapshot_upkeep import SWEEP, snapshot_store, sweep_snapshots
from detektor.services.objects.stage import ObjectsStage
from detektor.services.recordings.recording import Recording
from detektor.services.recordings.serving import open_recordings
from detektor.services.tracking.api import router as tracking_router
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.objects_api import router as objects_router
from detektor.services.tracking.pictures_api import router as pictures_router
from detektor.services.tracking.pictures_api import serve_pictures
from detektor.services.tracking.recordings_api import router as recordings_router
from detektor.services.tracking.state import TrackingState
from detektor.settings import Settings
from detektor.ui.routes import UI_ROUTERS

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    if "database_url" in settings.model_fields_set:
        return settings.database_url.get_secret_value()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / 'detektor.db'}"


def build_run_app(settings: Settings, cameras: list[CameraSettings], *, progress: bool) -> FastAPI:
    kit = ServiceKit("run", settings)
    pipeline = PipelineMetrics(kit.metrics)
    capture_metrics = CaptureMetrics(kit.metrics)
    tracking_metrics = TrackingMetrics(kit.metrics)
    object_metrics = ObjectMetrics(kit.metrics)
    recording = Recording(settings, cameras, kit)
    processor, device = load_processor(settings, kit, cameras)
    url = database_url(settings)
    signer = LinkSigner(load_link_secret(settings))  # a bad key is a ConfigError at start
    snapshots = snapshot_store(settings, kit.metrics)
    notifier = None
    if settings.mqtt_url is not None:  # Home Assistant over MQTT, as `serve notifier` does
        base, ttl = settings.notifier.snapshot_base_url, settings.objects.link_ttl_s
        notifier = EmbeddedNotifier(
            settings,
            kit,
            pipeline,
            cameras,
            snapshots=snapshots,
            link=lambda path: signed_url(base, signer, path, ttl),
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await to_thread.run_sync(open_event_store, url)
        await to_thread.run_sync(store.migrate)
        await to_thread.run_sync(store.hold_service_lock)  # replay refuses while we run
        app.state.tracking = TrackingState(
            settings.tracking,
            store,
            tracking_metrics,
            Ingestor(store, tracking_metrics),
            settings.jaeger_ui_url,
        )
        serve_pictures(app, snapshots, signer, settings.objects.link_ttl_s)
        recordings = app.state.recordings = await to_thread.run_sync(open_recordings, settings, url)
        bus = MemoryFrameBus(
            cap=settings.bus.cap,
            max_deliveries=settings.bus.max_deliveries,
            # At half the age limit: from there the processor may shed a frame as stale.
            old_after_ms=settings.processor.max_frame_age_ms // 2,
        )
        store_sink = StoreEventSink(store)
        objects = None
        sink: EventSink = store_sink
        if settings.objects.enabled:
            objects = ObjectsStage(settings.objects, store_sink, object_metrics, snapshots)
            sink = objects.observe(sink)
        if notifier is not None:
            sink = notifier.observe(sink)
        publish = _publisher(objects, notifier)
        await recording.prepare(recordings.index, store)
        workers = [
            CameraWorker(
                cam,
                bus,
                sink,
                capture_metrics,
                pipeline,
                kit.liveness,
                realtime_files=True,
                recorder=recording.recorder(cam.name),
                motion=recording.motion(cam.name),
                send_images=True,  # the bus is in memory: frames travel decoded (issue 16)
            )
            for cam in cameras
        ]
        recording.start()
        runner = ProcessorRunner(
            processor,
            bus,
            sink,
            pipeline,
            # With a notifier, it completes the frames once they are published.
            settings.processor.model_copy(update={"last_stage": False})
            if notifier
            else settings.processor,
            kit.liveness,
            drop_on_shutdown=True,
            publish=publish,
        )
        if notifier is not None:
            notifier.latencies = runner.latencies
            await notifier.start(sink)
            if objects is not None:
                objects.on_events = notifier.objects
        camera_tasks = [kit.supervisor.start(f"camera:{w.name}", w.run) for w in workers]
        processor_task = kit.supervisor.start(runner.worker, runner.run)
        stop_ticks = asyncio.Event()
        tickers = []
        if objects is not None:
            tickers.append(kit.supervisor.start("objects-ticker", _ticks(objects, stop_ticks)))
            if snapshots is not None:
                keep = snapshots  # narrowed for the closure

                async def sweep() -> None:
                    await sweep_snapshots(keep, stop_ticks, kit.liveness)

                tickers.append(kit.supervisor.start(SWEEP, sweep))
        stop_reports = asyncio.Event()
        reports = asyncio.create_task(
            _report(workers, kit, runner, stop_reports, progress), name="progress"
        )
        log.info(
            "detektor run: %d camera(s), store %s, API on port %d",
            len(workers),
            mask_secret(url),
            settings.http_port,
        )
        try:
            yield
        finally:
            for w in workers:
                w.stop()
            await join(camera_tasks, settings.shutdown_timeout_s)
            await recording.stop(settings.shutdown_timeout_s)
            await _drain(bus, settings.shutdown_timeout_s)
            runner.stop()
            await join([processor_task], settings.shutdown_timeout_s)
            stop_ticks.set()
            await join(tickers, settings.shutdown_timeout_s)
            if objects is not None:  # the run ends every object it still tracks
                await objects.close(datetime.now(UTC))
            if notifier is not None:
                await notifier.stop(settings.shutdown_timeout_s)
            await sink.close()  # every buffered event is in the store before the summary
            stop_reports.set()
            await reports
            now = datetime.now(UTC)
            stale = timedelta(seconds=settings.tracking.stale_after_s)
            accounts = [store.accounting(w.name, now, stale) for w in workers]
            print_summary(accounts, list(runner.latencies))
            await to_thread.run_sync(recordings.index.close)
            await to_thread.run_sync(store.close)

    return create_app(
        kit,
        routers=[tracking_router, objects_router, pictures_router, recordings_router, *UI_ROUTERS],
        lifespan=lifespan,
        summary={
            "cameras": [c.name for c in cameras],
            "database": mask_secret(url),
            "processor": processor.name,
            "device": device.to_dict() if device else None,
        },
        body_limits={"/v1/events": settings.tracking.max_body_bytes},
    )


def _publisher(
    objects: ObjectsStage | None, notifier: EmbeddedNotifier | None
) -> Callable[[list[Frame], list[Result]], Awaitable[None]] | None:
    """The processor's hook: the objects stage first, then Home Assistant."""
    if objects is None:
        return notifier.publish if notifier is not None else None

    async def publish(frames: list[Frame], results: list[Result]) -> None:
        per_frame = await objects.frames(frames, results)
        if notifier is not None:
            await notifier.publish(frames, results, per_frame)

    return publish


def _ticks(
    objects: ObjectsStage, stop: asyncio.Event
) -> Callable[[], Coroutine[object, object, None]]:
    """Twice a second the objects stage's tick."""

    async def run() -> None:
        while not stop.is_set():
            await objects.tick()
            await pause(stop, 0.5)

    return run


async def _drain(bus: MemoryFrameBus, grace_s: float) -> None:
    """Give the processor the chance to finish frames already queued before it stops."""
    deadline = time.monotonic() + grace_s
    # The bus has no "empty" event to wait on; its backlog is a cheap in-memory count.
    while time.monotonic() < deadline and sum(await bus.backlog()) > 0:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _report(
    workers: list[CameraWorker],
    kit: ServiceKit,
    runner: ProcessorRunner,
    stop: asyncio.Event,
    progress: bool,
) -> None:
    """Each second: refresh the fps gauges and redraw the progress line on a terminal (or
    log it every ten seconds when stderr is not one)."""
    started = last = time.monotonic()
    ticks = 0
    while not stop.is_set():
        await pause(stop, 1.0)
        now = time.monotonic()
        fps = sum(w.report_rates(max(now - last, 1e-3))[1] for w in workers)
        last, ticks = now, ticks + 1
        line = progress_line(
            now - started, fps, outcome_totals(kit.metrics.registry), runner.latencies
        )
        if progress:
            sys.stderr.write("\r" + line + "\x1b[K")
            sys.stderr.flush()
        elif ticks % 10 == 0:
            log.info("progress: %s", " ".join(line.split()))
    if progress:
        sys.stderr.write("\n")
