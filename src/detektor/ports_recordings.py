"""The recording index's port: every closed segment file the recorder wrote, and the gap and
motion spans over them, with the query, page and totals types its readers use.

It is re-exported by ``detektor.ports``, where the services import it from; its adapters are
``adapters.memory_recordings`` and the SQL ``adapters.recordingkit`` (contract tests:
``tests/contract/test_recording_index.py`` and ``test_recording_spans.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from detektor.domain.recordings import RecordingSpan, Segment, SpanKind


@dataclass(frozen=True, slots=True)
class SegmentQuery:
    camera: str | None = None
    start: datetime | None = None  # segments ending after start
    end: datetime | None = None  # segments starting before end
    limit: int = 100
    cursor: str | None = None  # opaque, from SegmentPage.next_cursor


@dataclass(frozen=True, slots=True)
class SegmentPage:
    segments: list[Segment]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RecordingTotals:
    segments: int
    bytes: int
    largest: int  # the bytes of its biggest segment


class RecordingIndex(Protocol):
    """Every closed segment file the recorder wrote: what clips, exports, the recordings list
    and retention read. The SQL adapters keep it in the event store's database.

    Times are compared as instants (any offset is accepted, naive ones are refused); a
    segment is identified both by (camera, start) and by its path.
    """

    def migrate(self) -> list[str]:
        """Apply pending schema migrations; idempotent. Returns the versions applied now."""
        ...

    def add(self, segment: Segment) -> bool:
        """Index a segment; True when stored, False when a segment with its (camera, start)
        or its path is already there (that one is kept as it is: a retried add is a no-op)."""
        ...

    def segments(self, query: SegmentQuery) -> SegmentPage:
        """Segments newest first by start (then camera), filtered, cursor pagination."""
        ...

    def overlapping(self, camera: str, start: datetime, end: datetime) -> list[Segment]:
        """The camera's segments that overlap [start, end), in start order (for a clip)."""
        ...

    def all_for_retention(
        self,
        batch_size: int = 1000,
        *,
        camera: str | None = None,
        started_by: datetime | None = None,
    ) -> Iterator[Segment]:
        """Every segment (of `camera`, and starting no later than `started_by`, when given), in
        (start, camera) order, read `batch_size` at a time as it is consumed (no lock is held
        in between: segments added meanwhile may be missed)."""
        ...

    def remove(self, paths: Sequence[str]) -> int:
        """Forget the segments at these paths; returns how many were indexed."""
        ...

    def totals(self) -> dict[str, RecordingTotals]:
        """Per camera with any segment: how many, their bytes and the biggest one's."""
        ...

    def add_span(self, span: RecordingSpan) -> bool:
        """Keep a gap or motion span; True when stored, False when one of its (camera, kind,
        start) is already there (that one is kept: a retried add is a no-op)."""
        ...

    def spans(
        self, kind: SpanKind, start: datetime, end: datetime, camera: str | None = None
    ) -> list[RecordingSpan]:
        """The spans of `kind` that overlap [start, end) (span.start < end and span.end >
        start), of one camera or all, in (start, camera) order."""
        ...

    def remove_spans(self, kind: SpanKind, before: datetime) -> int:
        """Forget the spans of `kind` that ended before `before`; returns how many."""
        ...

    def close(self) -> None: ...
