# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""One `append`: the transaction that stores a batch of events, moves their frames'
projection rows and per-camera counts, and records the consumer's checkpoint.

Ordering. Every append first takes a transaction-scoped advisory lock (one key per schema)
and only then allocates positions, so appends are serialised and positions become visible in
commit order: the lock is released after the commit is visible, and the next append cannot
draw a position before that. A catch-up reader of `read_log(after=N)` therefore never skips
an event that commits late with a lower position. Without the lock, a transaction holding
position 7 could commit after one holding 8, and a reader that had already moved past 8
would miss 7 for good. The rejected alternative kept appends concurrent and made readers stop
at a high-water mark below the oldest position still in flight (xid / `pg_snapshot_xmin`
bookkeeping per event); it costs a column and a wider index, makes every reader reason
about snapshots, and delays readers behind any long transaction. One writer at a time is
ample for one home's cameras. The lock also serialises each frame's projection update, so
no row lock or retry is needed.

The lock is its own statement: a READ COMMITTED statement takes its snapshot when it starts,
so a query that waited for the lock inside itself would read with a snapshot from before the
previous append committed.

Round trips: the lock, the duplicate lookup, the frames' rows and the first position go in
one pipeline; the writes (events, rows, counts, checkpoint) in another. Batches of
COPY_THRESHOLD events or more write the events with binary COPY, which cannot be pipelined
but is the fastest way in. Positions are drawn as one `nextval` and, for more than one
event, advanced with `setval` under the lock; gaps (rolled-back or duplicate-only batches)
are harmless, since readers only need order.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from psycopg import Connection

from detektor.adapters.postgres import codec
from detektor.adapters.storekit import Bucket, VersionGate, bucket, project, require_envelope
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.projection import FrameRow
from detektor.ports import AppendResult, AppendStatus, Checkpoint

COPY_THRESHOLD = 64

Stream = list[tuple[int, Envelope]]

_UPSERT_COUNTS = (
    "INSERT INTO camera_counts (camera, state, reason, has_captured, n) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bool[], %b::int8[]) "
    "ON CONFLICT (camera, state, reason, has_captured) "
    "DO UPDATE SET n = camera_counts.n + EXCLUDED.n"
)
_UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (consumer, position) VALUES (%s, %s) ON CONFLICT (consumer) "
    "DO UPDATE SET position = EXCLUDED.position, updated_at = now()"
)
_STREAMS = f"SELECT {codec.EVENT_COLUMNS} FROM events WHERE frame_id = ANY(%b) ORDER BY position"


def append(
    conn: Connection[Any],
    lock: int,
    events: Sequence[Envelope],
    expected_versions: Mapping[FrameId, int] | None,
    checkpoint: Checkpoint | None,
) -> list[AppendResult]:
    """Store `events` atomically on an autocommit connection; one result per event."""
    envelopes = [require_envelope(item) for item in events]
    if not envelopes and checkpoint is None:
        return []
    ids = [e.event_id for e in envelopes]
    frame_ids = sorted({str(e.frame_id) for e in envelopes})
    with conn.transaction():
        with conn.pipeline():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            found = conn.execute(
                "SELECT event_id, position FROM events WHERE event_id = ANY(%b)", (ids,)
            )
            rows = conn.execute(
                f"SELECT {codec.FRAME_COLUMNS} FROM frames WHERE frame_id = ANY(%b)", (frame_ids,)
            )
            first = conn.execute("SELECT nextval('events_position_seq')")
        batch = _Batch(
            conn,
            stored=dict(found.fetchall()),
            rows={row.frame_id: row for row in map(codec.frame_from, rows.fetchall())},
            first_position=_scalar(first.fetchone()),
            gate=VersionGate(expected_versions),
        )
        results = [batch.admit(envelope) for envelope in envelopes]
        anomalies = batch.project()
        batch.write(checkpoint)
    return [
        AppendResult(envelopes[i].event_id, AppendStatus.APPENDED, position=r, anomaly=anomalies[r])
        if isinstance(r, int)
        else r
        for i, r in enumerate(results)
    ]


class _Batch:
    """The state of one append between its reads and its writes."""

    def __init__(
        self,
        conn: Connection[Any],
        *,
        stored: dict[uuid.UUID, int],
        rows: dict[FrameId, FrameRow],
        first_position: int,
        gate: VersionGate,
    ) -> None:
        self._conn = conn
        self._stored = stored  # event_id -> position, of this batch's ids already in the log
        self._before = rows  # the batch's frames' rows as they were
        self._rows = dict(rows)  # ... and as the batch moves them
        self._first = first_position
        self._gate = gate
        self._admitted: Stream = []
        self._positions: dict[uuid.UUID, int] = {}
        self._records: list[codec.EventRecord] = []

    def admit(self, envelope: Envelope) -> AppendResult | int:
        """A DUPLICATE or CONFLICT result, or the position an admitted event will have."""
        event_id, frame_id = envelope.event_id, envelope.frame_id
        stored = self._positions.get(event_id, self._stored.get(event_id))
        if stored is not None:
            return AppendResult(event_id, AppendStatus.DUPLICATE, position=stored)
        row = self._before.get(frame_id)
        reason = self._gate.conflict(frame_id, lambda: row.version if row else 0)
        if reason is not None:
            return AppendResult(event_id, AppendStatus.CONFLICT, reason=reason)
        position = self._first + len(self._admitted)
        self._admitted.append((position, envelope))
        self._positions[event_id] = position
        return position

    def project(self) -> dict[int, str | None]:
        """Move the rows by every admitted event in order; each event's anomaly by position."""
        streams = self._load_streams(self._late_frames())
        anomalies: dict[int, str | None] = {}
        for position, envelope in self._admitted:
            frame_id = envelope.frame_id
            history = partial(self._history, streams, frame_id, position)
            step = project(self._rows.get(frame_id), position, envelope, history)
            self._rows[frame_id] = step.row
            if frame_id in streams:
                streams[frame_id].append((position, envelope))
            anomalies[position] = step.anomaly
            self._records.append(codec.event_record(position, envelope, step.anomaly))
        return anomalies

    def _late_frames(self) -> list[str]:
        """Frames that will need a re-fold. New positions exceed every stored one and a row's
        last_event_at is its latest occurred_at, so an event sorts before a row exactly when
        it occurred before that frame's latest event so far."""
        latest = {frame_id: row.last_event_at for frame_id, row in self._before.items()}
        late: set[str] = set()
        for _, envelope in self._admitted:
            seen = latest.get(envelope.frame_id)
            if seen is not None and envelope.occurred_at < seen:
                late.add(str(envelope.frame_id))
            else:
                latest[envelope.frame_id] = envelope.occurred_at
        return sorted(late)

    def _load_streams(self, frame_ids: list[str]) -> dict[FrameId, Stream]:
        """The stored events of the frames about to be re-folded, in one query."""
        streams: dict[FrameId, Stream] = {FrameId.parse(text): [] for text in frame_ids}
        if frame_ids:
            for record in self._conn.execute(_STREAMS, (frame_ids,)):
                position, envelope = codec.event_from(record)
                streams[envelope.frame_id].append((position, envelope))
        return streams

    def _history(self, streams: dict[FrameId, Stream], frame_id: FrameId, position: int) -> Stream:
        """The frame's events before `position`: stored ones, then this batch's."""
        if frame_id not in streams:
            # Only if _late_frames missed the frame: still correct, at the cost of a query.
            streams[frame_id] = self._load_streams([str(frame_id)])[frame_id] + [
                (p, e) for p, e in self._admitted if e.frame_id == frame_id and p < position
            ]
        return streams[frame_id]

    def write(self, checkpoint: Checkpoint | None) -> None:
        conn, records = self._conn, self._records
        if len(records) >= COPY_THRESHOLD:
            columns = ", ".join(codec.EVENT_INSERT_COLUMNS)
            with conn.cursor().copy(f"COPY events ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(codec.EVENT_TYPES))
                for record in records:
                    copy.write_row(record)
        with conn.pipeline():
            if len(records) > 1:
                conn.execute(
                    "SELECT setval('events_position_seq', %s)", (self._first + len(records) - 1,)
                )
            if 0 < len(records) < COPY_THRESHOLD:
                conn.execute(codec.INSERT_EVENTS, codec.event_columns(records))
            changed = [
                row
                for frame_id, row in sorted(self._rows.items())
                if row is not self._before.get(frame_id)
            ]
            if changed:
                conn.execute(codec.UPSERT_FRAMES, codec.frame_columns(changed))
            deltas = self._count_deltas(changed)
            if deltas:
                conn.execute(_UPSERT_COUNTS, _count_columns(deltas))
            if checkpoint is not None:
                conn.execute(_UPSERT_CHECKPOINT, (checkpoint.consumer, checkpoint.position))

    def _count_deltas(self, changed: list[FrameRow]) -> Counter[tuple[str, Bucket]]:
        deltas: Counter[tuple[str, Bucket]] = Counter()
        for row in changed:
            before = self._before.get(row.frame_id)
            if before is not None:
                deltas[(before.camera, bucket(before))] -= 1
            deltas[(row.camera, bucket(row))] += 1
        return Counter({key: n for key, n in deltas.items() if n})


def _count_columns(deltas: Counter[tuple[str, Bucket]]) -> list[list[Any]]:
    keys = sorted(deltas)
    return [
        [camera for camera, _ in keys],
        [state for _, (state, _, _) in keys],
        [reason for _, (_, reason, _) in keys],
        [captured for _, (_, _, captured) in keys],
        [deltas[key] for key in keys],
    ]


def _scalar(row: tuple[Any, ...] | None) -> int:
    assert row is not None
    return int(row[0])
