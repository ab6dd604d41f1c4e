"""One camera's multi-object tracker: detections in, confirmed tracks with stable ids out.

The tracking library (``norfair-enough``, ADR 17) stays behind this module: callers see
``Detection`` and ``Track`` only. A box is tracked as two points, its top-left and
bottom-right corners, each with a Kalman filter of position and velocity. Detections are
matched to tracks by ``foot_distance`` (below), greedily from the closest pair, within
one label.

A new track is tentative until it has been matched ``init_hits`` times without falling too
far behind (each match adds 2 to a counter, each frame takes 1); tentative tracks are never
returned, so a detection seen in one frame never becomes an object. A confirmed track lives on
``max_misses`` frames without a match, its box then being the filter's prediction, and ends
after that. Ids count from 1 per camera and are never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from norfair import Detection as NorfairDetection
from norfair import OptimizedKalmanFilterFactory, Tracker, VectorizedDistance
from norfair.tracker import TrackedObject
from numpy.typing import NDArray

from detektor.objects.model import Detection, Track

# Boxes are never thinner than this many pixels in the distance (no division by zero).
MIN_SIDE = 1.0


def foot_distance(
    candidates: NDArray[np.float64], objects: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Distances between detections and tracks, each row a box ``x1, y1, x2, y2``.

    How far the bottom centre (the feet) moved, in units of the two boxes' mean height. The
    size is the scale: a person near the camera is tall and crosses many pixels per frame,
    one far away few, and the same distance means the same walk at every depth (0.1 is a
    tenth of one's height, about a short step). Size changes are deliberately not added: a
    detector's box height and width jitter more than its feet, and an added size term tripled
    the identity swaps where two people cross (ADR 17).
    """
    c = candidates.reshape(-1, 4)
    o = objects.reshape(-1, 4)
    ch = np.maximum(c[:, 3] - c[:, 1], MIN_SIDE)[:, None]
    oh = np.maximum(o[:, 3] - o[:, 1], MIN_SIDE)[None, :]
    dx = (c[:, 0, None] + c[:, 2, None] - o[None, :, 0] - o[None, :, 2]) / 2
    dy = c[:, 3, None] - o[None, :, 3]
    result: NDArray[np.float64] = np.hypot(dx, dy) / ((ch + oh) / 2)
    return result


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """How eagerly tracks are matched, confirmed and ended (frames are detection frames)."""

    distance_threshold: float = 0.5
    init_hits: int = 3
    max_misses: int = 15
    # Kalman filter: measurement noise and process noise multipliers (norfair's R and Q).
    measurement_noise: float = 4.0
    process_noise: float = 0.1

    def __post_init__(self) -> None:
        if self.init_hits < 1 or self.max_misses < self.init_hits:
            raise ValueError("need 1 <= init_hits <= max_misses")
        if self.distance_threshold <= 0:
            raise ValueError("distance_threshold must be positive")


@dataclass(slots=True)
class _Book:
    """What the library does not count for us, per library object."""

    first_frame: int
    last_hit: int
    detection: Detection
    hits: int = 1


class CameraTracker:
    """The tracker of one camera. Not thread-safe: one caller updates it, in frame order."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracker = Tracker(
            distance_function="iou",  # replaced below
            distance_threshold=self.config.distance_threshold,
            hit_counter_max=self.config.max_misses,
            initialization_delay=self.config.init_hits - 1,
            filter_factory=OptimizedKalmanFilterFactory(
                R=self.config.measurement_noise, Q=self.config.process_noise
            ),
            past_detections_length=0,
        )
        # The constructor takes a custom distance only as a per-pair Python callable (one call
        # per detection and track: ~100x slower at 20 objects); the vectorised form is set here.
        self._tracker.distance_function = VectorizedDistance(foot_distance)
        self._books: dict[int, _Book] = {}
        self._last_frame: int | None = None

    def update(self, detections: Sequence[Detection], frame_index: int) -> list[Track]:
        """Feed one frame's detections; returns the confirmed tracks after it.

        ``frame_index`` counts detection frames on this camera. A gap (frames the motion gate
        skipped) advances the filters through the missing frames, so tracks coast and expire
        as if those frames had been empty.
        """
        if self._last_frame is not None:
            gap = frame_index - self._last_frame
            if gap < 1:
                raise ValueError(f"frame {frame_index} is not after frame {self._last_frame}")
            for _ in range(min(gap - 1, self.config.max_misses + 1)):
                self._tracker.update(None)
        self._last_frame = frame_index
        items = [
            NorfairDetection(
                np.array(d.box, dtype=np.float64).reshape(2, 2),
                label=d.label,
                data=(frame_index, d),
            )
            for d in detections
        ]
        active = {id(o) for o in self._tracker.update(items or None)}
        books: dict[int, _Book] = {}
        tracks = []
        for obj in self._tracker.tracked_objects:
            book = self._book(obj, frame_index)
            books[self._key(obj)] = book
            if id(obj) in active and obj.id is not None:
                tracks.append(self._track(obj, book, frame_index))
        self._books = books
        return tracks

    @staticmethod
    def _key(obj: TrackedObject) -> int:
        key = obj.initializing_id
        if key is None:  # norfair gives every object one at creation
            raise RuntimeError("tracked object without an initializing id")
        return key

    def _book(self, obj: TrackedObject, frame_index: int) -> _Book:
        hit_frame, detection = obj.last_detection.data
        book = self._books.get(self._key(obj))
        if book is None:
            return _Book(first_frame=hit_frame, last_hit=hit_frame, detection=detection)
        if hit_frame == frame_index:
            book.hits += 1
            book.last_hit = frame_index
            book.detection = detection
        return book

    @staticmethod
    def _track(obj: TrackedObject, book: _Book, frame_index: int) -> Track:
        x1, y1, x2, y2 = obj.estimate.ravel().tolist()
        return Track(
            track_id=int(obj.id or 0),
            label=str(obj.label),
            box=(x1, y1, x2, y2),
            score=book.detection.score,
            hits=book.hits,
            age=frame_index - book.first_frame,
            misses=frame_index - book.last_hit,
            seen=book.detection.box,
        )
