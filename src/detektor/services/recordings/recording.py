"""Recording in one capture process (``serve capture`` or ``run``): a ``Recorder`` per camera
with a ``record`` section, the feed to the index (segments, and the gaps between them as
spans), and the retention loop.

``Recording.build`` makes the recorders (they outlive reconnects: the source calls
``start()`` at each connection); ``prepare`` repairs what a crash left under the root and
reconciles the index with the files, and must run before any camera connects; ``start``
launches the feed and retention tasks; ``stop`` closes the recorders and flushes the feed.
The synthetic scene has no packets: a synthetic camera with ``record`` set records nothing
(said once at build). ``motion`` mode records continuously for now (said once at build).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from anyio import to_thread

from detektor.domain.recordings import GAP_REASONS, RecordingSpan, RecordPolicy, SpanKind
from detektor.kit.app import ServiceKit
from detektor.kit.workers import join
from detektor.ports import EventStore, RecordingIndex
from detektor.services.capture import segments as files
from detektor.services.capture.recorder import Recorder
from detektor.services.capture.repair import repair
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings.cleanup import Retention
from detektor.services.recordings.indexer import SegmentFeed, reconcile
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.settings import Settings

log = logging.getLogger(__name__)


class Recording:
    """See the module docstring."""

    def __init__(self, settings: Settings, cameras: list[CameraSettings], kit: ServiceKit) -> None:
        self.settings, self.kit = settings, kit
        self.root: Path = settings.recordings.root_in(settings.data_dir)
        self.metrics = RecordingMetrics(kit.metrics)
        self.recorders: dict[str, Recorder] = {}
        self.policies: dict[str, RecordPolicy] = {}
        self.feed: SegmentFeed | None = None
        self.retention: Retention | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        for cam in cameras:
            record = cam.record
            if record is None:
                continue
            self.policies[cam.name] = record.policy()
            if cam.source.get_secret_value().startswith("synthetic://"):
                log.warning("camera %s: a synthetic scene is not recorded", cam.name)
                continue
            if record.mode == "motion":
                log.info("camera %s: record mode 'motion' records continuously for now", cam.name)
            self.recorders[cam.name] = self._recorder(cam.name, record.segment_s)

    def _recorder(self, camera: str, segment_s: float) -> Recorder:
        metrics = self.metrics
        metrics.segment_s.labels(camera).set(segment_s)
        metrics.stalled.labels(camera).set(0)
        metrics.last_segment.labels(camera).set(time.time())  # lag counts from the start
        for reason in sorted(GAP_REASONS):  # at 0 from the start, so increase() sees the first
            metrics.gaps.labels(camera, reason)
            metrics.gap_seconds.labels(camera, reason)

        def closed(segment: files.Segment) -> None:
            metrics.last_segment.labels(camera).set(segment.end.timestamp())
            if self.feed is not None:
                self.feed.offer(segment)

        def stall(stalled: bool) -> None:
            metrics.stalled.labels(camera).set(int(stalled))

        return Recorder(
            camera,
            self.root,
            segment_s=segment_s,
            on_segment=closed,
            on_gap=self.gap,
            on_stall=stall,
        )

    def gap(self, found: files.Gap) -> None:
        """A recorder's gap: logged, counted and queued for the index (any thread)."""
        if found.end <= found.start:  # the next segment starts where the last ended
            return
        camera, seconds = found.camera, found.duration_s
        log.info("camera %s: %.1f s not recorded (%s)", camera, seconds, found.reason)
        self.metrics.gaps.labels(camera, found.reason).inc()
        self.metrics.gap_seconds.labels(camera, found.reason).inc(seconds)
        if self.feed is not None:
            self.feed.offer_span(
                RecordingSpan(camera, SpanKind.GAP, found.start, found.end, found.reason)
            )

    def recorder(self, camera: str) -> Recorder | None:
        return self.recorders.get(camera)

    async def prepare(self, index: RecordingIndex, store: EventStore | None) -> None:
        """Repair and reconcile (before any recorder starts), then build feed and retention."""
        if not self.recorders:
            return
        root = self.root
        await to_thread.run_sync(lambda: root.mkdir(parents=True, exist_ok=True))
        kept = await to_thread.run_sync(repair, root)
        added, removed = await to_thread.run_sync(reconcile, index, root, kept)
        log.info(
            "recording %d camera(s) under %s (%d leftover segment(s) kept, index: %d added, "
            "%d removed)",
            len(self.recorders),
            root,
            len(kept),
            added,
            removed,
        )
        self.feed = SegmentFeed(index, root, self.metrics)
        self.retention = Retention(
            index,
            store,
            root,
            self.settings.recordings,
            self.policies,
            self.recorders,
            self.metrics,
        )

    def start(self) -> None:
        if self.feed is None or self.retention is None:
            return
        interval = self.settings.recordings.sweep_interval_s
        self._tasks = [
            asyncio.create_task(self.feed.run(self._stop), name="recording-index"),
            asyncio.create_task(self.retention.run(self._stop, interval), name="retention"),
        ]

    async def stop(self, timeout_s: float) -> None:
        """Close every recorder (its last segment goes to the feed), then end the tasks."""
        for recorder in self.recorders.values():
            await to_thread.run_sync(recorder.close)
        self._stop.set()
        await join(self._tasks, timeout_s)
