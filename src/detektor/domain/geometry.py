"""Plane geometry for object boxes and zones, in source pixels: boxes, IoU, the point a box
stands on, point-in-polygon and the frame edge.

Plain floats and tuples: a frame holds a few dozen boxes at most, so the domain stays free of
numpy and the arithmetic is exact enough for pixel coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from detektor.domain.errors import ValidationError
from detektor.domain.fields import describe

Box = tuple[float, float, float, float]  # x1, y1, x2, y2
Point = tuple[float, float]
Polygon = tuple[Point, ...]


def validate_box(value: object, field: str = "box") -> Box:
    """`value` as a Box when it is four finite numbers with x2 >= x1 and y2 >= y1."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 4:
        raise ValidationError(field, f"must be [x1, y1, x2, y2], got {describe(value)}")
    numbers: list[float] = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValidationError(field, f"must hold four finite numbers, got {describe(value)}")
        numbers.append(float(v))
    x1, y1, x2, y2 = numbers
    if x2 < x1 or y2 < y1:
        raise ValidationError(
            field, f"needs x2 >= x1 and y2 >= y1 (source pixels), got {describe(value)}"
        )
    return (x1, y1, x2, y2)


def area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union; 0.0 for two empty boxes rather than a division by zero."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def bottom_centre(box: Box) -> Point:
    """Where an object stands: cameras look down at the ground, so zones test this point."""
    return ((box[0] + box[2]) / 2, box[3])


def contains(polygon: Polygon, point: Point) -> bool:
    """Even-odd ray casting. A point exactly on an edge may fall either way, which zone inertia
    makes harmless."""
    x, y = point
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def cut_by_edge(box: Box, frame_size: tuple[int, int] | None, margin: float) -> bool:
    """Whether the box touches the frame edge (within `margin` pixels): the object is only
    partly in view, a poor snapshot. Unknown frame size counts as not cut."""
    if frame_size is None:
        return False
    width, height = frame_size
    return (
        box[0] <= margin
        or box[1] <= margin
        or box[2] >= width - margin
        or box[3] >= height - margin
    )
