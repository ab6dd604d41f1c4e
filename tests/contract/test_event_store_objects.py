"""The EventStore contract, part: object events (`object.*`) in the frame's store.

They are stored, logged and deduplicated like any event, and a frame's view lists them under
`objects`; but they never move a frame: its row (state, version, times, anomalies), its stages,
its accounting and the frame list are what they would be without them, and object events
alone make no frame.
"""

from __future__ import annotations

import asyncio
import random

from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.kit.metrics import Metrics
from detektor.ports import EventStore, FrameQuery
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.metrics import TrackingMetrics
from detektor.services.tracking.replay import replay

from .builders import (
    APPENDED,
    DUPLICATE,
    MINUTE,
    T0,
    E,
    all_rows,
    event,
    folded_row,
    frame,
    increasing,
    lifecycle,
    ms,
    object_data,
    positions,
    whole_log,
)


def sightings(frame_id: FrameId, start_ms: float) -> list[Envelope]:
    """started, updated, then ended after the frame completed (the tracker runs behind)."""
    camera = frame_id.camera
    return [
        event(E.OBJECT_STARTED, frame_id, start_ms + 2.5, data=object_data(camera)),
        event(
            E.OBJECT_UPDATED,
            frame_id,
            start_ms + 3.5,
            data=object_data(camera, track_id=2, label="car", zones=[]),
        ),
        event(E.OBJECT_ENDED, frame_id, start_ms + 900, data=object_data(camera, state="ended")),
    ]


def snapshot(store: EventStore, camera: str) -> tuple[object, ...]:
    now = T0 + MINUTE
    return (
        all_rows(store),
        store.accounting(camera, now, MINUTE),
        store.cameras(),
        store.frames(FrameQuery()),
    )


def test_object_events_leave_a_finished_frame_and_its_accounting_as_they_were(
    store: EventStore,
) -> None:
    done = frame(1)
    store.append(lifecycle(done))
    before = snapshot(store, done.camera)
    view_before = store.frame(done)
    assert view_before is not None
    objects = sightings(done, 0)
    results = store.append(objects)
    assert [(r.status, r.anomaly) for r in results] == [(APPENDED, None)] * 3
    assert snapshot(store, done.camera) == before
    assert store.version(done) == 6
    view = store.frame(done)
    assert view is not None
    shape = view.to_dict()
    listed = shape.pop("objects")
    expected = view_before.to_dict()
    assert expected.pop("objects") == []
    assert shape == expected  # state, events, stages, terminal time, anomalies: unchanged
    assert listed == [
        {
            "object_id": f"front-door:{done.captured_ms}:1",
            "type": "object.started",
            "label": "person",
            "score": 0.91,
            "box": [10.0, 20.0, 110.0, 220.0],
            "zones": ["porch"],
            "occurred_at": "2025-11-27T14:03:07.125500Z",
        },
        {
            "object_id": f"front-door:{done.captured_ms}:2",
            "type": "object.updated",
            "label": "car",
            "score": 0.91,
            "box": [10.0, 20.0, 110.0, 220.0],
            "zones": [],
            "occurred_at": "2025-11-27T14:03:07.126500Z",
        },
        {
            "object_id": f"front-door:{done.captured_ms}:1",
            "type": "object.ended",
            "label": "person",
            "score": 0.91,
            "box": [10.0, 20.0, 110.0, 220.0],
            "zones": ["porch"],
            "occurred_at": "2025-11-27T14:03:08.023000Z",
        },
    ]
    assert folded_row(store, done) == all_rows(store)[0]


def test_object_events_alone_make_no_frame_and_are_not_counted(store: EventStore) -> None:
    lone = frame(7, camera="yard")
    results = store.append(sightings(lone, 0))
    assert [r.status for r in results] == [APPENDED] * 3
    assert store.frame(lone) is None
    assert store.version(lone) == 0
    assert all_rows(store) == []
    assert store.cameras() == []
    acc = store.accounting("yard", T0 + MINUTE, MINUTE)
    assert (acc.captured, acc.orphans, acc.in_flight, acc.balanced) == (0, 0, 0, True)
    assert len(whole_log(store)) == 3
    # The frame's lifecycle arriving later starts it as usual, objects listed.
    store.append(lifecycle(lone))
    view = store.frame(lone)
    assert view is not None
    assert (view.state.value, view.anomalies, len(view.objects)) == ("completed", [], 3)
    assert store.accounting("yard", T0 + MINUTE, MINUTE).balanced


def test_read_log_returns_object_events_in_append_order(store: EventStore) -> None:
    first, second = frame(1), frame(2, at_ms=10)
    appended = [
        *lifecycle(first)[:3],
        *sightings(first, 0)[:1],
        *lifecycle(second),
        *sightings(second, 10),
        *lifecycle(first)[3:],
        *sightings(first, 0)[1:],
    ]
    given: list[int] = []
    for i in range(0, len(appended), 4):
        given += positions(store.append(appended[i : i + 4]))
    log = whole_log(store)
    assert [p for p, _ in log] == given
    assert increasing(given)
    assert [e for _, e in log] == appended
    assert store.read_log(given[3] - 1, 2) == log[3:5]


def test_an_object_event_appended_again_is_a_duplicate(store: EventStore) -> None:
    done = frame(1)
    store.append(lifecycle(done))
    started = sightings(done, 0)[0]
    [first] = store.append([started])
    again = store.append([started, started])
    assert [(r.status, r.position) for r in again] == [(DUPLICATE, first.position)] * 2
    assert len(whole_log(store)) == 7
    view = store.frame(done)
    assert view is not None
    assert len(view.objects) == 1


def test_a_malformed_object_event_is_refused_naming_the_field(store: EventStore) -> None:
    done = frame(1)
    store.append(lifecycle(done))
    good = sightings(done, 0)[0].to_dict()
    bad_box = {**good, "event_id": "8f2a9c1e-0d3b-4e57-9a6c-1b2d3e4f5a60"}
    bad_box["data"] = {**object_data(), "box": [50, 50, 10, 10]}
    other_camera = {**good, "event_id": "8f2a9c1e-0d3b-4e57-9a6c-1b2d3e4f5a61"}
    other_camera["data"] = object_data("back-yard")
    missing = {**good, "event_id": "8f2a9c1e-0d3b-4e57-9a6c-1b2d3e4f5a62", "data": {}}
    ingestor = Ingestor(store, TrackingMetrics(Metrics("contract", "0")))
    outcomes = asyncio.run(
        ingestor.ingest([bad_box, good, other_camera, missing], source="contract")
    )
    assert [(o.status, o.field) for o in outcomes] == [
        ("rejected", "data.box"),
        ("appended", None),
        ("rejected", "data.object_id"),
        ("rejected", "data.best"),
    ]
    assert [str(e.event_id) for _, e in whole_log(store)][-1] == good["event_id"]


def test_late_lifecycle_events_re_fold_around_object_events(store: EventStore) -> None:
    # Enough events in one batch for PostgreSQL's COPY path, arriving shuffled, so late
    # events re-fold streams that hold object events.
    frames = [frame(seq, camera="late", at_ms=seq * 20) for seq in range(12)]
    frame_events = [e for f in frames for e in lifecycle(f)]
    objects = [e for i, f in enumerate(frames) for e in sightings(f, i * 20)]
    batch = frame_events + objects
    random.Random(7).shuffle(batch)
    results = store.append(batch)
    assert [r.status for r in results] == [APPENDED] * len(batch)
    assert all(r.anomaly is None for r, e in zip(results, batch, strict=True) if e.is_object_event)
    for f in frames:
        assert folded_row(store, f) == next(r for r in all_rows(store) if r.frame_id == f)
    rows = all_rows(store)
    assert [r.version for r in rows] == [6] * len(frames)
    acc = store.accounting("late", T0 + MINUTE, MINUTE)
    assert (acc.captured, acc.completed, acc.balanced) == (12, 12, True)
    assert replay(store, dry_run=True).differences == []
    view = store.frame(frames[3])
    assert view is not None
    assert [o["type"] for o in view.objects] == [
        "object.started",
        "object.updated",
        "object.ended",
    ]


def test_purge_takes_a_frame_s_object_events_with_it(store: EventStore) -> None:
    old, new = frame(1, camera="p"), frame(2, camera="p", at_ms=60_000)
    store.append([*lifecycle(old), *sightings(old, 0), *lifecycle(new), *sightings(new, 60_000)])
    assert store.purge(T0 + ms(30_000)) == 9
    assert {e.frame_id for _, e in whole_log(store)} == {new}
    assert store.frame(old) is None
