"""The EventStore contract, part: the object projection (`objects()`, `object()`).

Each object's stored view is `fold_objects` of its stored events, whatever order they arrived
in, kept in the append's transaction; the list filters by camera, label, zone ever entered,
state and started time, newest first, with a cursor that stays put under inserts; purge takes
an object with the last of its events.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from detektor.adapters.objectkit import object_event
from detektor.domain.object_events import ObjectState
from detektor.domain.object_projection import ObjectView, fold_objects
from detektor.ports import EventStore, FrameQuery, ObjectQuery

from .builders import (
    APPENDED,
    DUPLICATE,
    T0,
    T0_MS,
    E,
    event,
    folded,
    frame,
    life,
    lifecycle,
    oid,
    whole_log,
)

SECOND = timedelta(seconds=1)


def logged_views(store: EventStore) -> dict[str, ObjectView]:
    """`fold_objects` of every stored object event, taken in log order."""
    return fold_objects(object_event(e) for _, e in whole_log(store) if e.is_object_event)


def listed(store: EventStore, **query: object) -> list[str]:
    page = store.objects(ObjectQuery(limit=1000, **query))
    assert page.next_cursor is None
    return [v.object_id for v in page.objects]


def test_an_object_s_view_is_the_fold_of_its_events(store: EventStore) -> None:
    events = life()
    results = store.append(events)
    assert [r.status for r in results] == [APPENDED] * 4
    found = store.object(oid(events))
    assert found is not None
    view, stored = found
    assert view == folded(events)
    assert stored == events
    assert view.state is ObjectState.ENDED
    assert view.zones_entered == ("porch", "drive")
    assert view.zones == ()
    assert view.events == 4
    assert view.ended_at == events[-1].occurred_at
    assert store.objects(ObjectQuery()).objects == [view]
    # Object events move no frame: the frame list is still empty.
    assert store.frames(FrameQuery()).frames == []


def test_out_of_order_arrival_gives_the_in_order_view(store: EventStore) -> None:
    in_order = life(track_id=1)
    shuffled = life(track_id=2)
    arrival = [shuffled[i] for i in (2, 3, 0, 1)]
    store.append(in_order)
    for envelope in arrival:  # one append each: every late one re-folds the stored row
        store.append([envelope])
    a, b = store.object(oid(in_order)), store.object(oid(shuffled))
    assert a is not None
    assert b is not None
    assert replace(b[0], object_id=a[0].object_id) == a[0] == folded(in_order)
    assert b[0] == folded(arrival)
    assert b[1] == shuffled  # events in time order, not arrival order


def test_many_objects_shuffled_in_batches_fold_like_their_log(store: EventStore) -> None:
    # Batches large enough for PostgreSQL's COPY path, with late events inside a batch and
    # across batches, objects new in the batch among them.
    lives = [
        life(track_id=t, start_ms=50 * t, camera=("front-door", "yard")[t % 2])
        for t in range(1, 31)
    ]
    events = [e for one in lives for e in one]
    random.Random(13).shuffle(events)
    at = 0
    for size in (1, 70, 3, 26, 20):
        results = store.append(events[at : at + size])
        assert [r.status for r in results] == [APPENDED] * len(results)
        at += size
    assert at == len(events)
    expected = logged_views(store)
    for one in lives:
        found = store.object(oid(one))
        assert found is not None
        assert found[0] == expected[oid(one)] == folded(one)
        assert found[1] == one
    page = store.objects(ObjectQuery(limit=1000))
    assert sorted(v.object_id for v in page.objects) == sorted(expected)
    assert all(v == expected[v.object_id] for v in page.objects)


def test_a_duplicate_event_changes_nothing(store: EventStore) -> None:
    events = life()
    store.append(events[:3])
    before = store.object(oid(events))
    first = store.append([events[1]])
    assert [r.status for r in first] == [DUPLICATE]
    assert store.object(oid(events)) == before
    # In a batch, beside a late event and a new one.
    results = store.append([events[0], events[3], events[3], events[2]])
    assert [r.status for r in results] == [DUPLICATE, APPENDED, DUPLICATE, DUPLICATE]
    found = store.object(oid(events))
    assert found is not None
    assert found == (folded(events), events)
    assert found[0].events == 4


def test_unknown_and_malformed_ids_answer_none(store: EventStore) -> None:
    store.append(life())
    for missing in (
        f"front-door:{T0_MS}:99",
        "yard:1:1",
        "",
        "no-colon",
        "Bad Camera:1:1",
        "front-door:",
        "front-door:\x00",
        "front-door:\ud800",
        "front-door:" + "9" * 400,
    ):
        assert store.object(missing) is None, missing


# --- the list: filters, order, cursor --------------------------------------------------------


@pytest.fixture
def five(store: EventStore) -> dict[str, str]:
    """Five objects, started a second apart (a first, e last), by letter."""
    lives = {
        "a": life(1, 0, zones=(("porch",), ("drive",))),  # ended; was on the porch
        "b": life(2, 1000, label="car", zones=(("drive",),), ended=False),
        "c": life(
            3,
            2000,
            camera="yard",
            zones=(("lawn",), ("lawn",)),
            states=("active", "stationary"),
            ended=False,
        ),
        "d": life(4, 3000, camera="yard", label="dog", zones=((),)),
        "e": life(5, 4000, zones=(("porch",),), ended=False),
    }
    store.append([e for one in lives.values() for e in one])
    return {name: oid(one) for name, one in lives.items()}


def names(five: dict[str, str], ids: list[str]) -> str:
    by_id = {v: k for k, v in five.items()}
    return "".join(by_id[i] for i in ids)


def test_each_filter_alone(store: EventStore, five: dict[str, str]) -> None:
    def n(**query: object) -> str:
        return names(five, listed(store, **query))

    assert n() == "edcba"
    assert n(camera="front-door") == "eba"
    assert n(camera="yard") == "dc"
    assert n(camera="garage") == ""
    assert n(label="person") == "eca"
    assert n(label="dog") == "d"
    assert n(zone="porch") == "ea"  # a entered the porch, then left it
    assert n(zone="drive") == "ba"
    assert n(zone="lawn") == "c"
    assert n(zone="moon") == ""
    assert n(state=ObjectState.ENDED) == "da"
    assert n(state=ObjectState.ACTIVE) == "eb"
    assert n(state=ObjectState.STATIONARY) == "c"
    assert n(after=T0 + SECOND) == "edcb"  # started at or after
    assert n(before=T0 + 2 * SECOND) == "ba"  # started before
    assert n(after=T0 + 10 * SECOND) == ""


def test_filters_combined(store: EventStore, five: dict[str, str]) -> None:
    def n(**query: object) -> str:
        return names(five, listed(store, **query))

    assert n(camera="front-door", label="person") == "ea"
    assert n(camera="front-door", label="person", zone="porch", state=ObjectState.ACTIVE) == "e"
    assert n(camera="front-door", zone="drive", before=T0 + SECOND) == "a"
    assert n(label="person", after=T0 + SECOND, before=T0 + 4 * SECOND) == "c"
    assert n(camera="yard", zone="porch") == ""
    assert n(state=ObjectState.ENDED, after=T0 + SECOND, camera="yard", label="dog") == "d"


def test_pages_cover_the_list_without_duplicates_or_gaps(store: EventStore) -> None:
    # Three objects start at each instant: the object id breaks the ties.
    lives = [life(t, (t // 3) * 100, ended=t % 2 == 0, zones=(("porch",),)) for t in range(23)]
    store.append([e for one in lives for e in one])
    whole = listed(store)
    assert len(whole) == 23
    views = store.objects(ObjectQuery(limit=1000)).objects
    keys = [(v.first_seen, v.object_id) for v in views]
    assert keys == sorted(keys, reverse=True)
    for query in ({}, {"zone": "porch"}, {"state": ObjectState.ENDED}):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = store.objects(ObjectQuery(limit=5, cursor=cursor, **query))
            assert len(page.objects) <= 5
            seen += [v.object_id for v in page.objects]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == listed(store, **query)


def test_the_cursor_stays_put_when_objects_arrive(store: EventStore) -> None:
    store.append([e for t in range(10) for e in life(t, t * 100)])
    first = store.objects(ObjectQuery(limit=4))
    assert first.next_cursor is not None
    last = first.objects[-1]
    # Newer ones (before the cursor) and an older one (after it) arrive between pages.
    newer, older = life(50, 5000), life(51, -500)
    store.append(newer + older)
    rest: list[str] = []
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = store.objects(ObjectQuery(limit=4, cursor=cursor))
        rest += [v.object_id for v in page.objects]
        cursor = page.next_cursor
    whole = listed(store)
    assert rest == whole[whole.index(last.object_id) + 1 :]
    assert oid(older) in rest
    assert oid(newer) not in rest
    assert not set(rest) & {v.object_id for v in first.objects}


def test_bad_queries_are_refused(store: EventStore) -> None:
    store.append([*life(1), *lifecycle(frame(900))])
    store.append(lifecycle(frame(901, at_ms=5)))
    frame_cursor = store.frames(FrameQuery(limit=1))
    assert frame_cursor.next_cursor is not None
    for bad in (
        ObjectQuery(limit=0),
        ObjectQuery(limit=1001),
        ObjectQuery(after=T0.replace(tzinfo=None)),
        ObjectQuery(before=T0.replace(tzinfo=None)),
        ObjectQuery(cursor="garbage!"),
        ObjectQuery(cursor=frame_cursor.next_cursor),  # a frame list's cursor
    ):
        with pytest.raises(ValueError, match=r"limit|after|before|cursor"):
            store.objects(bad)
    assert store.objects(ObjectQuery(cursor="")).objects != []  # `?cursor=`: the first page


# --- purge ----------------------------------------------------------------------------------


def test_purge_removes_objects_whose_events_all_went_and_re_folds_the_rest(
    store: EventStore,
) -> None:
    old = life(1, 0)  # sightings at 0..200 ms
    spanning = life(2, 0, zones=(("porch",), ("porch",), ("drive",)))
    kept = life(3, 60_000)
    # Move the spanning object's last sighting (and its end) into a frame after the cutoff.
    late_frame = frame(299, at_ms=61_000)
    moved = [
        *spanning[:2],
        event(E.OBJECT_UPDATED, late_frame, 61_002, data=dict(spanning[2].data)),
        event(E.OBJECT_ENDED, late_frame, 62_002, data=dict(spanning[3].data)),
    ]
    frames = {e.frame_id for e in old + moved + kept}
    store.append([e for f in sorted(frames) for e in lifecycle(f)])
    store.append(old + moved + kept)
    assert sorted(listed(store)) == sorted([oid(old), oid(spanning), oid(kept)])
    store.purge(T0 + 30 * SECOND)
    assert store.object(oid(old)) is None
    assert listed(store) == [oid(kept), oid(spanning)]
    found = store.object(oid(spanning))
    assert found is not None
    assert found == (folded(moved[2:]), moved[2:])
    assert found[0].events == 2
    assert found[0].zones_entered == ("drive",)  # the porch went with the purged frames
    assert listed(store, zone="porch") == [oid(kept)]
    assert listed(store, zone="drive") == [oid(kept), oid(spanning)]
    kept_found = store.object(oid(kept))
    assert kept_found is not None
    assert kept_found[0] == folded(kept)
    assert logged_views(store) == {v.object_id: v for v in store.objects(ObjectQuery()).objects}
    # Purging again changes nothing; purging everything leaves no object.
    store.purge(T0 + 30 * SECOND)
    assert listed(store) == [oid(kept), oid(spanning)]
    store.purge(T0 + 3600 * SECOND)
    assert listed(store) == []
    assert store.object(oid(kept)) is None
