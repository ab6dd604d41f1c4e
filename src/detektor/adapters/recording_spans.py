# ruff: noqa: S608
# The statements are assembled from constant column lists and placeholders; values are bound.
"""The recording index's gap and motion spans over SQL (the `recording_spans` table), shared
by the SQLite and PostgreSQL adapters through `SqlRecordingIndex`, which says how a
statement is run and what its placeholders are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from detektor.domain.errors import ValidationError
from detektor.domain.fields import format_timestamp, parse_timestamp
from detektor.domain.frames import validate_camera
from detektor.domain.recordings import RecordingSpan, SpanKind, require_instant

SPAN_COLUMNS = "camera, kind, start_at, end_at, reason"


def require_range(start: object, end: object) -> tuple[datetime, datetime]:
    first, last = require_instant(start, "start"), require_instant(end, "end")
    if last < first:
        raise ValidationError("end", f"must not be before start ({first.isoformat()})")
    return first, last


def require_span(item: object) -> RecordingSpan:
    """The span, checked again: `replace` re-runs its checks, so one built around them is
    refused too."""
    if not isinstance(item, RecordingSpan):
        raise TypeError(f"add_span takes a RecordingSpan, got {type(item).__name__}")
    return replace(item)


def span_from(record: Sequence[Any]) -> RecordingSpan:
    """A span from a row selected as SPAN_COLUMNS; through RecordingSpan's checks."""
    camera, kind, start, end, reason = record
    return RecordingSpan(
        camera=camera,
        kind=SpanKind(kind),
        start=parse_timestamp(start, "start_at"),
        end=parse_timestamp(end, "end_at"),
        reason=reason,
    )


class SqlSpans:
    """The span half of `SqlRecordingIndex`."""

    _mark = "?"
    _ts = "?"

    def _fetch(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _change(self, statement: str, batches: Sequence[Sequence[object]]) -> int:
        raise NotImplementedError

    def add_span(self, span: RecordingSpan) -> bool:
        span = require_span(span)
        m, ts = self._mark, self._ts
        params = (span.camera, span.kind.value, *map(format_timestamp, (span.start, span.end)))
        return (
            self._change(
                f"INSERT INTO recording_spans ({SPAN_COLUMNS}) "
                f"VALUES ({m}, {m}, {ts}, {ts}, {m}) ON CONFLICT DO NOTHING",
                [(*params, span.reason)],
            )
            == 1
        )

    def spans(
        self, kind: SpanKind, start: datetime, end: datetime, camera: str | None = None
    ) -> list[RecordingSpan]:
        kind = SpanKind(kind)
        first, last = require_range(start, end)
        m, ts = self._mark, self._ts
        where = [f"kind = {m}", f"start_at < {ts}", f"end_at > {ts}"]
        params: list[object] = [kind.value, format_timestamp(last), format_timestamp(first)]
        if camera is not None:
            where.append(f"camera = {m}")
            params.append(validate_camera(camera))
        records = self._fetch(
            f"SELECT {SPAN_COLUMNS} FROM recording_spans WHERE {' AND '.join(where)} "
            "ORDER BY start_at, camera",
            params,
        )
        return [span_from(r) for r in records]

    def remove_spans(self, kind: SpanKind, before: datetime) -> int:
        kind = SpanKind(kind)
        limit = format_timestamp(require_instant(before, "before"))
        return self._change(
            f"DELETE FROM recording_spans WHERE kind = {self._mark} AND end_at < {self._ts}",
            [(kind.value, limit)],
        )
