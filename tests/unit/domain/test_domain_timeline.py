from __future__ import annotations

import itertools
import json
import random
from datetime import timedelta

import pytest

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.lifecycle import FrameState
from detektor.domain.timeline import FrameView, Stage, fold

from .builders import FRAME, T0, make_event

E = EventType
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def pipeline() -> list[Envelope]:
    """A complete frame: 5 ms captured, 10 queued, 40 processing, 2 processed, 3 published."""
    return [
        make_event(E.CAPTURED, 0),
        make_event(E.QUEUED, 5, trace_id=TRACE),
        make_event(E.PROCESSING, 15, trace_id=OTHER_TRACE),
        make_event(E.PROCESSED, 55),
        make_event(E.PUBLISHED, 57),
        make_event(E.COMPLETED, 60),
    ]


def essence(view: FrameView) -> dict[str, object]:
    """Everything but store positions, which depend on the arrival order."""
    out = view.to_dict()
    out["events"] = [e.event_id for e in view.envelopes]
    return out


def test_fold_of_a_complete_frame() -> None:
    events = pipeline()
    view = fold(enumerate(events, start=1))
    assert view.frame_id == FRAME
    assert view.camera == "front-door"
    assert view.state is FrameState.COMPLETED
    assert view.anomalies == []
    assert view.has_captured
    assert view.captured_at == T0
    assert view.trace_id == TRACE
    assert view.terminal_at == T0 + ms(60)
    assert view.last_event_at == T0 + ms(60)
    assert view.total_ms == 60.0
    assert view.envelopes == events
    assert [p for p, _ in view.events] == [1, 2, 3, 4, 5, 6]
    assert view.stages == [
        Stage("captured", T0, 5.0),
        Stage("queued", T0 + ms(5), 10.0),
        Stage("processing", T0 + ms(15), 40.0),
        Stage("processed", T0 + ms(55), 2.0),
        Stage("published", T0 + ms(57), 3.0),
    ]
    assert view.detections == [
        {"label": "person", "score": 0.91, "box": [10, 20, 110, 220], "processor": "yolox-s"}
    ]


def test_stage_durations_keep_sub_millisecond_precision() -> None:
    view = fold(
        [
            (1, make_event(E.CAPTURED, 0)),
            (2, make_event(E.QUEUED, 1.25)),
            (3, make_event(E.DROPPED, 1001.5)),
        ]
    )
    assert [(s.name, s.duration_ms) for s in view.stages] == [
        ("captured", 1.25),
        ("queued", 1000.25),
    ]
    assert view.stages[1].to_dict() == {
        "name": "queued",
        "started_at": "2025-11-27T14:03:07.124250Z",
        "duration_ms": 1000.25,
    }


def test_an_in_flight_frame_has_no_open_stage_and_no_terminal_time() -> None:
    view = fold(enumerate(pipeline()[:3]))
    assert view.state is FrameState.PROCESSING
    assert [s.name for s in view.stages] == ["captured", "queued"]
    assert view.terminal_at is None
    assert view.total_ms is None


@pytest.mark.parametrize("seed", range(8))
def test_out_of_order_arrival_folds_to_the_same_view(seed: int) -> None:
    events = pipeline()
    in_order = fold(enumerate(events, start=1))
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    late = fold(enumerate(shuffled, start=1))
    assert essence(late) == essence(in_order)
    assert late.anomalies == []


def test_every_arrival_order_gives_the_same_view_incrementally() -> None:
    events = pipeline()[:4]
    expected = essence(fold(enumerate(events)))
    for order in itertools.permutations(events):
        view = FrameView.start(1, order[0])
        for position, envelope in enumerate(order[1:], start=2):
            view.add(position, envelope)
        assert essence(view) == expected


def test_apply_takes_in_order_events_and_refuses_late_ones() -> None:
    captured, queued, processing = pipeline()[:3]
    view = FrameView.start(10, captured)
    view.apply(11, processing)
    assert view.state is FrameState.PROCESSING
    assert len(view.anomalies) == 1  # captured -> processing, with queued not yet seen
    assert not view.is_in_order(queued)
    with pytest.raises(ValueError, match="use add"):
        view.apply(12, queued)
    view.add(12, queued)
    assert [e.type for e in view.envelopes] == [E.CAPTURED, E.QUEUED, E.PROCESSING]
    assert view.anomalies == []
    assert [p for p, _ in view.events] == [10, 12, 11]


def test_ties_on_occurred_at_are_broken_by_position() -> None:
    captured = make_event(E.CAPTURED, 0)
    queued = make_event(E.QUEUED, 0)
    assert fold([(2, queued), (1, captured)]).anomalies == []
    reversed_positions = fold([(1, queued), (2, captured)])
    assert [e.type for e in reversed_positions.envelopes] == [E.QUEUED, E.CAPTURED]
    assert len(reversed_positions.anomalies) == 2
    view = FrameView.start(5, captured)
    assert view.is_in_order(queued)
    assert view.is_in_order(queued, 6)
    assert not view.is_in_order(queued, 4)


def test_duplicate_event_ids_are_applied_once() -> None:
    events = pipeline()
    view = fold([*enumerate(events), (99, events[2])])
    assert len(view.events) == len(events)
    assert view.anomalies == []
    view.apply(100, events[-1])
    view.add(101, events[0])
    assert len(view.events) == len(events)


def test_an_event_of_another_frame_is_a_programming_error() -> None:
    view = FrameView.start(1, make_event(E.CAPTURED))
    other = make_event(E.QUEUED, 1, frame=FrameId("front-door", 1, 1))
    for method in (view.apply, view.add):
        with pytest.raises(ValueError, match="given to the view of"):
            method(2, other)
    with pytest.raises(ValueError, match="given to the view of"):
        fold([(1, make_event(E.CAPTURED)), (2, other)])


def test_fold_needs_an_event() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        fold([])


def test_events_after_terminal_are_anomalies_and_change_nothing_else() -> None:
    events = [
        *pipeline(),
        make_event(E.PROCESSED, 70, {"processor": "late", "duration_ms": 1, "detections": []}),
        make_event(E.DROPPED, 80, {"reason": "stale"}),
    ]
    view = fold(enumerate(events))
    assert view.state is FrameState.COMPLETED
    assert view.terminal_at == T0 + ms(60)
    assert view.terminal_reason is None
    assert view.last_event_at == T0 + ms(80)
    assert len(view.stages) == 5
    assert len(view.anomalies) == 2
    assert "frame.processed after terminal state completed" in view.anomalies[0]
    assert view.anomalies[0].startswith("2025-11-27T14:03:07.193000Z frame.processed (event ")
    assert "frame.dropped after terminal state completed" in view.anomalies[1]


def test_a_missing_stage_is_one_anomaly_and_the_state_follows_reality() -> None:
    events = [make_event(E.CAPTURED, 0), make_event(E.PROCESSING, 5), make_event(E.PROCESSED, 9)]
    view = fold(enumerate(events))
    assert view.state is FrameState.PROCESSED
    assert len(view.anomalies) == 1
    assert "illegal transition captured -> processing" in view.anomalies[0]
    assert [s.name for s in view.stages] == ["captured", "processing"]


def test_an_orphan_frame_uses_the_id_capture_time() -> None:
    view = fold(
        [(7, make_event(E.QUEUED, 3)), (8, make_event(E.DROPPED, 4, {"reason": "shutdown"}))]
    )
    assert not view.has_captured
    assert view.captured_at == FRAME.captured_at
    assert view.state is FrameState.DROPPED
    assert view.terminal_reason == "shutdown"
    assert len(view.anomalies) == 1
    assert "frame.captured was not seen" in view.anomalies[0]
    summary = view.summary()
    assert (summary.state, summary.reason, summary.captured) == (
        FrameState.DROPPED,
        "shutdown",
        False,
    )
    assert summary.last_event_at == T0 + ms(4)


def test_skipped_frame_records_its_reason() -> None:
    view = fold([(1, make_event(E.CAPTURED)), (2, make_event(E.SKIPPED, 1, {"reason": "masked"}))])
    assert (view.state, view.terminal_reason, view.total_ms) == (FrameState.SKIPPED, "masked", 1.0)
    assert view.summary().captured


def detections_of(processor: str, *labels: str) -> dict[str, object]:
    return {
        "processor": processor,
        "duration_ms": 3,
        "detections": [{"label": label, "score": 0.5, "box": [0, 0, 1, 1]} for label in labels],
    }


def test_detections_come_from_each_processors_latest_result() -> None:
    events = [
        make_event(E.CAPTURED, 0),
        make_event(E.QUEUED, 1),
        make_event(E.PROCESSING, 2),
        make_event(E.PROCESSED, 3, detections_of("faces", "face")),
        make_event(E.PROCESSING, 4),
        make_event(E.PROCESSED, 5, detections_of("objects", "car", "dog")),
        make_event(E.PROCESSING, 6),
        make_event(E.PROCESSED, 7, detections_of("faces")),
    ]
    view = fold(enumerate(events))
    assert view.anomalies == []
    assert [(d["processor"], d["label"]) for d in view.detections] == [
        ("objects", "car"),
        ("objects", "dog"),
    ]
    first = view.detections
    first[0]["label"] = "mutated"
    first[0]["box"].append(9)  # type: ignore[attr-defined]
    assert view.detections[0] == {
        "label": "car",
        "score": 0.5,
        "box": [0, 0, 1, 1],
        "processor": "objects",
    }


def test_trace_id_is_the_first_non_null_in_event_order() -> None:
    late_trace = make_event(E.QUEUED, 5, trace_id=OTHER_TRACE)
    early_trace = make_event(E.CAPTURED, 0, trace_id=TRACE)
    assert fold([(1, late_trace), (2, early_trace)]).trace_id == TRACE
    assert fold([(1, make_event(E.CAPTURED))]).trace_id is None


def test_to_dict_is_json_ready_with_the_api_fields() -> None:
    view = fold(enumerate(pipeline(), start=1))
    out = json.loads(json.dumps(view.to_dict()))
    assert {"frame_id", "camera", "state", "trace_id", "events", "stages", "detections"} <= set(out)
    assert out["frame_id"] == str(FRAME)
    assert out["state"] == "completed"
    assert out["events"][0]["position"] == 1
    assert out["events"][0]["type"] == "frame.captured"
    assert out["stages"][0] == {
        "name": "captured",
        "started_at": "2025-11-27T14:03:07.123000Z",
        "duration_ms": 5.0,
    }
    assert out["terminal_at"] == "2025-11-27T14:03:07.183000Z"
    assert out["anomalies"] == []
