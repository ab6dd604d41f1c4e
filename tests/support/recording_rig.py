"""Capture's ``Recording`` over a SQLite recording index, prepared as the capture service
prepares it, and camera workers that record through it on in-memory parts: the setup the
integration tests share that run one real camera end to end into the index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.adapters.sqlite import SqliteEventStore
from detektor.adapters.sqlite.recordings import SqliteRecordingIndex
from detektor.kit.app import ServiceKit
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.capture.camera import CameraWorker
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings.recording import Recording
from detektor.settings import Settings


@dataclass
class RecordingRig:
    """One ``Recording`` for ``camera``, its service kit, its index and (if any) event store,
    the last two in ``detektor.db``."""

    camera: CameraSettings
    kit: ServiceKit
    recording: Recording
    index: SqliteRecordingIndex
    store: SqliteEventStore | None

    @property
    def events(self) -> SqliteEventStore:
        """The event store (of a rig prepared with ``events``)."""
        if self.store is None:
            raise RuntimeError("this rig was prepared without an event store")
        return self.store

    def worker(self, **options: Any) -> CameraWorker:
        """A worker for the camera, recording through ``recording``; ``options``: more of
        ``CameraWorker``'s keywords (``motion``, ``realtime_files``, ...)."""
        metrics = self.kit.metrics
        return CameraWorker(
            self.camera,
            MemoryFrameBus(),
            MemoryEventSink(),
            CaptureMetrics(metrics),
            PipelineMetrics(metrics),
            self.kit.liveness,
            recorder=self.recording.recorder(self.camera.name),
            **options,
        )

    def close(self) -> None:
        self.index.close()
        if self.store is not None:
            self.store.close()


async def recording_rig(
    tmp_path: Path, settings: Settings, camera: CameraSettings, *, events: bool = True
) -> RecordingRig:
    """The rig, prepared (repair, reconcile, feed and retention built); ``events``: with a
    SQLite event store beside the index, whose objects retention reads."""
    kit = ServiceKit("capture", settings)
    recording = Recording(settings, [camera], kit)
    database = str(tmp_path / "detektor.db")
    store = SqliteEventStore(database) if events else None
    if store is not None:
        store.migrate()  # one schema: the recording tables come with the event store's
    index = SqliteRecordingIndex(database)
    if store is None:
        index.migrate()
    await recording.prepare(index, store)
    return RecordingRig(camera, kit, recording, index, store)
