"""Which detections reach Home Assistant: per-camera labels, minimum score and zones.

Zones are polygons in source pixels. A detection is in a zone when the bottom centre of its
box (where a person or a car touches the ground) lies inside the polygon. A camera with no
zones accepts detections anywhere in the picture; with zones, only those inside at least one.

Every detection that is not published gets a reason, in this order of checks:
``stale`` (older than ``max_event_age_s``), ``label_not_configured``, ``below_min_score``,
``outside_zones``. The reasons are counted, and stored with the frame's ``frame.completed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Point = tuple[float, float]

STALE = "stale"
LABEL_NOT_CONFIGURED = "label_not_configured"
BELOW_MIN_SCORE = "below_min_score"
OUTSIDE_ZONES = "outside_zones"


@dataclass(frozen=True, slots=True)
class Detection:
    """One object the detector found: ``box`` is ``[x1, y1, x2, y2]`` in source pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    @property
    def foot(self) -> Point:
        """The bottom centre of the box."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": self.score, "box": list(self.box)}


@dataclass(frozen=True, slots=True)
class CameraRules:
    """The effective rules of one camera (settings resolved, zones validated)."""

    labels: tuple[str, ...]
    min_score: float = 0.0
    zones: Mapping[str, Sequence[Point]] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """The detections of one frame split into published (with the zones they are in) and
    filtered (with the reason)."""

    published: list[tuple[Detection, list[str]]] = field(default_factory=list)
    filtered: list[tuple[Detection, str]] = field(default_factory=list)


def decide(rules: CameraRules, detections: Sequence[Detection], *, stale: bool) -> Decision:
    """Apply the camera's rules to a frame's detections."""
    decision = Decision()
    for det in detections:
        if stale:
            decision.filtered.append((det, STALE))
        elif det.label not in rules.labels:
            decision.filtered.append((det, LABEL_NOT_CONFIGURED))
        elif det.score < rules.min_score:
            decision.filtered.append((det, BELOW_MIN_SCORE))
        elif rules.zones:
            inside = [name for name, poly in rules.zones.items() if contains(poly, det.foot)]
            if inside:
                decision.published.append((det, inside))
            else:
                decision.filtered.append((det, OUTSIDE_ZONES))
        else:
            decision.published.append((det, []))
    return decision


def contains(polygon: Sequence[Point], point: Point) -> bool:
    """Whether ``point`` lies inside ``polygon`` (even-odd ray casting)."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross_x:
                inside = not inside
    return inside


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
