"""The objects stage: frames in capture order, skipped frames, idle cameras, bad detections,
trace context and pictures, with the in-memory sink (the store's twin) and a picture keeper."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.geometry import Box
from detektor.domain.messages import FrameMessage
from detektor.kit.metrics import Metrics
from detektor.pipeline.decoding import Frame, Image
from detektor.pipeline.processing import Result
from detektor.services.objects import stage as stage_module
from detektor.services.objects.camera import trace_ids
from detektor.services.objects.metrics import ObjectMetrics
from detektor.services.objects.settings import ObjectsSettings
from detektor.services.objects.stage import ObjectsStage

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
IMAGE = np.zeros((480, 640, 3), np.uint8)


def frame(seq: int, camera: str = "yard", traceparent: str | None = None) -> Frame:
    at = T0 + timedelta(seconds=seq / 5)
    ms = int(at.timestamp() * 1000)
    msg = FrameMessage(FrameId.make(camera, ms, seq), ms, seq, 640, 480, b"", traceparent)
    return Frame(msg, IMAGE)


def person(seq: int, score: float = 0.8) -> dict[str, object]:
    x = 100 + 8 * seq
    return {"label": "person", "score": score, "box": [x, 150, x + 120, 460]}


class Keeper:
    """The picture keeper's twin: remembers what it was asked to keep."""

    def __init__(self, fail: bool = False) -> None:
        self.best: list[tuple[str, str, Box]] = []
        self.latest: list[str] = []
        self.fail = fail

    def keep_best(
        self, object_id: str, camera: str, image: Image, box: Box, label: str, score: float
    ) -> None:
        if self.fail:
            raise OSError(28, "No space left on device")
        self.best.append((object_id, label, box))

    def keep_latest(
        self, camera: str, image: Image, detections: Sequence[tuple[str, float, Box]]
    ) -> bool:
        self.latest.append(camera)
        return True


def make(keeper: Keeper | None = None, **settings: object) -> tuple[ObjectsStage, MemoryEventSink]:
    sink = MemoryEventSink()
    cfg = ObjectsSettings.model_validate(settings)
    return ObjectsStage(cfg, sink, ObjectMetrics(Metrics("test", "0")), keeper), sink


def types(events: Sequence[Envelope]) -> list[str]:
    return [e.type.value for e in events]


async def feed(stage: ObjectsStage, seqs: range, detect: bool = True) -> list[Envelope]:
    out: list[Envelope] = []
    for seq in seqs:
        result = Result([person(seq)] if detect else [])
        for events in await stage.frames([frame(seq, traceparent=TRACEPARENT)], [result]):
            out += events
    return out


async def test_a_person_seen_in_a_row_starts_one_object_with_the_frames_trace() -> None:
    keeper = Keeper()
    stage, sink = make(keeper)
    returned = await feed(stage, range(1, 8))
    assert types(returned) == ["object.started"]
    assert sink.events == returned
    started = returned[0]
    assert started.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert started.span_id == "00f067aa0ba902b7"
    assert started.data["label"] == "person"
    assert keeper.best
    assert keeper.best[0][0] == started.data["object_id"]
    assert keeper.latest == ["yard"] * 7


async def test_a_frame_older_than_one_already_seen_is_counted_and_skipped() -> None:
    stage, sink = make()
    await feed(stage, range(1, 8))
    before = len(sink.events)
    assert await stage.frames([frame(3)], [Result([person(3)])]) == [[]]
    assert len(sink.events) == before
    late = stage.metrics.stale_frames.labels("yard")._value.get()
    assert late == 1


async def test_detections_it_cannot_use_are_left_out_not_fatal() -> None:
    stage, _ = make()
    bad: list[object] = [
        "person",
        {"label": "person", "score": 0.9},
        {"label": "person", "score": 0.9, "box": [10, 10, 5, 5]},
        {"label": "person", "score": float("nan"), "box": [1, 1, 50, 90]},
        {"label": "person", "score": 1.7, "box": [1, 1, 50, 90]},
        {"label": 7, "score": 0.9, "box": [1, 1, 50, 90]},
    ]
    out: list[Envelope] = []
    for seq in range(1, 8):
        result = Result([*bad, person(seq)])  # type: ignore[list-item]
        for events in await stage.frames([frame(seq)], [result]):
            out += events
    assert types(out) == ["object.started"]


async def test_skipped_frames_keep_a_still_object_until_it_is_stationary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stage_module, "SKIP_GRACE_S", 0.0)
    stage, sink = make(stationary_after_s=2, reorder_window_ms=0)
    await feed(stage, range(1, 8))
    last = person(7)
    for seq in range(8, 30):  # 4.4 s of no motion: the scene is the last frame's
        stage.skipped(frame(seq).message.frame_id, frame(seq).message.captured_at)
    await stage.tick()
    kinds = [c["kind"] for e in sink.events for c in e.data["changes"]]  # type: ignore[union-attr]
    assert types(sink.events) == ["object.started", "object.updated"]
    assert kinds == ["stationary"]
    assert last["box"] == [156, 150, 276, 460]


async def test_a_one_frame_hit_is_not_repeated_by_the_skipped_frames_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stage_module, "SKIP_GRACE_S", 0.0)
    stage, sink = make(reorder_window_ms=0)
    await feed(stage, range(1, 2))  # seen once: tentative
    for seq in range(2, 40):
        stage.skipped(frame(seq).message.frame_id, frame(seq).message.captured_at)
    await stage.tick()
    assert sink.events == []


async def test_a_skip_waits_for_the_frames_captured_before_it() -> None:
    """The motion gate records a skip at once, while earlier frames may still be in the
    detector: applied first, it would make them late and lose their sightings."""
    stage, _ = make()
    await feed(stage, range(1, 8))
    stage.skipped(frame(9).message.frame_id, frame(9).message.captured_at)
    await stage.tick()  # not yet due: frame 8 may still come
    await feed(stage, range(8, 9))
    assert stage.metrics.stale_frames.labels("yard")._value.get() == 0
    await feed(stage, range(10, 11))  # frame 10 applies the waiting skip 9 first
    assert stage.cameras["yard"].last_at == frame(10).message.captured_at
    assert stage._skips["yard"] == []


async def test_a_silent_camera_ends_its_objects_after_max_disappeared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stage, sink = make(max_disappeared_s=0.2)
    await feed(stage, range(1, 8))
    await stage.tick()
    assert types(sink.events) == ["object.started"]
    await asyncio.sleep(0.3)
    await stage.tick()
    assert types(sink.events) == ["object.started", "object.ended"]


async def test_close_ends_every_object_and_a_full_disk_does_not_stop_tracking() -> None:
    stage, sink = make(Keeper(fail=True))
    await feed(stage, range(1, 8))
    assert stage.metrics.snapshot_errors.labels("yard")._value.get() >= 1
    ended = await stage.close(T0 + timedelta(seconds=5))
    assert types(ended) == ["object.ended"]
    assert types(sink.events) == ["object.started", "object.ended"]


async def test_events_from_skips_and_ticks_go_to_on_events_too() -> None:
    stage, _ = make(max_disappeared_s=0.1)
    heard: list[Envelope] = []

    async def listen(events: Sequence[Envelope]) -> None:
        heard.extend(events)

    stage.on_events = listen
    await feed(stage, range(1, 8))
    assert heard == []  # frame events go on with their frames
    await asyncio.sleep(0.2)
    await stage.tick()
    assert types(heard) == ["object.ended"]
    assert heard[0].type is EventType.OBJECT_ENDED


async def test_plain_detections_track_like_frames_without_pictures() -> None:
    """``serve objects`` has no pixels: the same events as ``frames``, no pictures kept,
    unusable detections left out, and a skip captured before the frame applied first."""
    keeper = Keeper()
    stage, sink = make(keeper, reorder_window_ms=0)
    out: list[Envelope] = []
    for seq in range(1, 8):
        msg = frame(seq).message
        dets: list[object] = ["junk", person(seq)]
        out += await stage.observe_detections(
            msg.frame_id, msg.captured_at, dets, None, TRACEPARENT
        )
    assert types(out) == ["object.started"]
    assert out[0].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert sink.events == out
    assert keeper.best == []
    assert keeper.latest == []
    stage.skipped(frame(8).message.frame_id, frame(8).message.captured_at)
    msg = frame(9).message
    await stage.observe_detections(msg.frame_id, msg.captured_at, [person(9)])
    assert stage._skips["yard"] == []
    msg = frame(10).message
    bad_trace = "00-" + "Z" * 32 + "-" + "y" * 16 + "-01"  # the stream's field is not checked
    await stage.observe_detections(msg.frame_id, msg.captured_at, [person(10)], None, bad_trace)
    assert trace_ids(bad_trace) == (None, None)  # an envelope would refuse them
    assert trace_ids(TRACEPARENT) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    late = frame(2).message
    assert await stage.observe_detections(late.frame_id, late.captured_at, [person(2)]) == []
    assert stage.metrics.stale_frames.labels("yard")._value.get() == 1
    stage.forget("yard")
    assert "yard" not in stage.cameras


async def test_the_gauges_count_objects_per_label_and_per_zone_and_fall_back_to_zero() -> None:
    # The person's feet walk from x=160 to x=208 at y=460: inside the yard's left half.
    left = {"points": [[0, 400], [320, 400], [320, 480], [0, 480]], "inertia": 1}
    stage, _ = make(max_disappeared_s=0.1, cameras={"yard": {"zones": {"left": left}}})
    await feed(stage, range(1, 8))
    gauge = stage.metrics.objects.labels("yard", "person", "active")._value.get()
    in_zone = stage.metrics.in_zones.labels("yard", "left", "person", "active")._value.get()
    assert (gauge, in_zone) == (1, 1)
    await asyncio.sleep(0.2)
    await stage.tick()  # the object ends: its series stay, at 0
    gauge = stage.metrics.objects.labels("yard", "person", "active")._value.get()
    in_zone = stage.metrics.in_zones.labels("yard", "left", "person", "active")._value.get()
    assert (gauge, in_zone) == (0, 0)
