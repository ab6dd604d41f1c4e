"""Recording in one capture process (``serve capture`` or ``run``): a ``Recorder`` per camera
with a ``record`` section, the feed to the index (segments, and the gaps between them as
spans), and the retention loop.

``Recording.build`` makes the recorders (they outlive reconnects: the source calls
``start()`` at each connection); ``prepare`` repairs what a crash left under the root and
reconciles the index with the files, and must run before any camera connects; ``start``
launches the feed and retention tasks; ``stop`` closes the recorders and flushes the feed,
and keeps the spans the index could not take for the next start (``span_journal``).
The synthetic scene has no packets: a synthetic camera with ``record`` set records nothing
(said once at build).

Every recorded camera, whatever its mode, gets a ``MotionFeed`` (``motion(camera)``, for its
camera loop): the motion spans it builds from the sampled frames go to the index through the
feed. In ``motion`` mode the recorder writes continuously all the same, and retention keeps
only the footage around motion (and objects); see docs/adr/0033.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from anyio import to_thread

from detektor.domain.motion_spans import MotionSpans
from detektor.domain.recordings import GAP_REASONS, RecordingSpan, RecordPolicy, SpanKind
from detektor.kit.app import ServiceKit
from detektor.kit.workers import join
from detektor.ports import EventStore, RecordingIndex
from detektor.services.capture import segments as files
from detektor.services.capture.recorder import Recorder
from detektor.services.capture.repair import repair
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings import span_journal
from detektor.services.recordings.cleanup import Retention
from detektor.services.recordings.indexer import SegmentFeed, reconcile
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.settings import Settings

log = logging.getLogger(__name__)


class MotionFeed:
    """One camera's motion spans, built from its loop's reading thread and offered to the
    index feed (the ``MotionSink`` of ``CameraWorker``)."""

    def __init__(self, spans: MotionSpans, offer: Callable[[RecordingSpan], None]) -> None:
        self.spans, self._offer = spans, offer
        self._lock = threading.Lock()  # one reading thread at a time, but a flush may cross

    def frame(self, wall_ms: int, moving: bool) -> None:
        at = datetime.fromtimestamp(wall_ms / 1000, UTC)
        self._closed(lambda: self.spans.frame(at, moving))

    def flush(self) -> None:
        self._closed(self.spans.flush)

    def _closed(self, step: Callable[[], list[RecordingSpan]]) -> None:
        try:
            with self._lock:
                closed = step()
            for span in closed:
                self._offer(span)
        except Exception:  # a bug here must not stop capture; the footage is still written
            log.exception("camera %s: motion spans failed", self.spans.camera)


class Recording:
    """See the module docstring."""

    def __init__(self, settings: Settings, cameras: list[CameraSettings], kit: ServiceKit) -> None:
        self.settings, self.kit = settings, kit
        self.root: Path = settings.recordings.root_in(settings.data_dir)
        self.metrics = RecordingMetrics(kit.metrics)
        self.recorders: dict[str, Recorder] = {}
        self.policies: dict[str, RecordPolicy] = {}
        self.motions: dict[str, MotionFeed] = {}
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
            self.recorders[cam.name] = self._recorder(cam.name, record.segment_s)
            spans = MotionSpans(cam.name, 1.0 / cam.detect_fps)
            self.motions[cam.name] = MotionFeed(spans, self._offer_span)

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
        self._offer_span(RecordingSpan(camera, SpanKind.GAP, found.start, found.end, found.reason))

    def _offer_span(self, span: RecordingSpan) -> None:
        if self.feed is not None:  # built by prepare, before any camera connects
            self.feed.offer_span(span)

    def recorder(self, camera: str) -> Recorder | None:
        return self.recorders.get(camera)

    def motion(self, camera: str) -> MotionFeed | None:
        return self.motions.get(camera)

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
        pending = await to_thread.run_sync(span_journal.load, root)
        if pending:
            log.info("%d span(s) left unindexed at the last stop queued again", len(pending))
            self.feed.requeue(pending)
        self.retention = Retention(
            index,
            store,
            root,
            self.settings.recordings,
            self.policies,
            self.recorders,
            self.metrics,
            backlog_since=self.feed.backlog_since,
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
        """Close every recorder (its last segment goes to the feed) and flush every open
        motion span, then end the tasks."""
        for recorder in self.recorders.values():
            await to_thread.run_sync(recorder.close)
        for motion in self.motions.values():
            motion.flush()
        self._stop.set()
        await join(self._tasks, timeout_s)
        if self.feed is not None:
            await to_thread.run_sync(self._keep_spans, self.feed.leftover_spans())

    def _keep_spans(self, spans: list[RecordingSpan]) -> None:
        try:
            kept = span_journal.save(self.root, spans)
        except OSError as exc:
            log.error("%d unindexed span(s) lost, cannot write them: %s", len(spans), exc)
            return
        if kept:
            log.warning("%d span(s) not indexed, kept for the next start", kept)
