"""The in-memory RecordingIndex (`memory://`): the reference behaviour of the contract, and
the twin for tests and throwaway runs. Lists are scanned; it favours being obviously correct.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime

from detektor.adapters.recording_spans import require_range, require_span
from detektor.adapters.recordingkit import (
    SegmentFilter,
    require_paths,
    require_segment,
    segment_page,
    sort_key,
)
from detektor.adapters.storekit import MAX_PAGE, require_limit
from detektor.domain.frames import validate_camera
from detektor.domain.recordings import RecordingSpan, Segment, SpanKind, require_instant
from detektor.ports import RecordingTotals, SegmentPage, SegmentQuery


class MemoryRecordingIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[str, Segment] = {}
        self._keys: set[tuple[str, datetime]] = set()
        self._spans: dict[tuple[str, SpanKind, datetime], RecordingSpan] = {}

    def migrate(self) -> list[str]:
        return []

    def add(self, segment: Segment) -> bool:
        segment = require_segment(segment)
        key = (segment.camera, segment.start)
        with self._lock:
            if segment.path in self._by_path or key in self._keys:
                return False
            self._by_path[segment.path] = segment
            self._keys.add(key)
        return True

    def _sorted(self) -> list[Segment]:
        with self._lock:
            return sorted(self._by_path.values(), key=sort_key)

    def segments(self, query: SegmentQuery) -> SegmentPage:
        chosen = SegmentFilter.of(query)
        found = [s for s in reversed(self._sorted()) if chosen.matches(s)]
        return segment_page(found[: chosen.limit + 1], chosen.limit)

    def overlapping(self, camera: str, start: datetime, end: datetime) -> list[Segment]:
        validate_camera(camera)
        first, last = require_range(start, end)
        return [
            s for s in self._sorted() if s.camera == camera and s.start < last and s.end > first
        ]

    def all_for_retention(
        self,
        batch_size: int = 1000,
        *,
        camera: str | None = None,
        started_by: datetime | None = None,
    ) -> Iterator[Segment]:
        require_limit(batch_size, "batch_size", maximum=MAX_PAGE * 100)
        if camera is not None:
            validate_camera(camera)
        before = None
        if started_by is not None:
            before = require_instant(started_by, "started_by")

        def wanted(s: Segment, done: tuple[datetime, str] | None) -> bool:
            if (camera is not None and s.camera != camera) or (before and s.start > before):
                return False
            return done is None or sort_key(s) > done

        # In batches, like the SQL stores: segments added or removed meanwhile may or may not
        # be seen, but none is seen twice.
        done: tuple[datetime, str] | None = None
        while True:
            batch = [s for s in self._sorted() if wanted(s, done)][:batch_size]
            yield from batch
            if len(batch) < batch_size:
                return
            done = sort_key(batch[-1])

    def remove(self, paths: Sequence[str]) -> int:
        removed = 0
        with self._lock:
            for path in set(require_paths(paths)):
                segment = self._by_path.pop(path, None)
                if segment is not None:
                    self._keys.discard((segment.camera, segment.start))
                    removed += 1
        return removed

    def totals(self) -> dict[str, RecordingTotals]:
        counts: dict[str, RecordingTotals] = {}
        for s in self._sorted():
            now = counts.get(s.camera, RecordingTotals(0, 0, 0))
            largest = max(now.largest, s.bytes)
            counts[s.camera] = RecordingTotals(now.segments + 1, now.bytes + s.bytes, largest)
        return dict(sorted(counts.items()))

    def add_span(self, span: RecordingSpan) -> bool:
        span = require_span(span)
        key = (span.camera, span.kind, span.start)
        with self._lock:
            if key in self._spans:
                return False
            self._spans[key] = span
        return True

    def spans(
        self, kind: SpanKind, start: datetime, end: datetime, camera: str | None = None
    ) -> list[RecordingSpan]:
        kind = SpanKind(kind)
        first, last = require_range(start, end)
        if camera is not None:
            validate_camera(camera)
        with self._lock:
            found = [
                s
                for s in self._spans.values()
                if s.kind is kind
                and s.start < last
                and s.end > first
                and (camera is None or s.camera == camera)
            ]
        return sorted(found, key=lambda s: (s.start, s.camera))

    def remove_spans(self, kind: SpanKind, before: datetime) -> int:
        kind = SpanKind(kind)
        limit = require_instant(before, "before")
        with self._lock:
            gone = [k for k, s in self._spans.items() if s.kind is kind and s.end < limit]
            for key in gone:
                del self._spans[key]
        return len(gone)

    def close(self) -> None:
        pass
