"""Scripted scenes for the object lifecycle tests: tracked boxes frame by frame, at 10 fps on
a 640x480 camera, and helpers that feed them and sort the events out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from detektor.domain.frames import FrameId
from detektor.domain.object_events import ChangeKind, ObjectEvent, ObjectEventType
from detektor.domain.object_track import TrackedBox
from detektor.domain.objects import ObjectLifecycle, Step

CAMERA = "front-door"
FPS = 10
SIZE = (640, 480)
T0_MS = 1764252187000
T0 = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=T0_MS)

Frame = Sequence[TrackedBox]


def frame_at(i: int) -> tuple[FrameId, datetime]:
    """Frame `i` of the scene: its id and capture time."""
    ms = i * 1000 // FPS
    return FrameId.make(CAMERA, T0_MS + ms, i), T0 + timedelta(milliseconds=ms)


def feed(lifecycle: ObjectLifecycle, frames: Iterable[Frame], start: int = 0) -> list[Step]:
    steps = []
    for i, boxes in enumerate(frames, start):
        frame_id, at = frame_at(i)
        steps.append(lifecycle.observe(frame_id, at, boxes, SIZE))
    return steps


def events_of(steps: Iterable[Step]) -> list[ObjectEvent]:
    return [e for step in steps for e in step.events]


def of_type(events: Iterable[ObjectEvent], kind: ObjectEventType) -> list[ObjectEvent]:
    return [e for e in events if e.type is kind]


def changes(events: Iterable[ObjectEvent]) -> list[ChangeKind]:
    return [c.kind for e in events for c in e.changes]


def empty(n: int) -> list[Frame]:
    return [[] for _ in range(n)]


def person(track_id: int, x: float, y: float = 300, score: float = 0.9) -> TrackedBox:
    """A 60x160 person whose feet are at (x + 30, y)."""
    return TrackedBox(track_id, "person", (x, y - 160, x + 60, y), score)


def crossing(
    track_id: int = 1, frames: int = 45, step: float = 12, score: float = 0.9
) -> list[Frame]:
    """A person walking left to right through the view, entering at the left edge."""
    return [[person(track_id, i * step, score=score)] for i in range(frames)]


def parked(track_id: int = 7, frames: int = 300, x: float = 300) -> list[Frame]:
    """A car that never moves, its box jittering by a pixel as detector boxes do."""
    out: list[Frame] = []
    for i in range(frames):
        j = (i % 3) - 1
        out.append([TrackedBox(track_id, "car", (x + j, 250 - j, x + 200 + j, 350), 0.85)])
    return out


def standing(track_id: int, x: float, frames: int, y: float = 300) -> list[Frame]:
    return [[person(track_id, x + (i % 2), y)] for i in range(frames)]
