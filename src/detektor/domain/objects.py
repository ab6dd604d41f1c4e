"""The object lifecycle of one camera: tracked boxes in, object events out.

The tracker gives each box a track id; this state machine decides what those tracks mean to a
person. A track is tentative until it has `min_hits` sightings and the median of its last
`score_window` scores reaches its label's threshold; a tentative track never emits anything,
so a one-frame false hit stays silent. A confirmed object emits `object.started`, then
`object.updated` only when something that matters changes (zones, stationary or active again,
a clearly better snapshot, loitering), and `object.ended` once unseen for `max_disappeared_s`
(`stationary_max_disappeared_s` while stationary: a parked car hidden behind a passing van is
still the same parked car). Pure: times come with the frames, nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId, validate_camera
from detektor.domain.geometry import Box, cut_by_edge
from detektor.domain.object_events import (
    BestFrame,
    Change,
    ChangeKind,
    ObjectEvent,
    ObjectEventType,
    ObjectState,
    make_object_id,
)
from detektor.domain.object_settings import ObjectSettings
from detektor.domain.object_track import Track, TrackedBox
from detektor.domain.zones import Zone, check_zones


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """A confirmed object as it stands now: what counts and dashboards read."""

    object_id: str
    track_id: int
    label: str
    state: ObjectState
    zones: tuple[str, ...]
    box: Box
    score: float
    first_seen: datetime
    last_seen: datetime
    best: BestFrame | None


@dataclass(frozen=True, slots=True)
class Step:
    """What one frame changed. `best_changed` names the objects whose best sighting is now
    this frame, so a snapshot writer can keep its pixels; `stale` marks a frame older than one
    already taken, which is ignored."""

    events: tuple[ObjectEvent, ...] = ()
    best_changed: tuple[str, ...] = ()
    stale: bool = False


class ObjectLifecycle:
    def __init__(
        self, camera: str, settings: ObjectSettings | None = None, zones: Sequence[Zone] = ()
    ) -> None:
        self.camera = validate_camera(camera)
        self.settings = settings if settings is not None else ObjectSettings()
        self.zones = check_zones(zones)
        self._tracks: dict[int, Track] = {}
        self._last_at: datetime | None = None

    def observe(
        self,
        frame_id: FrameId,
        at: datetime,
        boxes: Iterable[TrackedBox],
        frame_size: tuple[int, int] | None = None,
    ) -> Step:
        """Take one frame's tracked boxes (an empty frame too: it moves time on)."""
        if frame_id.camera != self.camera:
            raise ValidationError(
                "frame_id", f"frame '{frame_id}' is not from camera {self.camera!r}"
            )
        if self._last_at is not None and at < self._last_at:
            return Step(stale=True)
        self._last_at = at
        seen: dict[int, TrackedBox] = {}
        for box in boxes:  # a track twice in one frame: keep its best box
            if box.track_id not in seen or box.score > seen[box.track_id].score:
                seen[box.track_id] = box
        events: list[ObjectEvent] = []
        best_changed: list[str] = []
        settings = self.settings
        for box in seen.values():
            track = self._tracks.get(box.track_id)
            if track is None:
                track = self._tracks[box.track_id] = Track.first(box, frame_id, at, settings)
                changes: list[Change] = []
            else:
                changes = track.sight(box, frame_id, at, settings)
            changes.extend(track.place(self.zones, at))
            cut = cut_by_edge(box.box, frame_size, settings.edge_margin_px)
            candidate = BestFrame(frame_id, box.box, box.score, cut)
            if track.object_id is None:
                if track.confirms(settings):
                    # Changes while tentative are not news: `started` carries the state.
                    track.object_id = make_object_id(self.camera, track.first_frame, track.track_id)
                    track.best = track.announced = candidate
                    track.announced_at = at
                    best_changed.append(track.object_id)
                    events.append(self._event(ObjectEventType.STARTED, track, frame_id, at))
                continue
            if candidate.beats(track.best):
                track.best = candidate
                best_changed.append(track.object_id)
            if track.announce_snapshot(at, settings):
                changes.append(Change(ChangeKind.SNAPSHOT))
            if changes:
                events.append(self._event(ObjectEventType.UPDATED, track, frame_id, at, changes))
        events.extend(self._end_gone(at, seen))
        return Step(tuple(events), tuple(best_changed))

    def expire(self, at: datetime) -> Step:
        """Time passed with no frame at all (a camera gone silent): end what is gone by `at`.
        A time before the last frame changes nothing."""
        if self._last_at is not None and at < self._last_at:
            return Step(stale=True)
        return Step(tuple(self._end_gone(at, {})))

    def _end_gone(self, at: datetime, seen: Mapping[int, TrackedBox]) -> list[ObjectEvent]:
        events = []
        for track_id, track in list(self._tracks.items()):
            if track_id not in seen and track.gone(at, self.settings):
                del self._tracks[track_id]
                if track.object_id is not None:
                    events.append(self._event(ObjectEventType.ENDED, track, track.last_frame, at))
        return events

    def close(self, at: datetime) -> Step:
        """End every confirmed object now (the camera stops) and forget all tracks."""
        events = [
            self._event(
                ObjectEventType.ENDED, track, track.last_frame, max(at, track.last_seen), ()
            )
            for track in self._tracks.values()
            if track.object_id is not None
        ]
        self._tracks.clear()
        return Step(tuple(events))

    def objects(self) -> tuple[TrackedObject, ...]:
        """The confirmed objects now, active and stationary."""
        return tuple(
            TrackedObject(
                object_id=object_id,
                track_id=t.track_id,
                label=t.label,
                state=t.state,
                zones=t.zone_names,
                box=t.box,
                score=t.score,
                first_seen=t.first_seen,
                last_seen=t.last_seen,
                best=t.best,
            )
            for t in self._tracks.values()
            if (object_id := t.object_id) is not None
        )

    @property
    def tentative(self) -> int:
        """Tracks seen but not (yet) confirmed."""
        return sum(t.object_id is None for t in self._tracks.values())

    def _event(
        self,
        type: ObjectEventType,
        track: Track,
        frame_id: FrameId,
        at: datetime,
        changes: Sequence[Change] = (),
    ) -> ObjectEvent:
        assert track.object_id is not None
        return ObjectEvent(
            type=type,
            object_id=track.object_id,
            camera=self.camera,
            frame_id=frame_id,
            at=at,
            track_id=track.track_id,
            label=track.label,
            state=ObjectState.ENDED if type is ObjectEventType.ENDED else track.state,
            box=track.box,
            score=track.score,
            top_score=track.top_score,
            median_score=track.median_score,
            first_seen=track.first_seen,
            last_seen=track.last_seen,
            zones=track.zone_names,
            best=track.best,
            changes=tuple(changes),
        )
