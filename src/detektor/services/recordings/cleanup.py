"""The retention loop: every ``sweep_interval_s``, delete what ``plan_retention`` says, and
pause recording while ``must_stop`` says the free-space floor cannot be met.

A sweep reads the index's totals and the volume's free bytes. The floor it plans for is
``min_free_bytes`` plus one segment (the largest kept) per recording camera: what the
recorders may write before the next sweep. While the free bytes are above that floor and the
bytes kept under ``max_bytes``, only age can delete, so it reads only each camera's segments
old enough to be due (``shortest_keep_s`` of its policy): a month of footage costs a sweep
what is due, not the month. Otherwise it reads every segment, to delete the oldest. Then the
object spans that overlap what it read, from the event store (objects started up to
``SPAN_LOOKBACK`` before the oldest segment; a longer object is not seen), and each camera's
policy. When a camera (or the default policy) is in
``motion`` mode, it also reads the motion spans overlapping the segments from the index;
every sweep forgets the motion spans no policy can still need (``motion_horizon``). It
deletes the files first (a file already gone is fine) and then their rows, so a crash in
between leaves rows that ``reconcile`` removes at the next start, never a file the index has
forgotten. Capture and detection go on while recording is paused; only the recorders drop
packets.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from anyio import to_thread

from detektor.domain.object_events import ObjectState
from detektor.domain.recordings import (
    MAX_SEGMENT,
    ObjectSpan,
    RecordingSpan,
    RecordMode,
    RecordPolicy,
    Segment,
    SpanKind,
)
from detektor.domain.retention import Deletion, must_stop, plan_retention, shortest_keep_s
from detektor.kit.workers import pause
from detektor.ports import EventStore, ObjectQuery, RecordingIndex, RecordingTotals
from detektor.services.capture.recorder import Recorder
from detektor.services.recordings.metrics import RecordingMetrics
from detektor.services.recordings.settings import RecordingsSettings

log = logging.getLogger(__name__)

SPAN_LOOKBACK = timedelta(days=1)
PAGE = 500
WIDEN_MAX = timedelta(hours=1)  # pre_s and post_s are under an hour


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def object_spans(store: EventStore, since: datetime, until: datetime) -> Iterator[ObjectSpan]:
    """Spans of the objects that started in [since - SPAN_LOOKBACK, until) and did not end
    before ``since``. An object not ended is in view (open span) while active or stationary."""
    cursor: str | None = None
    while True:
        page = store.objects(
            ObjectQuery(after=since - SPAN_LOOKBACK, before=until, limit=PAGE, cursor=cursor)
        )
        for view in page.objects:
            end = view.ended_at
            if end is None and view.state is ObjectState.ENDED:
                end = view.last_seen
            if end is not None and end < since:
                continue
            yield ObjectSpan(view.camera, view.first_seen, end)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def motion_horizon(
    policies: Mapping[str, RecordPolicy], default: RecordPolicy, now: datetime
) -> datetime | None:
    """Before when a motion span can claim no footage any policy still keeps: the longest
    ``retain_days`` (of any mode: a camera switched to motion mode finds its spans), plus the
    widening after a span and a segment's length (a segment the span claims ends at most that
    late). None when that is before any time (nothing is forgotten)."""
    every = (*policies.values(), default)
    keep = max(p.retain_days for p in every) * 86_400 + max(p.post_s for p in every)
    return _before(now, keep + MAX_SEGMENT.total_seconds())


def _before(now: datetime, seconds: float) -> datetime | None:
    """``seconds`` before ``now``; None when that is before any time (a retention of
    centuries: nothing is old enough to forget)."""
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        return None


class Retention:
    """One process's retention over one recordings root; see the module docstring."""

    def __init__(
        self,
        index: RecordingIndex,
        store: EventStore | None,
        root: Path,
        settings: RecordingsSettings,
        policies: Mapping[str, RecordPolicy],
        recorders: Mapping[str, Recorder],
        metrics: RecordingMetrics,
        *,
        disk_usage: Callable[[Path], DiskUsage] = lambda p: DiskUsage(*shutil.disk_usage(p)),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backlog_since: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.index, self.store, self.root = index, store, root
        self._backlog_since = backlog_since
        self.settings, self.policies, self.recorders = settings, policies, recorders
        self.metrics, self._disk_usage, self._clock = metrics, disk_usage, clock
        self.paused = False
        self.deleted: dict[str, int] = {}
        metrics.min_free_bytes.set(settings.min_free_bytes)
        metrics.paused.set(0)

    def sweep(self) -> list[Deletion]:
        """One pass (blocking: run it in a thread). Returns what it deleted."""
        # The volume's numbers first: they are reported even while the database is away.
        free = self._disk_usage(self.root).free
        self.metrics.free_bytes.set(free)
        totals = self.index.totals()
        # Recorders write on between sweeps: keep room for one more segment per camera, so
        # the floor itself is not crossed before the next sweep.
        largest = max((t.largest for t in totals.values()), default=0)
        floor = self.settings.min_free_bytes + largest * len(self.recorders)
        cap = self.settings.max_bytes
        total = sum(t.bytes for t in totals.values())
        now = self._planning_time()
        if free < floor or (cap is not None and total > cap):
            segments = list(self.index.all_for_retention())
        else:
            segments = self._due_by_age(totals, now)
        spans: list[ObjectSpan] = []
        if segments and self.store is not None:
            since = min(s.start for s in segments)
            until = max(s.end for s in segments) + timedelta(seconds=1)
            spans = list(object_spans(self.store, since, until))
        motion = self._motion_spans(segments)
        free = self._disk_usage(self.root).free  # again: the recorders wrote meanwhile
        plan = plan_retention(
            segments,
            spans,
            self.policies,
            now,
            free,
            floor,
            cap,
            default=self.settings.default.policy(),
            motion_spans=motion,
        )
        for deletion in plan:
            (self.root / deletion.segment.path).unlink(missing_ok=True)
        if plan:
            self.index.remove([d.segment.path for d in plan])
        for deletion in plan:
            reason = deletion.reason.value
            self.deleted[reason] = self.deleted.get(reason, 0) + 1
            self.metrics.deleted.labels(reason).inc()
        kept = total - sum(d.segment.bytes for d in plan)
        free = self._disk_usage(self.root).free
        self.metrics.free_bytes.set(free)
        self._pause(must_stop(max(kept, 0), free, floor), free)
        self._report_totals(totals, plan)
        self._forget_spans()
        return plan

    def _due_by_age(self, totals: Mapping[str, RecordingTotals], now: datetime) -> list[Segment]:
        """Each camera's segments that started no later than its policy keeps any footage:
        the only ones an age deletion can take (in the order of every segment's read)."""
        default = self.settings.default.policy()
        segments: list[Segment] = []
        for camera in totals:
            horizon = _before(now, shortest_keep_s(self.policies.get(camera, default)))
            if horizon is not None:
                segments.extend(self.index.all_for_retention(camera=camera, started_by=horizon))
        return sorted(segments, key=lambda s: (s.start, s.camera))

    def _planning_time(self) -> datetime:
        """Now, or when the index feed's backlog began if it has one: a motion span still
        queued (the database was away) must not find its footage deleted as unclaimed."""
        now, since = self._clock(), self._backlog_since()
        return now if since is None else min(now, since)

    def _every_policy(self) -> tuple[RecordPolicy, ...]:
        return (*self.policies.values(), self.settings.default.policy())

    def _in_motion_mode(self) -> bool:
        return any(p.mode is RecordMode.MOTION for p in self._every_policy())

    def _motion_spans(self, segments: list[Segment]) -> list[RecordingSpan]:
        """The motion spans that can claim any of the segments (all cameras: plan_retention
        uses those of motion-mode cameras only)."""
        if not segments or not self._in_motion_mode():
            return []
        since = min(s.start for s in segments) - WIDEN_MAX
        until = max(s.end for s in segments) + WIDEN_MAX
        return self.index.spans(SpanKind.MOTION, since, until)

    def _forget_spans(self) -> None:
        """Forget the spans no footage kept can still need: a gap (a note beside footage)
        once footage that old is gone anyway, motion past ``motion_horizon``."""
        now = self._clock()
        days = max(p.objects_retain_days for p in self._every_policy())
        horizons = {
            SpanKind.GAP: _before(now, days * 86_400),
            SpanKind.MOTION: motion_horizon(self.policies, self.settings.default.policy(), now),
        }
        for kind, before in horizons.items():
            if before is not None:
                self.index.remove_spans(kind, before)

    def _pause(self, stop: bool, free: int) -> None:
        if stop and not self.paused:
            log.error(
                "recordings volume %s has %d bytes free, below the floor of %d even without "
                "any footage: recording paused (capture and detection go on)",
                self.root,
                free,
                self.settings.min_free_bytes,
            )
        elif self.paused and not stop:
            log.warning("recordings volume %s has room again: recording resumed", self.root)
        self.paused = stop
        self.metrics.paused.set(int(stop))
        for camera, recorder in self.recorders.items():
            recorder.paused = stop
            self.metrics.stalled.labels(camera).set(int(stop or recorder.stalled))

    def _report_totals(self, totals: Mapping[str, RecordingTotals], plan: list[Deletion]) -> None:
        """The footage kept per camera: the sweep's totals less what it deleted (segments
        closed meanwhile count from the next sweep)."""
        kept = {camera: [total.segments, total.bytes] for camera, total in totals.items()}
        for deletion in plan:
            counts = kept.setdefault(deletion.segment.camera, [0, 0])
            counts[0] -= 1
            counts[1] -= deletion.segment.bytes
        for camera in set(kept) | set(self.recorders):
            segments, size = kept.get(camera, (0, 0))
            self.metrics.bytes.labels(camera).set(max(size, 0))
            self.metrics.segments.labels(camera).set(max(segments, 0))

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Sweep every ``interval_s`` until ``stop``; a failed sweep is logged and retried."""
        while not stop.is_set():
            try:
                deleted = await to_thread.run_sync(self.sweep)
            except Exception:
                self.metrics.sweep_failures.inc()
                log.exception("retention sweep of %s failed", self.root)
            else:
                if deleted:
                    log.info("retention deleted %d segment(s) under %s", len(deleted), self.root)
            await pause(stop, interval_s)
