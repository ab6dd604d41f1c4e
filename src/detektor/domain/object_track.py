"""One track's state inside the object lifecycle, and the tracker's boxes that feed it.

A `Track` lives from a track id's first sighting until it is gone; it holds the recent scores
that confirm it, its motion (stationary or not), its standing in each zone, and its best
sighting. The lifecycle (objects.py) decides when a track becomes an object and which events
to emit; this module answers the per-track questions it asks.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from detektor.domain.errors import ValidationError
from detektor.domain.fields import describe
from detektor.domain.frames import FrameId
from detektor.domain.geometry import Box, bottom_centre, validate_box
from detektor.domain.object_events import BestFrame, Change, ChangeKind, ObjectState
from detektor.domain.object_settings import ObjectSettings
from detektor.domain.stationary import Motion
from detektor.domain.zones import Zone, ZonePresence


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """One box of one frame as the tracker labelled it (source pixels)."""

    track_id: int
    label: str
    box: Box
    score: float

    def __post_init__(self) -> None:
        if isinstance(self.track_id, bool) or not isinstance(self.track_id, int):
            raise ValidationError("track_id", f"must be an integer, got {describe(self.track_id)}")
        if not isinstance(self.label, str) or not self.label:
            raise ValidationError(
                "label", f"must be a non-empty string, got {describe(self.label)}"
            )
        object.__setattr__(self, "box", validate_box(self.box))
        if not isinstance(self.score, int | float) or not 0 <= self.score <= 1:
            raise ValidationError(
                "score", f"must be a number from 0 to 1, got {describe(self.score)}"
            )


@dataclass(slots=True)
class Track:
    track_id: int
    label: str
    first_frame: FrameId
    first_seen: datetime
    last_frame: FrameId
    last_seen: datetime
    box: Box
    score: float
    top_score: float
    scores: deque[float]
    motion: Motion
    zones: dict[str, ZonePresence] = field(default_factory=dict)
    hits: int = 1
    object_id: str | None = None  # set on confirmation
    best: BestFrame | None = None
    announced: BestFrame | None = None  # the best frame the last event carried
    announced_at: datetime | None = None

    @classmethod
    def first(
        cls, box: TrackedBox, frame_id: FrameId, at: datetime, settings: ObjectSettings
    ) -> Track:
        return cls(
            track_id=box.track_id,
            label=box.label,
            first_frame=frame_id,
            first_seen=at,
            last_frame=frame_id,
            last_seen=at,
            box=box.box,
            score=box.score,
            top_score=box.score,
            scores=deque([box.score], maxlen=settings.score_window),
            motion=Motion(anchor=box.box, since=at),
        )

    @property
    def state(self) -> ObjectState:
        return ObjectState.STATIONARY if self.motion.stationary else ObjectState.ACTIVE

    @property
    def zone_names(self) -> tuple[str, ...]:
        """The zones it is in now, sorted."""
        return tuple(sorted(name for name, p in self.zones.items() if p.inside))

    @property
    def median_score(self) -> float:
        return statistics.median(self.scores)

    def sight(
        self, box: TrackedBox, frame_id: FrameId, at: datetime, settings: ObjectSettings
    ) -> list[Change]:
        """A later sighting; the changes it made (which only a confirmed object reports)."""
        self.hits += 1
        self.scores.append(box.score)
        self.top_score = max(self.top_score, box.score)
        self.box, self.score = box.box, box.score
        self.last_frame, self.last_seen = frame_id, at
        if self.object_id is None:
            # The label may still settle while tentative; once confirmed it is the object's.
            self.label = box.label
        changes: list[Change] = []
        if self.motion.observe(
            box.box,
            at,
            min_iou=settings.for_label(self.label).stationary_iou,
            after_s=settings.stationary_after_s,
            move_frames=settings.move_frames,
        ):
            kind = ChangeKind.STATIONARY if self.motion.stationary else ChangeKind.ACTIVE
            changes.append(Change(kind))
        return changes

    def place(self, zones: tuple[Zone, ...], at: datetime) -> list[Change]:
        """Move each zone's presence on by the current box."""
        point = bottom_centre(self.box)
        changes: list[Change] = []
        for zone in zones:
            presence = self.zones.setdefault(zone.name, ZonePresence())
            changes.extend(
                Change(ChangeKind(kind.value), zone.name)
                for kind in presence.observe(zone, point, at)
            )
        return changes

    def confirms(self, settings: ObjectSettings) -> bool:
        threshold = settings.for_label(self.label).threshold
        return self.hits >= settings.min_hits and self.median_score >= threshold

    def announce_snapshot(self, at: datetime, settings: ObjectSettings) -> bool:
        """Whether the best sighting is news worth an update; if so, it is now announced."""
        best, announced = self.best, self.announced
        if best is None or best is announced or best.cut or self.motion.stationary:
            return False
        if (
            announced is not None
            and not announced.cut
            and best.quality < announced.quality * settings.snapshot_gain
        ):
            return False
        if (
            self.announced_at is not None
            and (at - self.announced_at).total_seconds() < settings.snapshot_interval_s
        ):
            return False
        self.announced, self.announced_at = best, at
        return True

    def gone(self, at: datetime, settings: ObjectSettings) -> bool:
        limit = (
            settings.stationary_max_disappeared_s
            if self.motion.stationary
            else settings.max_disappeared_s
        )
        return (at - self.last_seen).total_seconds() >= limit
