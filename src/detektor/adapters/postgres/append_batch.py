# Queries are assembled from this package's constant column lists; values always travel as
# parameters, never in the text.
# ruff: noqa: S608
"""The state of one `append` between its reads and its writes (`AppendBatch`): admitting
each event (DUPLICATE, CONFLICT or a position), projecting the admitted ones onto their
frames' and objects' rows, and writing events, rows, count deltas and the checkpoint in
the commit's pipeline. `batch` opens the transaction, does the reads and hands them here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from psycopg import Connection

from detektor.adapters.objectkit import ObjectRow, advance_row, late_objects, object_id_of
from detektor.adapters.postgres import codec, objects
from detektor.adapters.storekit import Bucket, VersionGate, bucket, project
from detektor.domain.events import Envelope
from detektor.domain.projection import Advance, FrameRow, advance, sorts_after
from detektor.ports import AppendResult, AppendStatus, Checkpoint

COPY_THRESHOLD = 64

Stream = list[tuple[int, Envelope]]  # (position, envelope)

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
_COPY_EVENTS = f"COPY events ({', '.join(codec.EVENT_INSERT_COLUMNS)}) FROM STDIN"


class AppendBatch:
    """The state of one append between its reads and its writes.

    Its maps are keyed by frame-id text and event-id integers rather than by FrameId and
    UUID objects, whose hashes are computed in Python on every lookup; a 1000-event batch
    does several lookups per event.
    """

    def __init__(
        self,
        conn: Connection[Any],
        *,
        stored: dict[int, int],
        rows: dict[str, FrameRow],
        objects: list[ObjectRow],
        first_position: int,
        gate: VersionGate,
    ) -> None:
        self._conn = conn
        self._stored = stored  # event id -> position, of this batch's ids already in the log
        self._before = rows  # the batch's frames' rows as they were
        self._rows = dict(rows)  # ... and as the batch moves them
        self._objects_before = {row.object_id: row for row in objects}  # the same for objects
        self._objects = dict(self._objects_before)
        self._first = first_position
        self._gate = gate
        # (position, envelope, frame id text, data as JSON) of the events to store
        self._admitted: list[tuple[int, Envelope, str, str]] = []
        self._positions: dict[int, int] = {}  # event id -> position, admitted in this batch
        self._results: list[AppendResult | int] = []  # an admitted event's is its position

    def admit(self, envelope: Envelope, frame: str, data: str) -> None:
        """Answer DUPLICATE or CONFLICT now, or give the event its position."""
        event_id = envelope.event_id
        stored = self._positions.get(event_id.int, self._stored.get(event_id.int))
        if stored is not None:
            self._results.append(AppendResult(event_id, AppendStatus.DUPLICATE, position=stored))
            return
        row = self._before.get(frame)
        reason = self._gate.conflict(envelope.frame_id, lambda: row.version if row else 0)
        if reason is not None:
            self._results.append(AppendResult(event_id, AppendStatus.CONFLICT, reason=reason))
            return
        position = self._first + len(self._admitted)
        self._admitted.append((position, envelope, frame, data))
        self._positions[event_id.int] = position
        self._results.append(position)

    def write(self, checkpoint: Checkpoint | None) -> list[AppendResult]:
        """Project and write the admitted events, the rows they moved, the count deltas and
        the checkpoint, then commit; returns one result per event, in input order."""
        conn, count = self._conn, len(self._admitted)
        # Before the COPY: no other statement can run while it is open.
        streams = self._load_streams(self._late_frames())
        late = late_objects(self._objects_before, ((p, e) for p, e, _, _ in self._admitted))
        object_streams = objects.streams(conn, sorted(late), self._objects_before)
        records: list[codec.EventRecord] = []
        if count >= COPY_THRESHOLD:
            # Rows stream to the server as they are projected, so its inserts overlap with
            # the projection work here. Text, not binary: the server inserts what it has
            # buffered every 64 kB of text input, but binary input only every 1000 rows,
            # which leaves a whole batch's inserts for after the last row.
            with conn.cursor().copy(_COPY_EVENTS) as copy:
                copy.set_types(list(codec.EVENT_COPY_TYPES))
                anomalies = self._project(streams, object_streams, copy.write_row)
        else:
            anomalies = self._project(streams, object_streams, records.append)
        changed = [
            row for frame, row in sorted(self._rows.items()) if row is not self._before.get(frame)
        ]
        deltas = self._count_deltas(changed)
        moved = [
            row
            for object_id, row in sorted(self._objects.items())
            if row is not self._objects_before.get(object_id)
        ]
        with conn.pipeline():
            if count > 1:
                conn.execute("SELECT setval('events_position_seq', %s)", (self._first + count - 1,))
            if records:
                conn.execute(codec.INSERT_EVENTS, codec.event_columns(records))
            if changed:
                conn.execute(codec.UPSERT_FRAMES, codec.frame_columns(changed))
            if deltas:
                conn.execute(_UPSERT_COUNTS, _count_columns(deltas))
            if moved:
                conn.execute(objects.UPSERT_ROWS, objects.upsert_params(moved))
            if checkpoint is not None:
                conn.execute(_UPSERT_CHECKPOINT, (checkpoint.consumer, checkpoint.position))
            conn.execute("COMMIT")
            return [self._result(r, anomalies) for r in self._results]

    def _result(self, result: AppendResult | int, anomalies: dict[int, str | None]) -> AppendResult:
        if isinstance(result, AppendResult):
            return result
        envelope = self._admitted[result - self._first][1]
        return AppendResult(
            envelope.event_id, AppendStatus.APPENDED, position=result, anomaly=anomalies[result]
        )

    def _project(
        self,
        streams: dict[str, Stream],
        object_streams: dict[str, Stream],
        sink: Callable[[codec.EventRecord], object],
    ) -> dict[int, str | None]:
        """Move the rows by every admitted event in order, handing each event's row to `sink`.
        `streams` and `object_streams` hold the stored events of the frames and objects that
        will re-fold; each event admitted is added to its own as it is projected."""
        anomalies: dict[int, str | None] = {}
        for position, envelope, frame, data in self._admitted:
            if envelope.is_object_event:
                # No frame row to move; kept in the stream a later late event may re-fold.
                if frame in streams:
                    streams[frame].append((position, envelope))
                self._advance_object(object_streams, position, envelope)
                anomalies[position] = None
                sink(codec.event_record(position, envelope, frame, data, None))
                continue
            row = self._rows.get(frame)
            step: Advance | None
            if row is None or sorts_after(row, position, envelope):
                # What `project` does first, minus building the history it will not need.
                step = advance(row, position, envelope)
            else:
                step = project(row, position, envelope, partial(list, streams[frame]))
            assert step is not None  # object events were handled above
            self._rows[frame] = step.row
            if frame in streams:
                streams[frame].append((position, envelope))
            anomalies[position] = step.anomaly
            sink(codec.event_record(position, envelope, frame, data, step.anomaly))
        return anomalies

    def _advance_object(
        self, object_streams: dict[str, Stream], position: int, envelope: Envelope
    ) -> None:
        object_id = object_id_of(envelope)
        row = self._objects.get(object_id)
        # A late event's object is in object_streams (late_objects); reaching for one that
        # is not would be a bug, since its events cannot be read while the COPY is open.
        self._objects[object_id] = advance_row(
            row, position, envelope, lambda: list(object_streams[object_id])
        )
        if object_id in object_streams:
            object_streams[object_id].append((position, envelope))

    def _late_frames(self) -> list[str]:
        """Every frame that an event of the batch will make re-fold (and maybe a few more).

        A row sorts at its (last_event_at, last_position), and an event re-folds it when the
        event sorts before that. This replays the batch on those keys alone: an advanced row
        takes the event's key, a re-folded one keeps the larger one, so the key simulated here
        is never below the real row's and no late event is missed. Missing one would be a
        bug: its history could not be read while the COPY is open.
        """
        keys = {frame: (r.last_event_at, r.last_position) for frame, r in self._before.items()}
        late: set[str] = set()
        for position, envelope, frame, _ in self._admitted:
            if envelope.is_object_event:
                continue  # moves no row, so it never re-folds one
            key = (envelope.occurred_at, position)
            seen = keys.get(frame)
            if seen is not None and key < seen:
                late.add(frame)
            else:
                keys[frame] = key
        return sorted(late)

    def _load_streams(self, frames: list[str]) -> dict[str, Stream]:
        """The stored events of the frames about to be re-folded, in one query."""
        streams: dict[str, Stream] = {frame: [] for frame in frames}
        if frames:
            for record in self._conn.execute(_STREAMS, (frames,)):
                position, envelope = codec.event_from(record)
                streams[record[2]].append((position, envelope))
        return streams

    def _count_deltas(self, changed: list[FrameRow]) -> Counter[tuple[str, Bucket]]:
        deltas: Counter[tuple[str, Bucket]] = Counter()
        for row in changed:
            before = self._before.get(str(row.frame_id))
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
