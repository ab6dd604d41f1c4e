"""One camera's multi-object tracker: detections in, confirmed tracks with stable ids out.

The tracking library (``norfair-enough``, ADR 17) stays behind this module: callers see
``Detection`` and ``Track`` only. The library matches detections to tracks, greedily from the
closest pair and confirmed tracks before tentative ones, and keeps each track's hit counter;
through its extension points the distance (``_Distances``: ``foot_distance`` within one label)
and the motion model (``_Motion``, a Kalman filter) are ours.

A new track is tentative until it has been matched ``init_hits`` times without falling too
far behind (each match adds 2 to a counter, each frame takes 1); tentative tracks are never
returned, so a detection seen in one frame never becomes an object. A confirmed track lives on
``max_misses`` frames without a match, its box then being the filter's prediction, and ends
after that. Ids count from 1 per camera and are never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
from norfair import Detection as NorfairDetection
from norfair import Tracker
from norfair.distances import Distance
from norfair.filter import FilterFactory
from numpy.typing import NDArray

from detektor.objects.model import Detection, Track

if TYPE_CHECKING:
    from norfair.tracker import TrackedObject

# Boxes are never thinner than this many pixels in the distance (no division by zero).
MIN_SIDE = 1.0
# A new track's velocity is unknown: its standard deviation, in box heights per frame, is about
# a brisk walk at 5 fps (1.4 m/s against 1.7 m of height is 0.16 heights a frame).
INITIAL_SPEED = 0.1


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
    """How eagerly tracks are matched, confirmed and ended (frames are detection frames).

    The noises are standard deviations in shares of the box height, so that one setting fits
    a person near the camera and one far away (ADR 17 has how they were chosen).
    """

    distance_threshold: float = 0.4
    init_hits: int = 3
    max_misses: int = 15
    # How much a detector's box edge jitters.
    measurement_noise: float = 0.03
    # How much an object's velocity drifts from one frame to the next while it walks on.
    process_noise: float = 0.001
    # A match this many standard deviations off the prediction (root mean square over the four
    # edges) means the object may have turned or stopped: the velocity's uncertainty then grows
    # by ``maneuver_noise``, so that the next detections teach the filter the new motion.
    maneuver_gate: float = 2.5
    maneuver_noise: float = 0.04

    def __post_init__(self) -> None:
        if self.init_hits < 1 or self.max_misses < self.init_hits:
            raise ValueError("need 1 <= init_hits <= max_misses")
        if self.distance_threshold <= 0:
            raise ValueError("distance_threshold must be positive")
        if self.measurement_noise <= 0 or self.maneuver_gate <= 0:
            raise ValueError("measurement_noise and maneuver_gate must be positive")
        if self.process_noise < 0 or self.maneuver_noise < 0:
            raise ValueError("process_noise and maneuver_noise must not be negative")


class _Motion:
    """One object's motion, the library's filter for it, and the counts its ``Track`` reports.

    A constant-velocity Kalman filter of the four box edges. Every edge has the same noise, so
    the four share one 2x2 covariance (position, position-velocity, velocity), kept as three
    floats: an update is a few float operations and three on a 4-vector, where the library's
    filters work on 8x8 matrices or 4-vectors of variances. The library calls ``predict`` once
    per frame for every object and ``update`` on each match, so the filter also counts frames
    and matches (it deep-copies a filter only to merge re-identified objects, not enabled here).
    """

    __slots__ = ("_c", "_config", "_height", "_p", "_v", "age", "hits", "misses", "x")

    def __init__(self, box: NDArray[np.float64], config: TrackerConfig) -> None:
        self._config = config
        # The library's layout: the positions, then the velocities, in one column.
        self.x = np.zeros((8, 1))
        self.x[:4, 0] = box.ravel()
        self._height = max(float(self.x[3, 0] - self.x[1, 0]), MIN_SIDE)
        # Position variance as one measurement's; velocity unknown.
        self._p = (config.measurement_noise * self._height) ** 2
        self._c = 0.0
        self._v = (INITIAL_SPEED * self._height) ** 2
        self.hits, self.age, self.misses = 1, 0, 0

    def predict(self) -> None:
        x = self.x
        x[:4] += x[4:]
        self._p += 2 * self._c + self._v
        self._c += self._v
        self._v += (self._config.process_noise * self._height) ** 2
        self.age += 1
        self.misses += 1

    def update(
        self,
        z: NDArray[np.float64],
        R: NDArray[np.float64] | None = None,
        H: NDArray[np.float64] | None = None,
    ) -> None:
        """Fold in a matched box ``z`` (a 4x1 column). The library's ``R`` and ``H`` are
        ignored: all four edges are always measured, with the noise of the configuration."""
        config, x = self._config, self.x
        r = (config.measurement_noise * self._height) ** 2
        s = self._p + r
        error = z - x[:4]
        gain_p, gain_v = self._p / s, self._c / s
        x[:4] += gain_p * error
        x[4:] += gain_v * error
        self._v -= gain_v * self._c
        self._p -= gain_p * self._p
        self._c -= gain_p * self._c
        # The expected squared error summed over the 4 edges is 4 s.
        if float(np.vdot(error, error)) > 4 * s * config.maneuver_gate**2:
            self._v += (config.maneuver_noise * self._height) ** 2
        self._height = max(float(z[3, 0] - z[1, 0]), MIN_SIDE)
        self.hits += 1
        self.misses = 0


class _MotionFactory(FilterFactory):
    def __init__(self, config: TrackerConfig) -> None:
        self._config = config

    def create_filter(self, initial_detection: NDArray[np.float64]) -> _Motion:
        return _Motion(initial_detection, self._config)


class _Distances(Distance):
    """``foot_distance`` between detections and tracks, infinite across labels.

    A track not matched in the previous frame is also measured from its last matched box, and
    the nearer counts: a person who stops while the detector misses them is far behind their
    coasting prediction but still where they were last seen (without this, 5 runs in 200 of
    the stop-and-go scene started a second track). The library's ``VectorizedDistance``
    loops over labels and reads each estimate through a property; one call here does it all.
    """

    def get_distances(
        self,
        objects: Sequence[TrackedObject],
        candidates: Sequence[object] | None,
    ) -> NDArray[np.float64]:
        items = cast("Sequence[NorfairDetection]", candidates or ())
        if not items or not objects:
            return np.full((len(items), len(objects)), np.inf)
        boxes = np.array([item.points.ravel() for item in items])
        motions = [cast(_Motion, obj.filter) for obj in objects]
        distances = foot_distance(boxes, np.array([m.x[:4, 0] for m in motions]))
        coasting = [j for j, m in enumerate(motions) if m.misses > 1]
        if coasting:
            last = np.array([objects[j].last_detection.points.ravel() for j in coasting])
            distances[:, coasting] = np.minimum(distances[:, coasting], foot_distance(boxes, last))
        item_labels = [item.label for item in items]
        object_labels = [obj.label for obj in objects]
        if len({*item_labels, *object_labels}) > 1:
            other = np.array(item_labels, dtype=object)[:, None] != np.array(
                object_labels, dtype=object
            )
            distances[other] = np.inf
        return distances


class CameraTracker:
    """The tracker of one camera. Not thread-safe: one caller updates it, in frame order."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracker = Tracker(
            distance_function="iou",  # replaced below
            distance_threshold=self.config.distance_threshold,
            hit_counter_max=self.config.max_misses,
            initialization_delay=self.config.init_hits - 1,
            filter_factory=_MotionFactory(self.config),
            past_detections_length=0,
        )
        # The constructor takes a custom distance only as a per-pair Python callable (one call
        # per detection and track: ~100x slower at 20 objects); a `Distance` is set here.
        self._tracker.distance_function = _Distances()
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
            NorfairDetection(np.array(d.box, dtype=np.float64).reshape(2, 2), label=d.label, data=d)
            for d in detections
        ]
        tracks = []
        for obj in self._tracker.update(items or None):
            motion = cast(_Motion, obj.filter)
            x1, y1, x2, y2 = motion.x[:4, 0].tolist()
            detection: Detection = obj.last_detection.data
            tracks.append(
                Track(
                    track_id=int(obj.id or 0),
                    label=detection.label,
                    box=(x1, y1, x2, y2),
                    score=detection.score,
                    hits=motion.hits,
                    age=motion.age,
                    misses=motion.misses,
                    seen=detection.box,
                )
            )
        return tracks
