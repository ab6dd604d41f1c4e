"""What every EventStore adapter shares about objects: the stored row of an object (its view,
its events' positions and its place in the fold), moving it by one more event, and the object
list's filters and cursor. The row's JSON form, for the SQL stores, is in `object_json`.

The stored view is always `fold_objects` of the object's stored events taken in position
order, so it does not depend on the order they arrived in. `fold_objects` sorts by
(occurred_at, started < updated < ended) with a stable sort, so in position order a tie is
broken by position: an event whose key (occurred_at, rank, position) is above the row's
`last` is one more `advance_object` step; a late one re-folds the object from its events.

Everything here is pure (no I/O); an adapter supplies reads through small callables.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from detektor.adapters.storekit import MAX_PAGE, require_aware, require_limit
from detektor.domain.events import Envelope, EventType
from detektor.domain.fields import format_timestamp, parse_timestamp
from detektor.domain.frames import CAMERA_RE
from detektor.domain.object_events import ObjectEvent, ObjectEventType
from detektor.domain.object_projection import ObjectView, advance_object, fold_objects
from detektor.ports import ObjectQuery

MAX_OBJECT_ID = 300  # characters; ids are `<camera>:<ms>:<track id>`, far shorter

# The fold's order of types at one instant: what `fold_objects` sorts by after the time.
_RANK = {EventType.OBJECT_STARTED: 0, EventType.OBJECT_UPDATED: 1, EventType.OBJECT_ENDED: 2}

FoldKey = tuple[datetime, int, int]  # (occurred_at, rank, position)
Stream = Sequence[tuple[int, Envelope]]


@dataclass(frozen=True, slots=True)
class ObjectRow:
    view: ObjectView
    positions: tuple[int, ...]  # its events' log positions, ascending
    last: FoldKey  # the key of its last event in fold order

    @property
    def object_id(self) -> str:
        return self.view.object_id


def object_event(envelope: Envelope) -> ObjectEvent:
    """The ObjectEvent an `object.*` envelope carries (valid: the envelope checked it)."""
    return ObjectEvent.from_data(
        ObjectEventType(envelope.type.value),
        envelope.frame_id,
        envelope.occurred_at,
        envelope.data,
    )


def object_id_of(envelope: Envelope) -> str:
    return str(envelope.data["object_id"])


def fold_key(position: int, envelope: Envelope) -> FoldKey:
    return (envelope.occurred_at, _RANK[envelope.type], position)


def in_fold_order(stream: Iterable[tuple[int, Envelope]]) -> list[tuple[int, Envelope]]:
    return sorted(stream, key=lambda pair: fold_key(*pair))


def refold(stream: Iterable[tuple[int, Envelope]]) -> ObjectRow | None:
    """The row of one object from its stored events in any order; None when there are none."""
    ordered = sorted(stream, key=lambda pair: pair[0])  # position order breaks the fold's ties
    if not ordered:
        return None
    views = fold_objects(object_event(envelope) for _, envelope in ordered)
    if len(views) != 1:
        raise ValueError(f"events of {len(views)} objects given to one object's fold")
    (view,) = views.values()
    last = max(fold_key(position, envelope) for position, envelope in ordered)
    return ObjectRow(view, tuple(position for position, _ in ordered), last)


def advance_row(
    row: ObjectRow | None, position: int, envelope: Envelope, stored: Callable[[], Stream]
) -> ObjectRow:
    """The object's row after a newly stored event (`position` above every stored one).
    One that sorts after the row advances it; a late one re-folds the object from `stored()`
    (its other stored events)."""
    key = fold_key(position, envelope)
    if row is None or key > row.last:
        view = advance_object(None if row is None else row.view, object_event(envelope))
        positions = (position,) if row is None else (*row.positions, position)
        return ObjectRow(view, positions, key)
    found = refold([*stored(), (position, envelope)])
    assert found is not None
    return found


def late_objects(
    rows: Mapping[str, ObjectRow], admitted: Iterable[tuple[int, Envelope]]
) -> set[str]:
    """Every object an event of `admitted` (in position order) will make re-fold, from the
    rows' keys alone: an advanced row takes the event's key, a re-folded one keeps the larger."""
    keys = {object_id: row.last for object_id, row in rows.items()}
    late: set[str] = set()
    for position, envelope in admitted:
        if not envelope.is_object_event:
            continue
        object_id, key = object_id_of(envelope), fold_key(position, envelope)
        seen = keys.get(object_id)
        if seen is not None and key < seen:
            late.add(object_id)
        else:
            keys[object_id] = key
    return late


def is_object_id(value: object) -> bool:
    """Whether `value` could name a stored object: `<camera>:<rest>`, printable UTF-8, at most
    MAX_OBJECT_ID characters (the store accepts any id of the event's camera)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_OBJECT_ID:
        return False
    camera, sep, rest = value.partition(":")
    if not sep or not rest or CAMERA_RE.fullmatch(camera) is None or not value.isprintable():
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, which no stored id can hold
        return False
    return True


# --- the object list ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectFilter:
    """An ObjectQuery checked, its times as fixed-width UTC text and its cursor decoded."""

    query: ObjectQuery
    limit: int
    after: str | None
    before: str | None
    cursor: tuple[str, str] | None  # (started_at text, object id) of the previous page's last

    @classmethod
    def of(cls, query: ObjectQuery) -> ObjectFilter:
        return cls(
            query=query,
            limit=require_limit(query.limit, maximum=MAX_PAGE),
            after=None if query.after is None else require_aware(query.after, "after"),
            before=None if query.before is None else require_aware(query.before, "before"),
            cursor=decode_object_cursor(query.cursor) if query.cursor else None,  # "" = first
        )

    def columns(self, mark: str, *, row_compare: bool) -> tuple[list[str], list[object]]:
        """WHERE conditions and parameters for all but the zone; `mark` is the placeholder.
        `row_compare` writes the cursor as a row comparison (PostgreSQL's index uses it);
        otherwise it is spelled out."""
        where: list[str] = []
        params: list[object] = []
        q = self.query
        for column, value in (("camera", q.camera), ("label", q.label)):
            if value is not None:
                where.append(f"{column} = {mark}")
                params.append(value)
        if q.state is not None:
            where.append(f"state = {mark}")
            params.append(q.state.value)
        if self.after is not None:
            where.append(f"started_at >= {mark}")
            params.append(self.after)
        if self.before is not None:
            where.append(f"started_at < {mark}")
            params.append(self.before)
        if self.cursor is not None:
            started, object_id = self.cursor
            if row_compare:
                where.append(f"(started_at, object_id) < ({mark}::timestamptz, {mark})")
                params.extend([started, object_id])
            else:
                where.append(
                    f"(started_at < {mark} OR (started_at = {mark} AND object_id < {mark}))"
                )
                params.extend([started, started, object_id])
        return where, params

    def matches(self, view: ObjectView) -> bool:
        """The same filter over a view, for the in-memory store."""
        q = self.query
        started = format_timestamp(view.first_seen)
        return (
            (q.camera is None or view.camera == q.camera)
            and (q.label is None or view.label == q.label)
            and (q.zone is None or q.zone in view.zones_entered)
            and (q.state is None or view.state is q.state)
            and (self.after is None or started >= self.after)
            and (self.before is None or started < self.before)
            and (self.cursor is None or (started, view.object_id) < self.cursor)
        )


def sort_key(view: ObjectView) -> tuple[str, str]:
    """The list's order, newest first when reversed: started time, then object id (text)."""
    return (format_timestamp(view.first_seen), view.object_id)


def page_of(views: Sequence[ObjectView], limit: int) -> tuple[list[ObjectView], str | None]:
    """The page from up to `limit` + 1 views in list order, and the cursor after it."""
    page = list(views[:limit])
    more = len(views) > limit
    return page, encode_object_cursor(page[-1]) if more else None


def encode_object_cursor(view: ObjectView) -> str:
    """An opaque cursor after `view` in the (started_at DESC, object_id DESC) order."""
    raw = json.dumps(["o", *sort_key(view)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_object_cursor(cursor: str) -> tuple[str, str]:
    """(started_at text, object id) of the last object of the previous page; the time is
    re-checked and re-written in the fixed-width form the stores compare."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, started, object_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if tag != "o" or not isinstance(started, str) or not is_object_id(object_id):
            raise TypeError("not an object cursor")
        return format_timestamp(parse_timestamp(started, "cursor")), object_id
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise ValueError(
            f"cursor {cursor[:40]!r} is not valid; pass the next_cursor of the previous page "
            "unchanged, or omit it to start from the newest object"
        ) from exc
