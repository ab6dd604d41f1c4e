"""The ports: small Protocols the services depend on, each with an in-memory twin.

Adapters live in ``detektor.adapters``; one contract test suite per port runs against
every adapter (``tests/contract``). The recording index's port is in ``ports_recordings``,
re-exported here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from detektor.domain.accounting import Accounting
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.messages import FrameMessage
from detektor.domain.object_events import ObjectState
from detektor.domain.object_projection import ObjectView
from detektor.domain.projection import FrameRow
from detektor.domain.timeline import FrameView

# The recording index's port, re-exported: this is where services import every port from.
from detektor.ports_recordings import RecordingIndex as RecordingIndex
from detektor.ports_recordings import RecordingTotals as RecordingTotals
from detektor.ports_recordings import SegmentPage as SegmentPage
from detektor.ports_recordings import SegmentQuery as SegmentQuery


class AppendStatus(StrEnum):
    APPENDED = "appended"
    DUPLICATE = "duplicate"  # the event_id was stored before: a reported no-op
    CONFLICT = "conflict"  # the frame's version was not the expected one


@dataclass(frozen=True, slots=True)
class AppendResult:
    event_id: uuid.UUID
    status: AppendStatus
    position: int | None = None  # the stored position (also for a duplicate)
    reason: str | None = None
    anomaly: str | None = None  # set when the event contradicts the frame's state machine


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A consumer's position in an outside stream, stored in the append's transaction so a
    redelivery after a crash is recognised and never applied twice."""

    consumer: str
    position: str


@dataclass(frozen=True, slots=True)
class FrameQuery:
    camera: str | None = None
    state: FrameState | None = None
    since: datetime | None = None  # captured_at >= since
    until: datetime | None = None  # captured_at < until
    limit: int = 100
    cursor: str | None = None  # opaque, from FramePage.next_cursor


@dataclass(frozen=True, slots=True)
class FramePage:
    frames: list[FrameRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    camera: str | None = None
    label: str | None = None
    zone: str | None = None  # objects that ever entered this zone
    state: ObjectState | None = None
    after: datetime | None = None  # started (first_seen) >= after
    before: datetime | None = None  # started < before
    limit: int = 100
    cursor: str | None = None  # opaque, from ObjectPage.next_cursor


@dataclass(frozen=True, slots=True)
class ObjectPage:
    objects: list[ObjectView]
    next_cursor: str | None


ProgressCallback = Callable[[int, int], None]  # (done, total)


class StoreLocked(RuntimeError):
    """A live service and a maintenance run (replay) met on one store: the one that came
    second is refused, with a message saying who holds the store and what to do."""


class EventStore(Protocol):
    """Durable lifecycle events with per-frame projections updated in the same transaction.

    Producers that only observe append with no expected version. Writers that read state and
    then decide pass ``expected_versions`` (frame -> number of events they saw); a frame whose
    version differs has its events answered CONFLICT, while other frames in the batch are
    appended. A whole ``append`` call is one transaction.
    """

    def migrate(self) -> list[str]:
        """Apply pending schema migrations; idempotent. Returns the versions applied now."""
        ...

    def append(
        self,
        events: Sequence[Envelope],
        *,
        expected_versions: Mapping[FrameId, int] | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[AppendResult]:
        """Store a batch atomically, one result per event, in input order."""
        ...

    def checkpoint(self, consumer: str) -> str | None:
        """The last position recorded for ``consumer``, or None."""
        ...

    def version(self, frame_id: FrameId) -> int:
        """How many events the frame's stream holds (0 when it has none)."""
        ...

    def frame(self, frame_id: FrameId) -> FrameView | None:
        """The frame's timeline, folded from its stored events."""
        ...

    def frames(self, query: FrameQuery) -> FramePage:
        """Frames newest first by captured_at, filtered, with cursor pagination."""
        ...

    def objects(self, query: ObjectQuery) -> ObjectPage:
        """Newest first by started time, filtered, cursor pagination. Each view is
        `fold_objects` of the object's stored events, kept in the append's transaction."""
        ...

    def object(self, object_id: str) -> tuple[ObjectView, list[Envelope]] | None:
        """The object's view and its events in order (the fold's: occurred_at, then started,
        updated, ended, then position); None when no event of it is stored."""
        ...

    def accounting(self, camera: str, now: datetime, stale_after: timedelta) -> Accounting: ...

    def cameras(self) -> list[str]: ...

    def read_log(self, after: int, limit: int) -> list[tuple[int, Envelope]]:
        """Events with position > after, ascending. Never skips an event that commits late."""
        ...

    def frame_rows(self, after: FrameId | None, limit: int) -> list[FrameRow]:
        """Stored projection rows in frame-id order, for replay's comparison."""
        ...

    def replace_rows(self, rows: Sequence[FrameRow]) -> None:
        """Overwrite projection rows (and the per-camera counts) with rebuilt ones."""
        ...

    def purge(self, older_than: datetime, batch_size: int = 10_000) -> int:
        """Delete whole frames whose last event is older than the cutoff: their events, their
        row and their share of the per-camera counts go together, finished or not (ADR 13).
        An object whose events all went is removed; one that kept some is re-folded from
        them. Returns the number of events deleted."""
        ...

    def hold_service_lock(self) -> None:
        """Mark this process as a live service writing to the store, until close(), so that
        `maintenance` refuses to start. Idempotent; re-takes a lock lost with its connection,
        so call it at start and then now and then. Raises StoreLocked while a maintenance run
        holds the store."""
        ...

    def maintenance(self) -> AbstractContextManager[None]:
        """Hold the store exclusively for a rewrite of projection rows (replay). Raises
        StoreLocked, saying a service is running, while any process holds the service lock;
        while held, appends and purges of other processes wait for it."""
        ...

    def close(self) -> None: ...


# --- The frame bus -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    """What publishing one frame did: its entry id, or None when the frame itself was
    refused, and the frames the cap pushed out of the bus to make room (never delivered)."""

    entry_id: str | None
    dropped: list[FrameId]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One bus entry handed to a consumer. ``message`` is None when the entry could not be
    parsed; ``error`` then says why (the consumer dead-letters it)."""

    entry_id: str
    message: FrameMessage | None
    fields: Mapping[bytes, bytes]
    deliveries: int  # how many times this entry has been delivered, this time included
    error: str | None = None
    frame_id: str | None = None  # the raw frame id, when readable, even if parsing failed


class FrameBus(Protocol):
    """Frames from capture to processors: consumer groups, reclaim, dead letters, a cap.

    The bus holds only unacknowledged entries (acknowledged ones are deleted), so its length
    is the backlog. When a publish finds the bus at its cap, the oldest entry not yet
    delivered to the group is removed and reported in ``Published.dropped``; when every
    entry is already delivered (being processed), the new frame is refused instead. Order and
    shedding are per camera in the in-memory twin (round-robin delivery, the busiest camera
    shed first) and stream-wide on Redis (ADR 30); within one camera both are oldest first.
    """

    async def publish(self, message: FrameMessage) -> Published: ...

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """New entries for this consumer of the group, waiting up to block_ms for some."""
        ...

    async def pending(self, consumer: str, count: int) -> list[Delivery]:
        """Entries delivered to this consumer and not yet acknowledged (after a restart)."""
        ...

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        """Entries pending on any consumer for longer than min_idle_ms, now this one's."""
        ...

    async def ack(self, entry_ids: Sequence[str]) -> None:
        """Acknowledge and delete the entries."""
        ...

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move an entry to the dead-letter stream with the reason, and acknowledge it."""
        ...

    async def backlog(self) -> tuple[int, int]:
        """(entries not yet delivered, entries delivered but not acknowledged)."""
        ...

    def drain_poisoned(self) -> list[tuple[Delivery, str]]:
        """Entries the bus dead-lettered itself (delivered more than ``max_deliveries``
        times) since the last call, with the reason, so the caller can record them."""
        ...

    async def close(self) -> None: ...


# --- Lifecycle events out of a producer -----------------------------------------------------


class EventSink(Protocol):
    """Where a pipeline stage sends lifecycle events: the Redis events stream in the
    distributed setup, the in-process store in the embedded one. Emitting never raises for
    a backend outage; the sink buffers or counts what it could not deliver."""

    async def emit(self, events: Sequence[Envelope]) -> None: ...

    async def close(self) -> None: ...
