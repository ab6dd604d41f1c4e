"""Which objects reach Home Assistant: per-camera labels, minimum top score, required zones.

An object is counted (occupancy, counts) when its label is one the camera announces and its
top score reaches ``min_score``; it is announced (events, the label's snapshot) when, on top
of that, it has entered one of the camera's ``required_zones`` (when it has any), as Frigate's
``required_zones`` do. Every object event not sent gets a reason, in this order of checks:
``stale`` (older than ``max_event_age_s``), ``label_not_configured``, ``below_min_score``,
``outside_required_zones``. The reasons are counted, and stored with the frame's
``frame.completed``.

The zone polygons themselves belong to the objects stage; ``polygon_problem`` checks them
when its settings load.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Point = tuple[float, float]

STALE = "stale"
LABEL_NOT_CONFIGURED = "label_not_configured"
BELOW_MIN_SCORE = "below_min_score"
OUTSIDE_REQUIRED_ZONES = "outside_required_zones"
REASONS = (STALE, LABEL_NOT_CONFIGURED, BELOW_MIN_SCORE, OUTSIDE_REQUIRED_ZONES)


@dataclass(frozen=True, slots=True)
class Detection:
    """One box the detector found: ``box`` is ``[x1, y1, x2, y2]`` in source pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": self.score, "box": list(self.box)}


@dataclass(frozen=True, slots=True)
class CameraRules:
    """The effective rules of one camera (settings resolved)."""

    labels: tuple[str, ...]
    min_score: float = 0.0
    required_zones: tuple[str, ...] = ()

    def counted(self, label: str, top_score: float) -> bool:
        """Whether the object counts in occupancy and counts."""
        return label in self.labels and top_score >= self.min_score

    def reason(self, label: str, top_score: float, entered: Iterable[str]) -> str | None:
        """Why the object is not announced, or None when it is."""
        if label not in self.labels:
            return LABEL_NOT_CONFIGURED
        if top_score < self.min_score:
            return BELOW_MIN_SCORE
        if self.required_zones and not set(self.required_zones).intersection(entered):
            return OUTSIDE_REQUIRED_ZONES
        return None


def polygon_problem(polygon: Sequence[Sequence[float]]) -> str | None:
    """Why ``polygon`` cannot be a zone (too few points, not finite, zero area, edges that
    cross), or None when it is a simple polygon."""
    if len(polygon) < 3:
        return f"needs at least 3 points, got {len(polygon)}"
    points: list[Point] = []
    for i, p in enumerate(polygon):
        if len(p) != 2:
            return f"point {i} must be [x, y], got {list(p)}"
        if not all(math.isfinite(v) for v in p):
            return f"point {i} must be finite numbers, got {list(p)}"
        points.append((float(p[0]), float(p[1])))
    n = len(points)
    for i in range(n):
        if points[i] == points[(i + 1) % n]:
            return f"points {i} and {(i + 1) % n} are the same point"
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a corner by construction
            a, b = points[i], points[(i + 1) % n]
            c, d = points[j], points[(j + 1) % n]
            if _segments_meet(a, b, c, d):
                return f"edges {i}-{(i + 1) % n} and {j}-{(j + 1) % n} cross (self-intersecting)"
    if abs(_area(points)) < 1e-9:
        return "has zero area (all points on one line)"
    return None


def _area(points: Sequence[Point]) -> float:
    n = len(points)
    twice = sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
        for i in range(n)
    )
    return twice / 2


def _orient(a: Point, b: Point, c: Point) -> int:
    value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return 0 if abs(value) < 1e-12 else (1 if value > 0 else -1)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd touch or cross (collinear overlaps included)."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if o1 != o2 and o3 != o4 and 0 not in (o1, o2, o3, o4):
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )
