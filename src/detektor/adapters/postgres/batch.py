# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""One `append`: the transaction that stores a batch of events, moves their frames'
projection rows and per-camera counts and their objects' rows, and records the consumer's
checkpoint. This module opens the transaction and does the reads; admitting, projecting and
writing the batch is `append_batch.AppendBatch`'s.

Ordering. Every append first takes a transaction-scoped advisory lock (one key per schema)
and only then draws positions, so appends are serialised and positions become visible in
commit order: PostgreSQL makes a commit visible before it releases the committing
transaction's locks, and the next append cannot draw a position before it holds the lock. A
catch-up reader of `read_log(after=N)` therefore never skips an event that commits late with
a lower position. Without the lock, a transaction holding position 7 could commit after one
holding 8, and a reader that had already moved past 8 would miss 7 for good. The rejected
alternative kept appends concurrent and made readers stop at a high-water mark below the
oldest position still in flight (xid / `pg_snapshot_xmin` bookkeeping per event): it costs a
column and a wider index, makes every reader reason about snapshots, and stalls readers
behind any long transaction. One writer at a time is ample for one home's cameras, and the
lock also serialises each frame's projection update, so no row lock or retry is needed.

The lock is its own statement: a READ COMMITTED statement takes its snapshot when it starts,
so a query that waited for the lock inside itself would read with a snapshot from before the
previous append committed.

Round trips. BEGIN, the lock, the duplicate lookup, the frames' and objects' rows and the
first position go in one pipeline, and the event data is JSON-encoded while the server
answers. The writes (rows, counts, object rows, checkpoint) and COMMIT go in another, and the
results are built while the server commits. Batches of `COPY_THRESHOLD` events or more stream
the events with COPY, which cannot be pipelined but is the fastest way in; smaller ones insert
them in the write pipeline, so a one-event append costs two round trips (one more when a late
event makes a frame or an object re-fold). Positions are one `nextval` and, for more than one
event, a `setval` under the lock; gaps (a rollback, a batch of duplicates) are harmless, since
readers only need order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.pq import TransactionStatus

from detektor.adapters.object_json import row_from_json
from detektor.adapters.objectkit import object_id_of
from detektor.adapters.postgres import codec, objects
from detektor.adapters.postgres.append_batch import AppendBatch
from detektor.adapters.storekit import VersionGate, checkpoint_advances, require_envelope
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.ports import AppendResult, Checkpoint

_CHECKPOINT = "SELECT position FROM checkpoints WHERE consumer = %s"


def append(
    conn: Connection[Any],
    service_lock: int,
    lock: int,
    events: Sequence[Envelope],
    expected_versions: Mapping[FrameId, int] | None,
    checkpoint: Checkpoint | None,
) -> list[AppendResult]:
    """Store `events` atomically on an autocommit connection; one result per event."""
    envelopes = [require_envelope(item) for item in events]
    if not envelopes and checkpoint is None:
        return []
    frames = [str(e.frame_id) for e in envelopes]
    object_ids = sorted({object_id_of(e) for e in envelopes if e.is_object_event})
    # BEGIN and COMMIT are statements of their own, not conn.transaction(), so that they
    # ride in the pipelines instead of costing a round trip each.
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            # Shared: appends run side by side here; only a replay takes it exclusively.
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (service_lock,))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            found = conn.execute(
                "SELECT event_id, position FROM events WHERE event_id = ANY(%b)",
                ([e.event_id for e in envelopes],),
            )
            rows = conn.execute(
                f"SELECT {codec.FRAME_COLUMNS} FROM frames WHERE frame_id = ANY(%b)",
                (sorted(set(frames)),),
            )
            found_objects = conn.execute(objects.SELECT_ROWS, (object_ids,)) if object_ids else None
            first = conn.execute("SELECT nextval('events_position_seq')")
            previous = conn.execute(_CHECKPOINT, (checkpoint.consumer,)) if checkpoint else None
            data = [codec.dumps(e.data) for e in envelopes]
        batch = AppendBatch(
            conn,
            stored={event_id.int: position for event_id, position in found},
            rows={record[0]: codec.frame_from(record) for record in rows},
            objects=[row_from_json(body) for (body,) in found_objects or ()],
            first_position=_scalar(first.fetchone()),
            gate=VersionGate(expected_versions),
        )
        for admitted in zip(envelopes, frames, data, strict=True):
            batch.admit(*admitted)
        if checkpoint is not None and previous is not None:
            last = previous.fetchone()
            if not checkpoint_advances(last[0] if last else None, checkpoint.position):
                checkpoint = None  # never move a consumer back (a reclaimed older entry)
        return batch.write(checkpoint)
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: Connection[Any]) -> None:
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    # A broken connection cannot roll back; the pool discards it and the server rolls back.
    with suppress(psycopg.Error):
        conn.rollback()


def _scalar(row: tuple[Any, ...] | None) -> int:
    assert row is not None
    return int(row[0])
