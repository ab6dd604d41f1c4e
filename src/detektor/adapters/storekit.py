"""What every EventStore adapter shares, so that they cannot drift apart: the per-event
projection step, the optimistic-concurrency gate, argument checks, the frame-list cursor and
the per-camera count buckets that accounting is built from.

Everything here is pure (no I/O); an adapter supplies reads through small callables.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta

from detektor.adapters.redis_streams import stream_id_key
from detektor.domain.accounting import UNKNOWN_REASON, Accounting
from detektor.domain.events import Envelope
from detektor.domain.fields import INT_MAX, format_timestamp, parse_timestamp
from detektor.domain.frames import FrameId, validate_camera
from detektor.domain.lifecycle import TERMINAL, FrameState
from detektor.domain.projection import Advance, FrameRow, advance, row_from_view, sorts_after
from detektor.domain.timeline import fold, view_of
from detektor.ports import FrameQuery

MAX_PAGE = 1000

# StoreLocked's messages, the same for every adapter.
SERVICE_RUNNING = (
    "a tracking service is running against this event store (it holds the service lock); "
    "stop it before rebuilding projections, or use --dry-run, which only reads"
)
MAINTENANCE_RUNNING = (
    "a maintenance run (detektor tracking replay) holds this event store; "
    "wait until it finishes, then start the service again"
)

# (state, reason or "", has_captured): what accounting needs to know about a frame. The reason
# is "" rather than None so that the bucket can be part of a SQL primary key.
Bucket = tuple[str, str, bool]


def require_envelope(item: object) -> Envelope:
    if not isinstance(item, Envelope):
        raise TypeError(f"append takes Envelope objects, got {type(item).__name__}")
    return item


def require_aware(value: datetime, name: str) -> str:
    """The fixed-width UTC text of an aware datetime (stores compare timestamps as text)."""
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return format_timestamp(value)


FRAME_FIELDS = tuple(f.name for f in dataclass_fields(FrameRow))  # column order of `frames`


def frame_filters(query: FrameQuery, mark: str) -> tuple[list[str], list[object]]:
    """WHERE conditions and parameters for a frame list's camera, state and time filters;
    ``mark`` is the driver's placeholder. Times go as fixed-width UTC text, which both
    SQLite (text columns) and PostgreSQL (cast on input) compare correctly."""
    where: list[str] = []
    params: list[object] = []
    if query.camera is not None:
        where.append(f"camera = {mark}")
        params.append(query.camera)
    if query.state is not None:
        where.append(f"state = {mark}")
        params.append(query.state.value)
    if query.since is not None:
        where.append(f"captured_at >= {mark}")
        params.append(require_aware(query.since, "since"))
    if query.until is not None:
        where.append(f"captured_at < {mark}")
        params.append(require_aware(query.until, "until"))
    return where, params


def require_limit(limit: int, name: str = "limit", maximum: int | None = None) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"{name} must be a positive integer, got {limit!r}")
    top = INT_MAX if maximum is None else maximum  # SQLite refuses ints beyond 64 bits
    if limit > top:
        raise ValueError(f"{name} must be at most {top}, got {limit}")
    return limit


def require_position(after: int) -> int:
    """A log position to read after: 0 to 2^63-1, what every store's positions can be."""
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= INT_MAX:
        raise ValueError(f"after must be a log position from 0 to {INT_MAX}, got {after!r}")
    return after


def stale_cutoff(camera: str, now: datetime, stale_after: timedelta) -> datetime | None:
    """Validate accounting's arguments like `domain.accounting.account` does; an in-flight
    frame whose last event is before the returned instant is stale (None: nothing can be)."""
    validate_camera(camera)
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if stale_after < timedelta(0):
        raise ValueError(f"stale_after must not be negative, got {stale_after}")
    try:
        return now - stale_after
    except OverflowError:
        return None  # a timeout reaching before year 1: no frame is that old


def checkpoint_advances(stored: str | None, new: str) -> bool:
    """Whether a checkpoint write may replace the stored position. Stream entry ids compare
    as numbers and never move back (a reclaimed older entry committed after newer ones must
    not rewind the consumer); positions of any other form always replace the stored one."""
    if stored is None:
        return True
    try:
        return stream_id_key(new) >= stream_id_key(stored)
    except ValueError:
        return True


class VersionGate:
    """Decides once per frame and batch whether `expected_versions` lets its events in.

    The expected version is compared with the frame's version before the batch (the decision
    is made at the frame's first event in the batch that is not a duplicate), so a writer may
    append several events of one frame in one call. A frame that conflicts has all its later
    events in the batch answered CONFLICT too.
    """

    def __init__(self, expected: Mapping[FrameId, int] | None) -> None:
        self._expected = dict(expected or {})
        self._decided: dict[FrameId, str | None] = {}

    def conflict(self, frame_id: FrameId, version: Callable[[], int]) -> str | None:
        """The conflict reason for the frame's next event, or None to append it."""
        if frame_id not in self._expected:
            return None
        if frame_id not in self._decided:
            expected, found = self._expected[frame_id], version()
            self._decided[frame_id] = (
                None
                if expected == found
                else f"frame {frame_id}: expected version {expected}, found {found}"
            )
        return self._decided[frame_id]


def project(
    row: FrameRow | None,
    position: int,
    envelope: Envelope,
    stored: Callable[[], Sequence[tuple[int, Envelope]]],
) -> Advance | None:
    """The frame's row after a newly stored event, and the anomaly it brought; None for an
    object event, which moves no row (it creates none either: it makes no frame to count).

    An event that sorts after the row advances it directly; a late one re-folds the frame
    from `stored()` (its other stored events), since only the ordered sequence decides
    states and anomalies. For a re-fold the anomaly is every one the fold has that it did not
    have without this event (a late event can make a later one illegal), or None.
    """
    if envelope.is_object_event:
        return None
    if row is None or sorts_after(row, position, envelope):
        return advance(row, position, envelope)
    earlier = list(stored())
    view = fold([*earlier, (position, envelope)])
    introduced: list[str] = []
    if view.anomalies:
        known = view_of(earlier)
        before = set(known.anomalies) if known is not None else set()
        introduced = [a for a in view.anomalies if a not in before]
    return Advance(row_from_view(view), "; ".join(introduced) or None)


def bucket(row: FrameRow) -> Bucket:
    return (row.state.value, row.reason or "", row.has_captured)


def accounting_from_buckets(
    camera: str, buckets: Iterable[tuple[Bucket, int]], stale: int
) -> Accounting:
    """The same numbers `domain.accounting.account` gives over the frames, from their counts."""
    result = Accounting(camera=camera, stale=stale)
    skipped: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for (state_text, reason, has_captured), n in buckets:
        if has_captured:
            result.captured += n
        else:
            result.orphans += n
        match FrameState(state_text):
            case FrameState.COMPLETED:
                result.completed += n
            case FrameState.SKIPPED:
                skipped[reason or UNKNOWN_REASON] += n
            case FrameState.DROPPED:
                dropped[reason or UNKNOWN_REASON] += n
            case FrameState.FAILED:
                result.failed += n
            case _:
                result.in_flight += n
    result.skipped = {k: v for k, v in skipped.items() if v}
    result.dropped = {k: v for k, v in dropped.items() if v}
    return result


IN_FLIGHT: tuple[str, ...] = tuple(sorted(s.value for s in FrameState if s not in TERMINAL))
FINISHED: tuple[str, ...] = tuple(sorted(s.value for s in TERMINAL))


def encode_cursor(row: FrameRow) -> str:
    """An opaque cursor after `row` in the (captured_at DESC, frame_id DESC) order."""
    raw = json.dumps([format_timestamp(row.captured_at), str(row.frame_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(captured_at text, frame_id text) of the last frame of the previous page; the time is
    re-checked and re-written in the fixed-width form, since SQLite compares it as text and
    PostgreSQL would refuse a bad one with a server error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        captured_at, frame_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(captured_at, str) or not isinstance(frame_id, str):
            raise TypeError("cursor fields must be strings")
        FrameId.parse(frame_id)
        return format_timestamp(parse_timestamp(captured_at, "cursor")), frame_id
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise ValueError(
            f"cursor {cursor[:40]!r} is not valid; pass the next_cursor of the previous page "
            "unchanged, or omit it to start from the newest frame"
        ) from exc
