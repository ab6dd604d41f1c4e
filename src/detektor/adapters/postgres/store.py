# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""The PostgreSQL EventStore: a psycopg 3 connection pool and the reads. One append's
transaction is in `batch`, the maintenance writes (replace_rows, purge) in `maintenance`,
the schema in `schema`.

Connections are in autocommit mode, so a read is one statement and one round trip; writes
open explicit transactions. Every pooled connection is configured once, when the pool opens
it: search_path to the store's schema and the session time zone to UTC. The sync API is
meant to be called from a thread pool; the pool lends each thread its own connection.

Writes that move projection rows (append, replace_rows, purge) all take the schema's append
lock, so per-camera counts never drift from the rows they summarise. Purge removes whole
frames, row, events and counts in one transaction (ADR 13), and re-folds or removes the
objects whose events went with them. Appends and purges also take the
service lock's key in shared mode, so they wait while a replay holds it (`service_lock`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from detektor.adapters.objectkit import ObjectFilter, in_fold_order, is_object_id, page_of
from detektor.adapters.postgres import batch, codec, maintenance, objects, timescale
from detektor.adapters.postgres.pool import open_pool, require_schema
from detektor.adapters.postgres.schema import (
    DEFAULT_RETENTION_DAYS,
    IS_IN_FLIGHT,
    append_lock,
    migrate,
)
from detektor.adapters.postgres.service_lock import ServiceLock
from detektor.adapters.storekit import (
    MAX_PAGE,
    Bucket,
    accounting_from_buckets,
    decode_cursor,
    encode_cursor,
    frame_filters,
    require_aware,
    require_limit,
    require_position,
    stale_cutoff,
)
from detektor.domain.accounting import Accounting
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.object_projection import ObjectView
from detektor.domain.projection import FrameRow
from detektor.domain.timeline import FrameView, view_of
from detektor.ports import (
    AppendResult,
    Checkpoint,
    FramePage,
    FrameQuery,
    ObjectPage,
    ObjectQuery,
)


class PostgresEventStore:
    def __init__(
        self,
        url: str,
        *,
        schema: str = "detektor",
        min_size: int = 1,
        max_size: int = 4,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        connect_timeout_s: float = 10.0,
    ) -> None:
        require_schema(schema)
        if not (math.isfinite(retention_days) and retention_days > 0):
            raise ValueError(f"retention_days must be a positive number, got {retention_days!r}")
        self._schema = schema
        self._retention_days = retention_days
        self._lock = append_lock(schema)
        self._service_lock = ServiceLock(url, schema, connect_timeout_s)
        self._timescale: str | None = None  # the extension's schema once events is a hypertable
        self._pool = open_pool(
            url,
            schema,
            name="detektor-events",
            min_size=min_size,
            max_size=max_size,
            connect_timeout_s=connect_timeout_s,
        )

    def __enter__(self) -> PostgresEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._service_lock.close()
        self._pool.close()

    def migrate(self) -> list[str]:
        with self._pool.connection() as conn:
            applied = migrate(conn, self._schema, self._retention_days)
            support = timescale.probe(conn)
        self._timescale = support.installed_in if support.hypertable else None
        return applied

    def append(
        self,
        events: Sequence[Envelope],
        *,
        expected_versions: Mapping[FrameId, int] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[AppendResult]:
        with self._pool.connection() as conn:
            return batch.append(
                conn, self._service_lock.key, self._lock, events, expected_versions, checkpoint
            )

    def checkpoint(self, consumer: str) -> str | None:
        row = self._one("SELECT position FROM checkpoints WHERE consumer = %s", (consumer,))
        return None if row is None else str(row[0])

    def version(self, frame_id: FrameId) -> int:
        row = self._one("SELECT version FROM frames WHERE frame_id = %s", (str(frame_id),))
        return 0 if row is None else int(row[0])

    def frame(self, frame_id: FrameId) -> FrameView | None:
        records = self._all(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE frame_id = %s ORDER BY position",
            (str(frame_id),),
        )
        return view_of(map(codec.event_from, records))

    def frames(self, query: FrameQuery) -> FramePage:
        limit = require_limit(query.limit, maximum=MAX_PAGE)
        where, params = frame_filters(query, "%s")
        if query.cursor:
            where.append("(captured_at, frame_id) < (%s::timestamptz, %s)")
            params.extend(decode_cursor(query.cursor))
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        records = self._all(
            f"SELECT {codec.FRAME_COLUMNS} FROM frames {condition} "
            "ORDER BY captured_at DESC, frame_id DESC LIMIT %s",
            (*params, limit + 1),  # one more than asked says whether a next page exists
        )
        page = [codec.frame_from(record) for record in records[:limit]]
        return FramePage(page, encode_cursor(page[-1]) if len(records) > limit else None)

    def objects(self, query: ObjectQuery) -> ObjectPage:
        chosen = ObjectFilter.of(query)
        with self._pool.connection() as conn:
            rows = objects.select(conn, chosen)
        return ObjectPage(*page_of([row.view for row in rows], chosen.limit))

    def object(self, object_id: str) -> tuple[ObjectView, list[Envelope]] | None:
        if not is_object_id(object_id):
            return None
        # One snapshot for the row and its events, so a purge between them cannot split them.
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = objects.load(conn, [object_id]).get(object_id)
            stream = objects.events_at(conn, row.positions) if row else []
        if row is None:
            return None
        return row.view, [envelope for _, envelope in in_fold_order(stream)]

    def accounting(self, camera: str, now: datetime, stale_after: timedelta) -> Accounting:
        cutoff = stale_cutoff(camera, now, stale_after)
        with self._pool.connection() as conn, conn.pipeline():
            buckets = conn.execute(
                "SELECT state, reason, has_captured, n FROM camera_counts "
                "WHERE camera = %s AND n <> 0",
                (camera,),
            )
            stale = conn.execute(
                f"SELECT count(*) FROM frames WHERE camera = %s AND {IS_IN_FLIGHT} "
                "AND last_event_at < %s",
                (camera, cutoff),
            )
            counted: list[tuple[Bucket, int]] = [
                ((state, reason, captured), n) for state, reason, captured, n in buckets
            ]
            stale_row = stale.fetchone()
        # No cutoff: the timeout reaches back before year 1, so nothing can be stale.
        stale_count = int(stale_row[0]) if stale_row and cutoff is not None else 0
        return accounting_from_buckets(camera, counted, stale_count)

    def cameras(self) -> list[str]:
        return [
            str(camera)
            for (camera,) in self._all(
                "SELECT DISTINCT camera FROM camera_counts WHERE n > 0 ORDER BY camera"
            )
        ]

    def read_log(self, after: int, limit: int) -> list[tuple[int, Envelope]]:
        require_position(after)
        require_limit(limit)
        records = self._all(
            f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE position > %s "
            "ORDER BY position LIMIT %s",
            (after, limit),
        )
        return [codec.event_from(record) for record in records]

    def frame_rows(self, after: FrameId | None, limit: int) -> list[FrameRow]:
        require_limit(limit)
        records = self._all(
            f"SELECT {codec.FRAME_COLUMNS} FROM frames WHERE frame_id > %s "
            "ORDER BY frame_id LIMIT %s",
            ("" if after is None else str(after), limit),
        )
        return [codec.frame_from(record) for record in records]

    def replace_rows(self, rows: Sequence[FrameRow]) -> None:
        if rows:
            with self._pool.connection() as conn:
                maintenance.replace_rows(conn, self._lock, rows)

    def purge(self, older_than: datetime, batch_size: int = 10_000) -> int:
        require_aware(older_than, "older_than")
        require_limit(batch_size, "batch_size")
        with self._pool.connection() as conn:
            return maintenance.purge(
                conn, self._service_lock.key, self._lock, self._timescale, older_than, batch_size
            )

    def hold_service_lock(self) -> None:
        self._service_lock.hold_shared()

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        with self._service_lock.exclusive():
            yield

    def _one(self, query: Any, params: Any = None) -> tuple[Any, ...] | None:
        with self._pool.connection() as conn:
            return conn.execute(query, params).fetchone()

    def _all(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(query, params).fetchall()
