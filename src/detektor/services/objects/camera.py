"""One camera's objects: its tracker and its object lifecycle, fed frame by frame in order.

The tracker gives boxes stable track ids; the lifecycle (pure, in ``domain``) decides what
they mean and emits object events. This class owns what joins them:

- the tracker counts detection frames; that count comes from the frame id's ``seq``, so
  frames the motion gate skipped are a gap the tracker coasts through (a ``seq`` that goes
  back, a restarted capture or a wrap after 999999, just moves on by one);
- only boxes matched in this frame reach the lifecycle, never the tracker's predictions, so
  an object that is no longer seen ends after ``max_disappeared_s``, not when the filter
  gives up;
- a frame skipped for ``no_motion`` shows nothing new against the background: the confirmed
  objects of the last frame are seen again where they were, so a person who stands still
  stays an object and becomes stationary instead of ending because the motion gate stopped
  sending frames. Tentative tracks are not repeated: a one-frame false hit followed by a
  still scene must stay a single sighting, not become an object by repetition.

``usable`` and ``trace_ids`` check what reaches a camera from outside (the detector's dicts,
a ``traceparent`` from a stream entry) so that nothing there can fail an event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from detektor.domain.frames import FrameId
from detektor.domain.geometry import Box
from detektor.domain.object_events import ObjectEvent
from detektor.domain.object_track import TrackedBox
from detektor.domain.objects import ObjectLifecycle, TrackedObject
from detektor.objects.model import Detection
from detektor.objects.tracker import CameraTracker, TrackerConfig
from detektor.services.objects.settings import ObjectsSettings

log = logging.getLogger(__name__)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class Best:
    """An object whose best sighting is the frame just observed: the snapshot to keep."""

    object_id: str
    label: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class Observed:
    events: tuple[ObjectEvent, ...] = ()
    best: tuple[Best, ...] = ()
    stale: bool = False


class CameraObjects:
    def __init__(self, camera: str, settings: ObjectsSettings) -> None:
        self.camera = camera
        self.lifecycle = ObjectLifecycle(camera, settings.lifecycle(), settings.zones(camera))
        self.tracker = CameraTracker(TrackerConfig(distance_threshold=settings.distance_threshold))
        self._index = 0
        self._last_seq: int | None = None
        self._last_at: datetime | None = None
        self._last_detections: tuple[Detection, ...] = ()

    def observe(
        self,
        frame_id: FrameId,
        at: datetime,
        detections: Sequence[Detection],
        frame_size: tuple[int, int] | None = None,
    ) -> Observed:
        """One processed frame of this camera, in capture order."""
        if self._last_at is not None and at <= self._last_at:
            return Observed(stale=True)  # late, or seen already: the tracker cannot go back
        self._advance(frame_id.seq)
        self._last_at = at
        tracks = self.tracker.update(detections, self._index)
        # The detector's own box, not the filter's estimate: a person who stops would keep
        # drifting on the estimate's velocity and never look still.
        boxes = [
            TrackedBox(t.track_id, t.label, _clamp(t.seen or t.box), min(max(t.score, 0.0), 1.0))
            for t in tracks
            if t.misses == 0
        ]
        step = self.lifecycle.observe(frame_id, at, boxes, frame_size)
        if step.stale:
            return Observed(stale=True)
        live = {o.object_id: o for o in self.lifecycle.objects()}
        self._last_detections = tuple(
            Detection(o.label, o.score, o.box) for o in live.values() if o.last_seen == at
        )
        best = tuple(
            Best(oid, obj.label, obj.best.score, obj.best.box)
            for oid in step.best_changed
            if (obj := live.get(oid)) is not None and obj.best is not None
        )
        return Observed(step.events, best)

    def unchanged(self, frame_id: FrameId, at: datetime) -> Observed:
        """A frame skipped for no motion: the scene is what the last frame showed."""
        if self._last_at is None:
            self._advance(frame_id.seq)  # nothing seen yet: only the count moves on
            return Observed()
        observed = self.observe(frame_id, at, self._last_detections)
        return Observed(observed.events, (), observed.stale)  # the same pixels: no new best

    def expire(self, at: datetime) -> tuple[ObjectEvent, ...]:
        """No frames came at all (camera down): end the objects gone by ``at``."""
        return self.lifecycle.expire(at).events

    def close(self, at: datetime) -> tuple[ObjectEvent, ...]:
        return self.lifecycle.close(at).events

    def objects(self) -> tuple[TrackedObject, ...]:
        return self.lifecycle.objects()

    @property
    def last_at(self) -> datetime | None:
        return self._last_at

    def _advance(self, seq: int) -> None:
        last = self._last_seq
        self._index += 1 if last is None or seq <= last else seq - last
        self._last_seq = seq


def _clamp(box: Box) -> Box:
    """The filter's estimate can put an edge a pixel past 0; boxes are never negative."""
    x1, y1, x2, y2 = (max(v, 0.0) for v in box)
    return (x1, y1, max(x2, x1), max(y2, y1))


def trace_ids(traceparent: str | None) -> tuple[str | None, str | None]:
    """The trace and span ids of a W3C ``traceparent``; (None, None) when it is not one (the
    detections stream's field is not checked before it gets here)."""
    parts = (traceparent or "").split("-")
    if len(parts) == 4 and _HEX32.fullmatch(parts[1]) and _HEX16.fullmatch(parts[2]):
        return parts[1], parts[2]
    return None, None


def usable(items: Sequence[object]) -> list[Detection]:
    """The detector's dicts as detections; one it could not have meant is left out."""
    out = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise ValueError(f"not a detection: {item!r}")
            det = Detection.from_dict(item)
            x1, y1, x2, y2 = det.box
            if not (x2 > x1 and y2 > y1 and 0 <= det.score <= 1):
                raise ValueError(f"empty box or score out of range: {item!r}")
            out.append(det)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("objects: ignoring a detection: %s", exc)
    return out
