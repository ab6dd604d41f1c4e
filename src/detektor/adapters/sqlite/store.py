"""The SQLite EventStore: stdlib sqlite3, one connection in WAL mode behind a lock.

Every append runs in one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock before
anything is read. Appends are therefore serialised, within this process by the lock and across
processes by SQLite, and positions (AUTOINCREMENT) commit in the order they are assigned: no
transaction can commit position N+1 while N is still uncommitted. That is why a catch-up
reader of `read_log(after=N)` never skips an event that commits late. The frame's projection
row, the per-camera counts, the object's row (`objects`) and the consumer's checkpoint are
written in the same transaction.

WAL lets readers in other processes read while one process appends; `busy_timeout` makes a
writer wait for another process's write lock instead of failing at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from detektor.adapters.objectkit import ObjectFilter, in_fold_order, is_object_id, page_of
from detektor.adapters.sqlite import codec, connection, objects, schema
from detektor.adapters.sqlite.lockfile import LockFile
from detektor.adapters.storekit import (
    MAX_PAGE,
    Bucket,
    VersionGate,
    accounting_from_buckets,
    bucket,
    checkpoint_advances,
    decode_cursor,
    encode_cursor,
    frame_filters,
    project,
    require_aware,
    require_envelope,
    require_limit,
    require_position,
    stale_cutoff,
)
from detektor.domain.accounting import Accounting
from detektor.domain.events import Envelope
from detektor.domain.fields import format_timestamp
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
)


class SqliteEventStore:
    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self._lock = threading.Lock()
        self._files = LockFile(path)
        self._db = connection.connect(path, busy_timeout_ms)

    def _transaction(self, mode: str = "IMMEDIATE") -> AbstractContextManager[sqlite3.Connection]:
        return connection.transaction(self._db, self._lock, mode)

    def migrate(self) -> list[str]:
        with self._lock:
            return schema.migrate(self._db)

    def append(
        self,
        events: Sequence[Envelope],
        *,
        expected_versions: Mapping[FrameId, int] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[AppendResult]:
        gate = VersionGate(expected_versions)
        with self._files.writing(), self._transaction() as db:
            results = [self._append_one(db, gate, item) for item in events]
            if checkpoint is not None and checkpoint_advances(
                _checkpoint(db, checkpoint.consumer), checkpoint.position
            ):
                db.execute(
                    "INSERT INTO checkpoints (consumer, position) VALUES (?, ?) "
                    "ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
                    (checkpoint.consumer, checkpoint.position),
                )
        return results

    def _append_one(self, db: sqlite3.Connection, gate: VersionGate, item: object) -> AppendResult:
        envelope = require_envelope(item)
        event_id, frame_id = envelope.event_id, envelope.frame_id
        found = db.execute(
            "SELECT position FROM events WHERE event_id = ?", (str(event_id),)
        ).fetchone()
        if found is not None:
            return AppendResult(event_id, AppendStatus.DUPLICATE, position=found[0])
        row = _row(db, frame_id)
        reason = gate.conflict(frame_id, lambda: row.version if row else 0)
        if reason is not None:
            return AppendResult(event_id, AppendStatus.CONFLICT, reason=reason)
        position = db.execute(codec.INSERT_EVENT, codec.event_params(envelope)).lastrowid
        assert position is not None
        step = project(row, position, envelope, lambda: _stream(db, frame_id, but=position))
        if step is None:  # an object event: its object's row moves instead
            objects.advance(db, position, envelope)
            return AppendResult(event_id, AppendStatus.APPENDED, position=position)
        if step.anomaly is not None:
            db.execute("UPDATE events SET anomaly = ? WHERE position = ?", (step.anomaly, position))
        _save_row(db, row, step.row)
        return AppendResult(
            event_id, AppendStatus.APPENDED, position=position, anomaly=step.anomaly
        )

    def checkpoint(self, consumer: str) -> str | None:
        with self._lock:
            return _checkpoint(self._db, consumer)

    def version(self, frame_id: FrameId) -> int:
        with self._lock:
            row = _row(self._db, frame_id)
        return row.version if row else 0

    def frame(self, frame_id: FrameId) -> FrameView | None:
        with self._lock:
            stream = _stream(self._db, frame_id)
        return view_of(stream)

    def frames(self, query: FrameQuery) -> FramePage:
        limit = require_limit(query.limit, maximum=MAX_PAGE)
        where, params = frame_filters(query, "?")
        if query.cursor:  # an empty cursor, as from `?cursor=`, means the first page
            where.append("(captured_at < ? OR (captured_at = ? AND frame_id < ?))")
            captured_at, frame_id = decode_cursor(query.cursor)
            params.extend([captured_at, captured_at, frame_id])
        # One row more than the page: whether it exists decides if there is a next page.
        with self._lock:
            records = self._db.execute(codec.select_frames(where), (*params, limit + 1)).fetchall()
        rows = [codec.frame_from(record) for record in records[:limit]]
        return FramePage(rows, encode_cursor(rows[-1]) if len(records) > limit else None)

    def objects(self, query: ObjectQuery) -> ObjectPage:
        chosen = ObjectFilter.of(query)
        with self._lock:
            rows = objects.select(self._db, chosen)
        return ObjectPage(*page_of([row.view for row in rows], chosen.limit))

    def object(self, object_id: str) -> tuple[ObjectView, list[Envelope]] | None:
        if not is_object_id(object_id):
            return None
        with self._transaction("DEFERRED") as db:
            row = objects.load(db, object_id)
            stream = objects.events_at(db, row.positions) if row else []
        if row is None:
            return None
        return row.view, [envelope for _, envelope in in_fold_order(stream)]

    def accounting(self, camera: str, now: datetime, stale_after: timedelta) -> Accounting:
        cutoff = stale_cutoff(camera, now, stale_after)
        with self._transaction("DEFERRED") as db:
            counts = db.execute(
                "SELECT state, reason, has_captured, n FROM camera_counts "
                "WHERE camera = ? AND n > 0",
                (camera,),
            ).fetchall()
            stale = 0
            if cutoff is not None:
                (stale,) = db.execute(
                    codec.COUNT_STALE, (camera, format_timestamp(cutoff))
                ).fetchone()
        buckets = [((state, reason, bool(captured)), n) for state, reason, captured, n in counts]
        return accounting_from_buckets(camera, buckets, stale)

    def cameras(self) -> list[str]:
        with self._lock:
            found = self._db.execute(
                "SELECT DISTINCT camera FROM camera_counts WHERE n > 0 ORDER BY camera"
            ).fetchall()
        return [camera for (camera,) in found]

    def read_log(self, after: int, limit: int) -> list[tuple[int, Envelope]]:
        require_position(after)
        require_limit(limit)
        with self._lock:
            records = self._db.execute(codec.SELECT_LOG, (after, limit)).fetchall()
        return [codec.event_from(record) for record in records]

    def frame_rows(self, after: FrameId | None, limit: int) -> list[FrameRow]:
        require_limit(limit)
        with self._lock:
            records = self._db.execute(
                codec.SELECT_FRAME_ROWS, ("" if after is None else str(after), limit)
            ).fetchall()
        return [codec.frame_from(record) for record in records]

    def replace_rows(self, rows: Sequence[FrameRow]) -> None:
        with self._transaction() as db:
            for row in rows:
                _save_row(db, _row(db, row.frame_id), row)

    def purge(self, older_than: datetime, batch_size: int = 10_000) -> int:
        cutoff = require_aware(older_than, "older_than")
        require_limit(batch_size, "batch_size")
        deleted = 0
        # Whole frames (ADR 13), one transaction per batch of frames, so appends are not held
        # up behind a long purge and a frame never loses its events without its row.
        while True:
            with self._files.writing(), self._transaction() as db:
                gone = db.execute(codec.SELECT_PURGEABLE_FRAMES, (cutoff, batch_size)).fetchall()
                rows = [codec.frame_from(record) for record in gone]
                ids = [(str(r.frame_id),) for r in rows]
                touched: set[str] = set()
                for frame_id in ids:
                    touched |= objects.touched(db, frame_id[0])
                    deleted += db.execute(
                        "DELETE FROM events WHERE frame_id = ?", frame_id
                    ).rowcount
                db.executemany("DELETE FROM frames WHERE frame_id = ?", ids)
                for (camera, key), n in Counter((r.camera, bucket(r)) for r in rows).items():
                    _count(db, camera, key, -n)
                objects.resync(db, touched)
            if len(rows) < batch_size:
                return deleted

    def hold_service_lock(self) -> None:
        with self._lock:
            self._files.hold_shared()

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        with self._files.exclusive():
            yield

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._files.close()


def _checkpoint(db: sqlite3.Connection, consumer: str) -> str | None:
    found = db.execute(
        "SELECT position FROM checkpoints WHERE consumer = ?", (consumer,)
    ).fetchone()
    return None if found is None else str(found[0])


def _row(db: sqlite3.Connection, frame_id: FrameId) -> FrameRow | None:
    found = db.execute(codec.SELECT_FRAME, (str(frame_id),)).fetchone()
    return None if found is None else codec.frame_from(found)


def _stream(db: sqlite3.Connection, frame_id: FrameId, but: int = 0) -> list[tuple[int, Envelope]]:
    """The frame's stored events, except the one at position `but`."""
    records = db.execute(codec.SELECT_STREAM, (str(frame_id), but)).fetchall()
    return [codec.event_from(record) for record in records]


def _save_row(db: sqlite3.Connection, old: FrameRow | None, new: FrameRow) -> None:
    """Write a frame's row and move it between count buckets, in the caller's transaction."""
    db.execute(codec.UPSERT_FRAME, codec.frame_params(new))
    if old is not None and (old.camera, bucket(old)) == (new.camera, bucket(new)):
        return
    if old is not None:
        _count(db, old.camera, bucket(old), -1)
    _count(db, new.camera, bucket(new), 1)


def _count(db: sqlite3.Connection, camera: str, key: Bucket, delta: int) -> None:
    state, reason, has_captured = key
    params = (camera, state, reason, int(has_captured))
    db.execute(
        "INSERT INTO camera_counts (camera, state, reason, has_captured, n) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (camera, state, reason, has_captured) "
        "DO UPDATE SET n = n + excluded.n",
        (*params, delta),
    )
    if delta < 0:
        # Empty buckets are removed so that cameras() and accounting see only live ones.
        db.execute(
            "DELETE FROM camera_counts WHERE camera = ? AND state = ? AND reason = ? "
            "AND has_captured = ? AND n <= 0",
            params,
        )
