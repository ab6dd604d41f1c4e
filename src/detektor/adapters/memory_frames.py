"""The in-memory EventStore's frame queries, over a snapshot of its projection rows: the
frame list with its filters and cursor (`frame_page`), and the rows in frame-id order that
replay compares (`rows_in_id_order`).

They scan and sort every row, as the rest of the in-memory store does: it is the contract's
reference, so being obviously correct counts for more here than being fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from detektor.adapters.storekit import (
    MAX_PAGE,
    decode_cursor,
    encode_cursor,
    require_aware,
    require_limit,
)
from detektor.domain.fields import format_timestamp
from detektor.domain.frames import FrameId
from detektor.domain.projection import FrameRow
from detektor.ports import FramePage, FrameQuery


def frame_page(query: FrameQuery, snapshot: Callable[[], Iterable[FrameRow]]) -> FramePage:
    """The page of the frame list that `query` asks for: newest first by captured_at, then
    frame id. The query is checked before `snapshot` is called for the rows, so a bad one
    reads nothing."""
    limit = require_limit(query.limit, maximum=MAX_PAGE)
    since = None if query.since is None else require_aware(query.since, "since")
    until = None if query.until is None else require_aware(query.until, "until")
    after = decode_cursor(query.cursor) if query.cursor else None  # "" = first page
    keyed = [((format_timestamp(r.captured_at), str(r.frame_id)), r) for r in snapshot()]
    chosen = sorted(
        (
            (key, row)
            for key, row in keyed
            if (query.camera is None or row.camera == query.camera)
            and (query.state is None or row.state is query.state)
            and (since is None or key[0] >= since)
            and (until is None or key[0] < until)
            and (after is None or key < after)
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    page = [row for _, row in chosen[:limit]]
    more = len(chosen) > limit
    return FramePage(page, encode_cursor(page[-1]) if more else None)


def rows_in_id_order(rows: Iterable[FrameRow], after: FrameId | None, limit: int) -> list[FrameRow]:
    """Up to `limit` rows with an id above `after`, in frame-id order."""
    # Text order of the canonical id, the order a database index on the column gives.
    ordered = sorted(rows, key=lambda row: str(row.frame_id))
    if after is not None:
        ordered = [row for row in ordered if str(row.frame_id) > str(after)]
    return ordered[:limit]
