"""Feeding the recording index from the recorders without ever blocking capture, and
reconciling the index with the files at start.

The recorders' callbacks run in the demuxing threads: ``SegmentFeed.offer`` converts a closed
segment to the domain's (its path relative to the recordings root) and puts it on a
thread-safe queue, as ``offer_span`` does a gap or motion span; ``SegmentFeed.run``, a task on
the event loop, adds them to the index in a worker thread, one at a time and in order. A
failed add (the database is away) is counted, logged and retried with backoff until it
succeeds: nothing is dropped while the process lives. A segment still queued when the
process stops is on disk and is indexed by ``reconcile`` at the next start, which also
indexes the segments a crash left between the rename and the add, and forgets rows whose
file is gone. A span is not a file: ``leftover_spans`` are the ones the last try at stop
could not add (after the first failure there, the rest are not tried: shutdown stays short),
for ``span_journal`` to keep, and ``requeue`` offers them again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from anyio import to_thread

from detektor.domain.errors import ValidationError
from detektor.domain.recordings import RecordingSpan, Segment
from detektor.kit.backoff import Backoff
from detektor.kit.workers import pause
from detektor.ports import RecordingIndex
from detektor.services.capture import segments as files
from detektor.services.capture.repair import probe
from detektor.services.recordings.metrics import RecordingMetrics

log = logging.getLogger(__name__)


def to_domain(segment: files.Segment, root: Path) -> Segment:
    """The recorder's segment as the index stores it; ValidationError (or ValueError for a
    path outside ``root``) when it cannot be stored."""
    return Segment(
        camera=segment.camera,
        start=segment.start,
        end=segment.end,
        path=segment.path.relative_to(root).as_posix(),
        bytes=segment.bytes,
        codec=segment.codec,
        keyframes=segment.keyframes,
        audio=segment.audio,
    )


class SegmentFeed:
    """Closed segments on their way to the index; see the module docstring."""

    def __init__(
        self,
        index: RecordingIndex,
        root: Path,
        metrics: RecordingMetrics,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.index, self.root, self.metrics = index, root, metrics
        self._queue: queue.SimpleQueue[Segment | RecordingSpan] = queue.SimpleQueue()
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._backlog_since: datetime | None = None  # when the queue last went from empty
        self._unindexed: list[RecordingSpan] = []  # given up on at stop
        self._given_up = False  # the index failed at stop: nothing more is tried
        self.added = 0

    def offer(self, segment: files.Segment) -> None:
        """Queue a closed segment (any thread; never blocks)."""
        try:
            domain = to_domain(segment, self.root)
        except (ValidationError, ValueError) as exc:
            log.error("segment %s cannot be indexed: %s", segment.path, exc)
            return
        self._put(domain)

    def offer_span(self, span: RecordingSpan) -> None:
        """Queue a gap or motion span (any thread; never blocks)."""
        self._put(span)

    def _put(self, item: Segment | RecordingSpan) -> None:
        if self._backlog_since is None:
            self._backlog_since = datetime.now(UTC)
        self._queue.put(item)
        self.metrics.index_backlog.set(self._queue.qsize())
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def requeue(self, spans: list[RecordingSpan]) -> None:
        """Offer again the spans an earlier run left unindexed. Retention plans as of the
        earliest start among them, so they can still claim their footage."""
        for span in spans:
            self._put(span)
        if spans:
            earliest = min(span.start for span in spans)
            since = self._backlog_since
            self._backlog_since = earliest if since is None else min(since, earliest)

    def leftover_spans(self) -> list[RecordingSpan]:
        """After ``run`` returned (or was cancelled): the spans not added, in order."""
        left, self._unindexed = self._unindexed, []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return left
            if isinstance(item, RecordingSpan):
                left.append(item)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def backlog_since(self) -> datetime | None:
        """When what is still queued began to wait (None: nothing waits). Retention plans as
        if it were then: a span still queued must still be able to claim its footage."""
        return self._backlog_since

    async def run(self, stop: asyncio.Event) -> None:
        """Add queued segments until ``stop``; then one last try for what is still queued."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            await self._drain(stop)
            self._wake.clear()
            if self._queue.empty():  # a wake-up lost to the race costs at most a second
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
        await self._drain(None)

    async def _drain(self, stop: asyncio.Event | None) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                self._backlog_since = None
                return
            if stop is None and self._given_up:  # stopping, and the index is away
                self._give_up(item)
                continue
            while True:
                try:
                    if isinstance(item, Segment):
                        await to_thread.run_sync(self.index.add, item)
                    else:
                        await to_thread.run_sync(self.index.add_span, item)
                except Exception as exc:
                    self.metrics.index_failures.inc()
                    if stop is None:  # stopping: leave it to the next start
                        log.warning("recording index unavailable at stop: %s", exc)
                        self._give_up(item)
                        break
                    delay = self._backoff.next_delay()
                    log.warning("recording index unavailable (%s); retrying in %.1fs", exc, delay)
                    await pause(stop, delay)
                    if stop.is_set():
                        stop = None
                    continue
                self._backoff.reset()
                self.added += 1
                break
            self.metrics.index_backlog.set(self._queue.qsize())

    def _give_up(self, item: Segment | RecordingSpan) -> None:
        self._given_up = True
        if isinstance(item, Segment):
            log.warning("segment %s left unindexed (indexed at the next start)", item.path)
        else:
            self._unindexed.append(item)


def reconcile(
    index: RecordingIndex, root: Path, known: Iterable[files.Segment] = ()
) -> tuple[int, int]:
    """Make the index match the ``.mp4`` files under ``root``: add the files it lacks (``known``
    describes some of them, as ``repair`` returns them; the others are probed), remove the
    rows whose file is gone. Returns (added, removed). Blocking; run it before recording."""
    described = {segment.path: segment for segment in known}
    indexed = {segment.path for segment in index.all_for_retention()}
    added = 0
    on_disk: set[str] = set()
    for path in sorted(root.glob("*/*/*.mp4")):
        relative = path.relative_to(root).as_posix()
        on_disk.add(relative)
        if relative in indexed:
            continue
        found = described.get(path) or probe(path, path)
        if found is None:
            log.warning("%s does not play; left out of the index", path)
            continue
        try:
            added += index.add(to_domain(found, root))
        except (ValidationError, ValueError) as exc:
            log.error("segment %s cannot be indexed: %s", path, exc)
    gone = sorted(indexed - on_disk)
    removed = index.remove(gone) if gone else 0
    if added or removed:
        log.info("recording index reconciled: %d segment(s) added, %d removed", added, removed)
    return added, removed
