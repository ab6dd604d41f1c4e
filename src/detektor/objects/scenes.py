"""Scripted scenes with ground truth, and the noise that turns the truth into detections.

Each scene is a camera's view (1280x720 at 5 detection frames a second, the default sampling)
and, per frame, the objects really there: id, label, box, and whether a nearer object hides
it. People are drawn in perspective: the lower their feet in the picture, the taller the box,
so someone walking toward the camera grows. A box is clipped to the view, and an object whose
clipped box keeps under 40 % of its area is not in the frame at all (walking in or out).

``noisy()`` makes what a detector would report: jittered boxes, 10 % of visible objects
missed, 5 % false hits at low scores, in a shuffled order, from a seeded generator. Both are
pure and deterministic: the same scene and seed give the same detections on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from detektor.objects.model import Box, Detection

FPS = 5.0
WIDTH, HEIGHT = 1280, 720
# A farther object counts as hidden when a nearer one covers this share of its box.
HIDDEN_COVER = 0.6
MIN_IN_VIEW = 0.4

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class TruthObject:
    """One object really in one frame."""

    object_id: int
    label: str
    box: Box
    visible: bool = True


@dataclass(frozen=True, slots=True)
class ScriptedHit:
    """A detection with nothing behind it, placed by the script (not by the noise)."""

    frame: int
    detection: Detection


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    frames: tuple[tuple[TruthObject, ...], ...]
    false_hits: tuple[ScriptedHit, ...] = ()
    fps: float = FPS

    def visible(self, index: int) -> tuple[TruthObject, ...]:
        """The ground truth a tracker can be judged on: the objects not hidden."""
        return tuple(o for o in self.frames[index] if o.visible)


@dataclass(frozen=True, slots=True)
class Noise:
    jitter: float = 0.03  # standard deviation of each box edge, as a share of the box height
    miss: float = 0.10
    false_hit: float = 0.05  # per visible object and frame (at least one chance per frame)
    true_scores: tuple[float, float] = (0.6, 0.9)
    false_scores: tuple[float, float] = (0.3, 0.5)


@dataclass(frozen=True, slots=True)
class NoisyFrame:
    """A frame's detections, each with the truth id behind it (None: a false hit)."""

    index: int
    detections: tuple[Detection, ...]
    truth_ids: tuple[int | None, ...]


def person_box(foot: Point) -> Box:
    x, y = foot
    height = 0.45 * y
    return (x - 0.2 * height, y - height, x + 0.2 * height, y)


def car_box(foot: Point) -> Box:
    x, y = foot
    height = 0.3 * y
    return (x - 1.1 * height, y - height, x + 1.1 * height, y)


BOX_OF: dict[str, Callable[[Point], Box]] = {"person": person_box, "car": car_box}


def walk(start: Point, end: Point, frames: int) -> list[Point]:
    """Feet positions from start to end in equal steps (both ends included)."""
    return [
        (
            start[0] + (end[0] - start[0]) * i / (frames - 1),
            start[1] + (end[1] - start[1]) * i / (frames - 1),
        )
        for i in range(frames)
    ]


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _clip(box: Box) -> Box | None:
    clipped = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], WIDTH), min(box[3], HEIGHT))
    return clipped if _area(clipped) >= MIN_IN_VIEW * _area(box) else None


def _covered(back: Box, front: Box) -> float:
    w = min(back[2], front[2]) - max(back[0], front[0])
    h = min(back[3], front[3]) - max(back[1], front[1])
    return max(0.0, w) * max(0.0, h) / _area(back) if w > 0 and h > 0 else 0.0


def _frame(placed: Sequence[tuple[int, str, Point]], occlude: bool) -> tuple[TruthObject, ...]:
    """Boxes for the objects' feet, clipped to the view, with the hidden ones marked."""
    boxes = [(oid, label, _clip(BOX_OF[label](foot))) for oid, label, foot in placed]
    inside = [(oid, label, box) for oid, label, box in boxes if box is not None]
    frame = []
    for oid, label, box in inside:
        hidden = occlude and any(
            other[3] > box[3] and _covered(box, other) >= HIDDEN_COVER
            for o, _, other in inside
            if o != oid
        )
        frame.append(TruthObject(oid, label, box, visible=not hidden))
    return tuple(frame)


def _scene(
    name: str, paths: dict[tuple[int, str], list[Point | None]], occlude: bool = True
) -> Scene:
    """A scene from each object's feet per frame (None: not there in that frame)."""
    length = max(len(p) for p in paths.values())
    frames = []
    for i in range(length):
        placed = [
            (oid, label, path[i])
            for (oid, label), path in paths.items()
            if i < len(path) and path[i] is not None
        ]
        frames.append(_frame([(o, lb, p) for o, lb, p in placed if p is not None], occlude))
    return Scene(name, tuple(frames))


def person_crossing() -> Scene:
    """One person walks across the view and toward the camera, in and out of the edges."""
    return _scene("person_crossing", {(1, "person"): list(walk((-60, 430), (1340, 620), 60))})


def two_passing() -> Scene:
    """Two people pass each other at different depths; the nearer hides the other briefly."""
    near = walk((-60, 600), (1340, 560), 60)
    far: list[Point | None] = [None] * 4 + list(walk((1340, 470), (-60, 510), 60))
    return _scene("two_passing", {(1, "person"): list(near), (2, "person"): far})


def two_crossing() -> Scene:
    """Two people cross paths: one walks toward the camera, the other away, and halfway their
    feet meet at the same spot with the same size; the farther is hidden for two frames."""
    toward = walk((-60, 470), (1340, 610), 80)
    away: list[Point | None] = [None] * 4 + list(walk((1340, 600), (-60, 480), 80))
    return _scene("two_crossing", {(1, "person"): list(toward), (2, "person"): away})


def parked_car() -> Scene:
    """A car that stands still for a minute."""
    return _scene("parked_car", {(1, "car"): [(400.0, 600.0)] * 300})


def stop_and_go() -> Scene:
    """A person walks in, stands for 30 s, and walks on."""
    stop = int(30 * FPS)
    path = walk((-50, 500), (640, 560), 30) + [(640.0, 560.0)] * stop
    path += walk((640, 560), (1330, 600), 30)
    return _scene("stop_and_go", {(1, "person"): list(path)})


def false_hit() -> Scene:
    """An empty view where the detector reports one person, once, at 0.45."""
    hit = Detection("person", 0.45, (900.0, 300.0, 980.0, 480.0))
    return Scene("false_hit", ((),) * 40, false_hits=(ScriptedHit(20, hit),))


def crowd(objects: int = 20, frames: int = 200, seed: int = 20) -> Scene:
    """Many objects at once for the cost measurement: people walking straight, bouncing off
    the edges of the ground (feet from y=330 down), and a few parked cars. Nobody is hidden,
    however they overlap, so that each frame really has all of them to track."""
    ground = (330.0, HEIGHT - 20.0)
    rng = np.random.default_rng(seed)
    paths: dict[tuple[int, str], list[Point | None]] = {}
    for oid in range(1, objects + 1):
        label = "car" if oid % 5 == 0 else "person"
        pos = np.array([rng.uniform(100, WIDTH - 100), rng.uniform(*ground)])
        vel = np.zeros(2) if label == "car" else rng.uniform((-15, -4), (15, 4))
        path: list[Point | None] = []
        for _ in range(frames):
            path.append((float(pos[0]), float(pos[1])))
            pos = pos + vel
            for axis, (low, high) in enumerate(((60, WIDTH - 60), ground)):
                if not low <= pos[axis] <= high:
                    vel[axis] = -vel[axis]
                    pos[axis] = min(max(pos[axis], low), high)
        paths[(oid, label)] = path
    return _scene("crowd", paths, occlude=False)


SCENES: dict[str, Callable[[], Scene]] = {
    "person_crossing": person_crossing,
    "two_passing": two_passing,
    "two_crossing": two_crossing,
    "parked_car": parked_car,
    "stop_and_go": stop_and_go,
    "false_hit": false_hit,
    "crowd": crowd,
}


def _false_box(rng: np.random.Generator, label: str) -> Box:
    foot = (float(rng.uniform(50, WIDTH - 50)), float(rng.uniform(300, HEIGHT)))
    box = _clip(BOX_OF[label](foot))
    return box if box is not None else (0.0, 0.0, 40.0, 100.0)


def noisy(scene: Scene, seed: int = 0, noise: Noise | None = None) -> list[NoisyFrame]:
    """What a detector would report for each frame of the scene, reproducibly."""
    noise = noise or Noise()
    rng = np.random.default_rng(seed)
    labels = sorted({o.label for frame in scene.frames for o in frame}) or ["person"]
    scripted: dict[int, list[Detection]] = {}
    for hit in scene.false_hits:
        scripted.setdefault(hit.frame, []).append(hit.detection)
    out = []
    for index in range(len(scene.frames)):
        found: list[tuple[Detection, int | None]] = []
        visible = scene.visible(index)
        for obj in visible:
            if rng.random() < noise.miss:
                continue
            height = obj.box[3] - obj.box[1]
            moved = np.array(obj.box) + rng.normal(0.0, noise.jitter * height, 4)
            box = (float(moved[0]), float(moved[1]), float(moved[2]), float(moved[3]))
            found.append(
                (Detection(obj.label, float(rng.uniform(*noise.true_scores)), box), obj.object_id)
            )
        for _ in range(int(rng.binomial(max(1, len(visible)), noise.false_hit))):
            label = str(rng.choice(labels))
            score = float(rng.uniform(*noise.false_scores))
            found.append((Detection(label, score, _false_box(rng, label)), None))
        found.extend((d, None) for d in scripted.get(index, []))
        order = rng.permutation(len(found))
        out.append(
            NoisyFrame(
                index,
                tuple(found[i][0] for i in order),
                tuple(found[i][1] for i in order),
            )
        )
    return out
