"""``detektor serve capture``: the configured cameras onto the Redis frame bus.

Lifecycle events go to the events stream for tracking. ``/v1/cameras`` shows each camera's
state; credentials in source URLs are masked there as everywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request

from detektor.adapters.stores import open_event_store, open_recording_index
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.redact import mask_url
from detektor.kit.workers import join, pause
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.wiring import redis_adapters
from detektor.ports import EventStore, RecordingIndex
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.preflight import preflight
from detektor.services.recordings.recording import Recording
from detektor.settings import ConfigError, Settings

router = APIRouter(prefix="/v1", tags=["capture"])


@router.get("/cameras", summary="Each camera: source (masked), connection and frame counts")
async def cameras(request: Request) -> dict[str, Any]:
    workers: list[CameraWorker] = request.app.state.cameras
    return {
        "cameras": [
            {
                "name": w.name,
                "source": mask_url(w.camera.source.get_secret_value()),
                "detect_fps": w.camera.detect_fps,
                "decoded": w.decoded,
                "sampled": w.sampled,
                "finished": w.finished,
            }
            for w in workers
        ]
    }


def build(settings: Settings) -> FastAPI:
    problems = preflight(settings.cameras)
    if problems:
        raise ConfigError("; ".join(problems))
    if not settings.cameras:
        raise ConfigError("no cameras configured: list them under 'cameras:' in DETEKTOR_CONFIG")
    kit = ServiceKit("capture", settings)
    capture_metrics = CaptureMetrics(kit.metrics)
    pipeline = PipelineMetrics(kit.metrics)
    recording = Recording(settings, settings.cameras, kit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis, bus, sink = redis_adapters(settings, kit)
        index, store = await _open_recording_stores(recording, settings)
        if index is not None:
            await recording.prepare(index, store)
        workers = [
            CameraWorker(
                cam,
                bus,
                sink,
                capture_metrics,
                pipeline,
                kit.liveness,
                recorder=recording.recorder(cam.name),
                motion=recording.motion(cam.name),
            )
            for cam in settings.cameras
        ]
        recording.start()
        app.state.cameras = workers
        tasks = [kit.supervisor.start(f"camera:{w.name}", w.run) for w in workers]
        stop = asyncio.Event()
        rates = asyncio.create_task(_rates(workers, stop))
        try:
            yield
        finally:
            for w in workers:
                w.stop()
            await join(tasks, settings.shutdown_timeout_s)
            stop.set()
            await rates
            await recording.stop(settings.shutdown_timeout_s)
            if index is not None:
                await to_thread.run_sync(index.close)
            if store is not None:
                await to_thread.run_sync(store.close)
            await sink.close()
            await redis.aclose()

    return create_app(
        kit,
        routers=[router],
        lifespan=lifespan,
        summary={"cameras": [c.name for c in settings.cameras], "bus": settings.bus.stream},
    )


async def _open_recording_stores(
    recording: Recording, settings: Settings
) -> tuple[RecordingIndex | None, EventStore | None]:
    """The recording index and the event store (object spans for retention), both in the
    database of DETEKTOR_DATABASE_URL; none when no camera records."""
    if not recording.recorders:
        return None, None
    url = settings.database_url.get_secret_value()
    index = await to_thread.run_sync(open_recording_index, url)
    try:
        await to_thread.run_sync(index.migrate)
        store = await to_thread.run_sync(open_event_store, url)
    except BaseException:
        await to_thread.run_sync(index.close)
        raise
    return index, store


async def _rates(workers: list[CameraWorker], stop: asyncio.Event) -> None:
    last = time.monotonic()
    while not stop.is_set():
        await pause(stop, 5.0)
        now = time.monotonic()
        for w in workers:
            w.report_rates(max(now - last, 1e-3))
        last = now
