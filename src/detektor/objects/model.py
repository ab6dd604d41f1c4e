"""The plain types of object tracking: a box, a detection going in, a track coming out.

Boxes are ``(x1, y1, x2, y2)`` in source pixels, the same as the detector's
``{"label", "score", "box"}`` results. Nothing here imports a tracking library, so the pure
scenes and the tests can use these types without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Box = tuple[float, float, float, float]


def foot(box: Box) -> tuple[float, float]:
    """The bottom centre of a box: where a person or a car touches the ground."""
    x1, _, x2, y2 = box
    return ((x1 + x2) / 2, y2)


@dataclass(frozen=True, slots=True)
class Detection:
    """One object the detector found in one frame."""

    label: str
    score: float
    box: Box

    @classmethod
    def from_dict(cls, item: Mapping[str, object]) -> Detection:
        """From the detector's result dict ``{"label", "score", "box": [x1, y1, x2, y2]}``."""
        label, score, box = item["label"], item["score"], item["box"]
        if not isinstance(label, str) or not isinstance(score, int | float):
            raise ValueError(f"not a detection: {item!r}")
        if not isinstance(box, list | tuple) or len(box) != 4:
            raise ValueError(f"box must be [x1, y1, x2, y2]: {box!r}")
        x1, y1, x2, y2 = (float(v) for v in box)
        return cls(label, float(score), (x1, y1, x2, y2))


@dataclass(frozen=True, slots=True)
class Track:
    """A confirmed object as the tracker sees it after one frame.

    ``track_id`` is stable for the object's life on its camera and never reused there.
    ``box`` is the tracker's estimate (a prediction while ``misses`` > 0); ``seen`` and
    ``score`` are the box and score of the last detection matched to it. ``hits`` counts the
    frames it was matched in, ``age`` the frames since it was first seen, ``misses`` the
    frames since its last match (0: seen in this frame).
    """

    track_id: int
    label: str
    box: Box
    score: float
    hits: int
    age: int
    misses: int
    seen: Box | None = None
