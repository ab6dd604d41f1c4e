"""The in-memory EventStore (`memory://`): the reference behaviour of the contract, and the
twin for tests and throwaway runs.

It owns the global log, the per-frame streams and projection rows, the object rows, and the
checkpoints, all behind one lock. It favours being obviously correct over being fast: lists
are scanned and accounting is folded from the rows with `domain.accounting.account` itself.
The frame list and replay's rows in id order are read by `memory_frames`.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detektor.adapters.memory_frames import frame_page, rows_in_id_order
from detektor.adapters.objectkit import (
    ObjectFilter,
    ObjectRow,
    advance_row,
    in_fold_order,
    is_object_id,
    object_id_of,
    page_of,
    refold,
    sort_key,
)
from detektor.adapters.storekit import (
    MAINTENANCE_RUNNING,
    SERVICE_RUNNING,
    VersionGate,
    checkpoint_advances,
    project,
    require_aware,
    require_envelope,
    require_limit,
    require_position,
)
from detektor.domain.accounting import Accounting, FrameSummary, account
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.object_projection import ObjectView
from detektor.domain.projection import FrameRow
from detektor.domain.timeline import FrameView, view_of
from detektor.ports import (
    AppendResult,
    AppendStatus,
    Checkpoint,
    FramePage,
    FrameQuery,
    ObjectPage,
    ObjectQuery,
    StoreLocked,
)

Stream = list[tuple[int, Envelope]]


@dataclass
class _Staged:
    """One append's changes, merged into the store only when the whole batch succeeded:
    that is what makes a batch atomic here, as a transaction does in a database."""

    first_position: int
    log: Stream = field(default_factory=list)
    positions: dict[uuid.UUID, int] = field(default_factory=dict)
    streams: dict[FrameId, Stream] = field(default_factory=dict)
    rows: dict[FrameId, FrameRow] = field(default_factory=dict)
    objects: dict[str, ObjectRow] = field(default_factory=dict)


class MemoryEventStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: Stream = []  # ascending by position
        self._positions: dict[uuid.UUID, int] = {}
        self._streams: dict[FrameId, Stream] = {}
        self._rows: dict[FrameId, FrameRow] = {}
        self._objects: dict[str, ObjectRow] = {}
        self._checkpoints: dict[str, str] = {}
        # Positions are never reused, even after purge, so a reader's `after` stays valid.
        self._last_position = 0
        # Nothing outside this process reaches this store, so the locks are two flags.
        self._service = False
        self._maintenance = False

    def migrate(self) -> list[str]:
        return []  # nothing persistent, so no schema to migrate

    def append(
        self,
        events: Sequence[Envelope],
        *,
        expected_versions: Mapping[FrameId, int] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[AppendResult]:
        gate = VersionGate(expected_versions)
        with self._lock:
            staged = _Staged(first_position=self._last_position + 1)
            results = [self._stage(staged, gate, item) for item in events]
            self._commit(staged, checkpoint)
        return results

    def _stage(self, staged: _Staged, gate: VersionGate, item: object) -> AppendResult:
        envelope = require_envelope(item)
        event_id, frame_id = envelope.event_id, envelope.frame_id
        stored = staged.positions.get(event_id, self._positions.get(event_id))
        if stored is not None:
            return AppendResult(event_id, AppendStatus.DUPLICATE, position=stored)
        row = staged.rows.get(frame_id, self._rows.get(frame_id))
        reason = gate.conflict(frame_id, lambda: row.version if row else 0)
        if reason is not None:
            return AppendResult(event_id, AppendStatus.CONFLICT, reason=reason)
        position = staged.first_position + len(staged.log)
        step = project(
            row,
            position,
            envelope,
            lambda: [*self._streams.get(frame_id, []), *staged.streams.get(frame_id, [])],
        )
        staged.log.append((position, envelope))
        staged.positions[event_id] = position
        staged.streams.setdefault(frame_id, []).append((position, envelope))
        if step is None:  # an object event: its object's row moves instead
            object_id = object_id_of(envelope)
            obj = staged.objects.get(object_id, self._objects.get(object_id))
            before = obj.positions if obj else ()
            staged.objects[object_id] = advance_row(
                obj, position, envelope, lambda: self._events_at(before, staged)
            )
            return AppendResult(event_id, AppendStatus.APPENDED, position=position)
        staged.rows[frame_id] = step.row
        return AppendResult(
            event_id, AppendStatus.APPENDED, position=position, anomaly=step.anomaly
        )

    def _commit(self, staged: _Staged, checkpoint: Checkpoint | None) -> None:
        self._log.extend(staged.log)
        self._positions.update(staged.positions)
        for frame_id, added in staged.streams.items():
            self._streams.setdefault(frame_id, []).extend(added)
        self._rows.update(staged.rows)
        self._objects.update(staged.objects)
        self._last_position += len(staged.log)
        if checkpoint is not None and checkpoint_advances(
            self._checkpoints.get(checkpoint.consumer), checkpoint.position
        ):
            self._checkpoints[checkpoint.consumer] = checkpoint.position

    def checkpoint(self, consumer: str) -> str | None:
        with self._lock:
            return self._checkpoints.get(consumer)

    def version(self, frame_id: FrameId) -> int:
        with self._lock:
            row = self._rows.get(frame_id)
            return row.version if row else 0

    def frame(self, frame_id: FrameId) -> FrameView | None:
        with self._lock:
            stream = list(self._streams.get(frame_id, []))
        return view_of(stream)

    def frames(self, query: FrameQuery) -> FramePage:
        return frame_page(query, self._frame_rows_now)

    def _frame_rows_now(self) -> list[FrameRow]:
        with self._lock:
            return list(self._rows.values())

    def objects(self, query: ObjectQuery) -> ObjectPage:
        chosen = ObjectFilter.of(query)
        with self._lock:
            views = [row.view for row in self._objects.values() if chosen.matches(row.view)]
        ordered = sorted(views, key=sort_key, reverse=True)
        return ObjectPage(*page_of(ordered[: chosen.limit + 1], chosen.limit))

    def object(self, object_id: str) -> tuple[ObjectView, list[Envelope]] | None:
        if not is_object_id(object_id):
            return None
        with self._lock:
            row = self._objects.get(object_id)
            if row is None:
                return None
            stream = self._events_at(row.positions)
        return row.view, [envelope for _, envelope in in_fold_order(stream)]

    def _events_at(self, positions: Sequence[int], staged: _Staged | None = None) -> Stream:
        """The stored (position, envelope) pairs at `positions`, the staged ones included."""
        found: Stream = []
        for position in positions:
            log = self._log if staged is None or position < staged.first_position else staged.log
            at = bisect.bisect_left(log, position, key=lambda pair: pair[0])
            if at < len(log) and log[at][0] == position:
                found.append(log[at])
        return found

    def accounting(self, camera: str, now: datetime, stale_after: timedelta) -> Accounting:
        with self._lock:
            rows = [row for row in self._rows.values() if row.camera == camera]
        summaries = (
            FrameSummary(row.state, row.reason, row.has_captured, row.last_event_at) for row in rows
        )
        return account(camera, summaries, now, stale_after)

    def cameras(self) -> list[str]:
        with self._lock:
            return sorted({row.camera for row in self._rows.values()})

    def read_log(self, after: int, limit: int) -> list[tuple[int, Envelope]]:
        require_position(after)
        require_limit(limit)
        with self._lock:
            start = bisect.bisect_right(self._log, after, key=lambda pair: pair[0])
            return self._log[start : start + limit]

    def frame_rows(self, after: FrameId | None, limit: int) -> list[FrameRow]:
        require_limit(limit)
        with self._lock:
            rows = list(self._rows.values())
        return rows_in_id_order(rows, after, limit)

    def replace_rows(self, rows: Sequence[FrameRow]) -> None:
        with self._lock:
            for row in rows:
                self._rows[row.frame_id] = row

    def purge(self, older_than: datetime, batch_size: int = 10_000) -> int:
        require_aware(older_than, "older_than")
        require_limit(batch_size, "batch_size")
        with self._lock:
            doomed = {
                frame_id for frame_id, row in self._rows.items() if row.last_event_at < older_than
            }
            kept = [(p, e) for p, e in self._log if e.frame_id not in doomed]
            touched = {
                object_id_of(e) for _, e in self._log if e.frame_id in doomed and e.is_object_event
            }
            deleted = len(self._log) - len(kept)
            self._log = kept
            self._positions = {e.event_id: p for p, e in kept}
            for frame_id in doomed:
                self._streams.pop(frame_id, None)
                del self._rows[frame_id]
            # An object goes with its last event; one that kept some is folded from those.
            for object_id in touched:
                row = refold(self._events_at(self._objects[object_id].positions))
                if row is None:
                    del self._objects[object_id]
                else:
                    self._objects[object_id] = row
        return deleted

    def hold_service_lock(self) -> None:
        with self._lock:
            if self._maintenance:
                raise StoreLocked(MAINTENANCE_RUNNING)
            self._service = True

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        with self._lock:
            if self._service:
                raise StoreLocked(SERVICE_RUNNING)
            self._maintenance = True
        try:
            yield
        finally:
            with self._lock:
                self._maintenance = False

    def close(self) -> None:
        pass  # nothing to release
