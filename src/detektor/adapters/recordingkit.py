# ruff: noqa: S608
# The statements are assembled from constant column lists and placeholders; values are bound.
"""What every RecordingIndex adapter shares, so that they cannot drift apart: argument checks,
the list's filter and cursor, rows to segments and back, and (`SqlRecordingIndex`) the
statements themselves, written once for SQLite and PostgreSQL, which differ here only in
their placeholders and in how a statement is run.

Times go to the stores as `format_timestamp` text, fixed-width UTC: SQLite compares the text,
PostgreSQL casts it to timestamptz.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from detektor.adapters.recording_spans import SqlSpans, require_range
from detektor.adapters.storekit import MAX_PAGE, require_limit
from detektor.domain.fields import format_timestamp, parse_timestamp
from detektor.domain.frames import validate_camera
from detektor.domain.recordings import MAX_SEGMENT, Segment, require_instant, validate_path
from detektor.ports import RecordingTotals, SegmentPage, SegmentQuery

COLUMNS = "camera, start_at, end_at, path, bytes, codec, keyframes, audio"
_REMOVE_BATCH = 500  # paths per DELETE, well under SQLite's 32766 parameters


def require_segment(item: object) -> Segment:
    """The segment, checked again: `replace` re-runs its checks, so one built around them
    (object.__setattr__ on a frozen instance) is refused too."""
    if not isinstance(item, Segment):
        raise TypeError(f"add takes a Segment, got {type(item).__name__}")
    return replace(item)


def require_paths(paths: Sequence[str]) -> list[str]:
    if isinstance(paths, str):  # a lone path would be read as its characters
        raise TypeError("remove takes a sequence of paths, not one path")
    return [validate_path(path, "paths") for path in paths]


def earliest_start(start: datetime) -> datetime:
    """No segment starting before this can end after `start` (segments are bounded)."""
    try:
        return start - MAX_SEGMENT
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def segment_params(segment: Segment) -> tuple[object, ...]:
    """The segment as parameters in COLUMNS order."""
    return (
        segment.camera,
        format_timestamp(segment.start),
        format_timestamp(segment.end),
        segment.path,
        segment.bytes,
        segment.codec,
        segment.keyframes,
        segment.audio,
    )


def segment_from(record: Sequence[Any]) -> Segment:
    """A Segment from a row selected as COLUMNS (SQLite's text times or PostgreSQL's
    datetimes). It goes through Segment's checks, so a corrupted row fails loudly."""
    camera, start, end, path, size, codec, keyframes, audio = record
    return Segment(
        camera=camera,
        start=parse_timestamp(start, "start_at"),
        end=parse_timestamp(end, "end_at"),
        path=path,
        bytes=size,
        codec=codec,
        keyframes=keyframes,
        audio=bool(audio),
    )


def sort_key(segment: Segment) -> tuple[datetime, str]:
    """The order of the list (reversed) and of retention's walk."""
    return (segment.start, segment.camera)


def encode_cursor(segment: Segment) -> str:
    """An opaque cursor after `segment` in the (start DESC, camera DESC) order."""
    raw = json.dumps(["r", format_timestamp(segment.start), segment.camera])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(start, camera) of the last segment of the previous page."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, start, camera = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if tag != "r" or not isinstance(start, str):
            raise TypeError("not a recordings cursor")
        return parse_timestamp(start, "cursor"), validate_camera(camera, "cursor")
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise ValueError(
            f"cursor {cursor[:40]!r} is not valid; pass the next_cursor of the previous page "
            "unchanged, or omit it to start from the newest segment"
        ) from exc


def segment_page(found: Sequence[Segment], limit: int) -> SegmentPage:
    """The page from up to `limit` + 1 segments in list order, and the cursor after it."""
    page = list(found[:limit])
    return SegmentPage(page, encode_cursor(page[-1]) if len(found) > limit else None)


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """A SegmentQuery checked: camera name, aware times, limit and the decoded cursor."""

    camera: str | None
    start: datetime | None
    end: datetime | None
    limit: int
    cursor: tuple[datetime, str] | None

    @classmethod
    def of(cls, query: SegmentQuery) -> SegmentFilter:
        start = None if query.start is None else require_instant(query.start, "start")
        end = None if query.end is None else require_instant(query.end, "end")
        if start is not None and end is not None:
            require_range(start, end)
        return cls(
            camera=None if query.camera is None else validate_camera(query.camera),
            start=start,
            end=end,
            limit=require_limit(query.limit, maximum=MAX_PAGE),
            cursor=decode_cursor(query.cursor) if query.cursor else None,  # "" = first page
        )

    def conditions(self, mark: str, ts: str) -> tuple[list[str], list[object]]:
        """WHERE conditions and parameters; `mark` is the placeholder, `ts` the one for a
        time. The earliest-start bound keeps a time filter an index range."""
        where: list[str] = []
        params: list[object] = []
        if self.camera is not None:
            where.append(f"camera = {mark}")
            params.append(self.camera)
        if self.start is not None:
            where.append(f"start_at >= {ts} AND end_at > {ts}")
            params += [format_timestamp(earliest_start(self.start)), format_timestamp(self.start)]
        if self.end is not None:
            where.append(f"start_at < {ts}")
            params.append(format_timestamp(self.end))
        if self.cursor is not None:
            where.append(f"(start_at, camera) < ({ts}, {mark})")
            params += [format_timestamp(self.cursor[0]), self.cursor[1]]
        return where, params

    def matches(self, segment: Segment) -> bool:
        """The same filter over a segment, for the in-memory index."""
        return (
            (self.camera is None or segment.camera == self.camera)
            and (self.start is None or segment.end > self.start)
            and (self.end is None or segment.start < self.end)
            and (self.cursor is None or sort_key(segment) < self.cursor)
        )


class SqlRecordingIndex(SqlSpans):
    """The RecordingIndex over SQL; a subclass says how to run a statement and migrates."""

    _mark = "?"  # a value's placeholder
    _ts = "?"  # a time's placeholder

    def _fetch(self, statement: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _change(self, statement: str, batches: Sequence[Sequence[object]]) -> int:
        """Run the statement once per parameter batch, all in one transaction; the rows it
        changed."""
        raise NotImplementedError

    def add(self, segment: Segment) -> bool:
        params = segment_params(require_segment(segment))
        marks = ", ".join([self._mark, self._ts, self._ts, *[self._mark] * 5])
        statement = (
            f"INSERT INTO recording_segments ({COLUMNS}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        )
        return self._change(statement, [params]) == 1

    def segments(self, query: SegmentQuery) -> SegmentPage:
        chosen = SegmentFilter.of(query)
        where, params = chosen.conditions(self._mark, self._ts)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        records = self._fetch(
            f"SELECT {COLUMNS} FROM recording_segments {condition} "
            f"ORDER BY start_at DESC, camera DESC LIMIT {self._mark}",
            (*params, chosen.limit + 1),  # one more than asked says whether a next page exists
        )
        return segment_page([segment_from(r) for r in records], chosen.limit)

    def overlapping(self, camera: str, start: datetime, end: datetime) -> list[Segment]:
        validate_camera(camera)
        first, last = require_range(start, end)
        ts = self._ts
        records = self._fetch(
            f"SELECT {COLUMNS} FROM recording_segments WHERE camera = {self._mark} "
            f"AND start_at >= {ts} AND start_at < {ts} AND end_at > {ts} ORDER BY start_at",
            (camera, *map(format_timestamp, (earliest_start(first), last, first))),
        )
        return [segment_from(r) for r in records]

    def all_for_retention(
        self,
        batch_size: int = 1000,
        *,
        camera: str | None = None,
        started_by: datetime | None = None,
    ) -> Iterator[Segment]:
        # Keyset batches: no connection or lock is held while the caller works on a batch.
        require_limit(batch_size, "batch_size", maximum=MAX_PAGE * 100)
        m, ts = self._mark, self._ts
        where: list[str] = []
        params: list[object] = []
        if camera is not None:
            where.append(f"camera = {m}")
            params.append(validate_camera(camera))
        if started_by is not None:
            where.append(f"start_at <= {ts}")
            params.append(format_timestamp(require_instant(started_by, "started_by")))
        statement = f"SELECT {COLUMNS} FROM recording_segments WHERE {{}} "
        statement += "ORDER BY start_at, camera "
        after: tuple[object, ...] = ()
        while True:
            keyset = [f"(start_at, camera) > ({ts}, {m})"] if after else []
            condition = " AND ".join([*where, *keyset]) or "TRUE"
            records = self._fetch(
                statement.format(condition) + f"LIMIT {m}", (*params, *after, batch_size)
            )
            batch = [segment_from(r) for r in records]
            yield from batch
            if len(batch) < batch_size:
                return
            after = (format_timestamp(batch[-1].start), batch[-1].camera)

    def remove(self, paths: Sequence[str]) -> int:
        wanted = sorted(set(require_paths(paths)))
        chunks = [wanted[i : i + _REMOVE_BATCH] for i in range(0, len(wanted), _REMOVE_BATCH)]
        if not chunks:
            return 0
        # One statement per chunk size: the last chunk may be shorter.
        removed = 0
        for size in sorted({len(chunk) for chunk in chunks}):
            marks = ", ".join([self._mark] * size)
            removed += self._change(
                f"DELETE FROM recording_segments WHERE path IN ({marks})",
                [chunk for chunk in chunks if len(chunk) == size],
            )
        return removed

    def totals(self) -> dict[str, RecordingTotals]:
        records = self._fetch(
            "SELECT camera, count(*), sum(bytes), max(bytes) FROM recording_segments "
            "GROUP BY camera ORDER BY camera",
            (),
        )
        return {str(c): RecordingTotals(int(n), int(size), int(top)) for c, n, size, top in records}
