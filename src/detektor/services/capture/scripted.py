"""Scripted scenes of the synthetic camera: real photos that move along a known script.

Each scene says, for frame ``index``, which photo stands where: its feet (the bottom centre,
as fractions of the view) and its height (a fraction of the view's height). The photos ship
inside scikit-image's wheel, so the real detector has real people and a real motorcycle to
find: the astronaut (a person), the cameraman (a second person, who looks nothing like
her), and a motorcycle. Tests and benches know the truth from the same script.

- ``crossing``: one person walks in from the left, across, and out on the right; then the
  view stays empty.
- ``two_crossing``: two people cross paths, one near the camera walking right, one farther
  away walking left; at the crossing the nearer hides part of the other.
- ``parked``: a motorcycle stands in the view from the first frame on, and never moves.
- ``stop_and_go``: a person walks in, stands still for ``stop`` seconds, and walks on.
- ``flash``: a person is in one frame only (a one-frame false hit, as far as the detector
  is concerned), at two seconds.

Pure: placements are a function of the frame index, the fps and the stop time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Sprite = Literal["astronaut", "cameraman", "motorcycle"]
SCRIPTED = ("crossing", "two_crossing", "parked", "stop_and_go", "flash")

ENTER_S = 1.0  # the scene starts empty for a second, so the motion gate learns the ground
CROSS_S = 8.0  # from off-screen left to off-screen right
WALK_IN_S = 3.0


@dataclass(frozen=True, slots=True)
class Placement:
    sprite: Sprite
    foot_x: float  # fraction of the width; may be off-screen (< 0 or > 1)
    foot_y: float  # fraction of the height
    height: float  # fraction of the view's height
    flip: bool = False  # mirrored, facing the other way


def _lerp(a: float, b: float, f: float) -> float:
    return a + (b - a) * min(max(f, 0.0), 1.0)


def _crossing(t: float, near: bool = True, leftward: bool = False) -> Placement | None:
    f = (t - ENTER_S) / CROSS_S
    if not 0.0 <= f <= 1.0:
        return None
    start, end = (1.25, -0.25) if leftward else (-0.25, 1.25)
    if near:
        return Placement("astronaut", _lerp(start, end, f), 0.98, 0.6, flip=leftward)
    return Placement("cameraman", _lerp(start, end, f), 0.70, 0.46, flip=not leftward)


def placements(scene: str, index: int, fps: float, stop_s: float = 30.0) -> list[Placement]:
    """What stands in frame ``index`` of a scripted scene, farthest first (drawing order)."""
    t = index / fps
    if scene == "crossing":
        found = _crossing(t)
        return [found] if found else []
    if scene == "two_crossing":
        both = [_crossing(t, near=False, leftward=True), _crossing(t, near=True)]
        return [p for p in both if p is not None]
    if scene == "parked":
        return [Placement("motorcycle", 0.55, 0.92, 0.5)]
    if scene == "stop_and_go":
        if t < ENTER_S:
            return []
        walk = t - ENTER_S
        if walk < WALK_IN_S:
            x = _lerp(-0.25, 0.45, walk / WALK_IN_S)
        elif walk < WALK_IN_S + stop_s:
            x = 0.45
        elif walk < 2 * WALK_IN_S + stop_s:
            x = _lerp(0.45, 1.25, (walk - WALK_IN_S - stop_s) / WALK_IN_S)
        else:
            return []
        return [Placement("astronaut", x, 0.98, 0.6)]
    if scene == "flash":
        return [Placement("astronaut", 0.5, 0.98, 0.6)] if index == round(2 * fps) else []
    raise ValueError(f"not a scripted scene: {scene!r}")


def truth_box(
    placement: Placement, aspect: float, width: int, height: int
) -> tuple[float, float, float, float]:
    """The sprite's box in pixels (unclipped) for a photo of ``aspect`` = width / height."""
    h = placement.height * height
    w = h * aspect
    x, y = placement.foot_x * width, placement.foot_y * height
    return (x - w / 2, y - h, x + w / 2, y)
