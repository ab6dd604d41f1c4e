"""What the object events add up to: each object's view, and counts of objects now.

`fold_objects` is the projection of the object events (from the store, in any arrival order):
per object its state, label, first and last sighting, top and median score, the zones it ever
entered, and its best frame. `count_objects` counts confirmed objects that have not ended, active
and stationary apart, per label and per zone; it takes the lifecycle's live objects or the
projection's views alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from detektor.domain.fields import format_timestamp
from detektor.domain.frames import FrameId
from detektor.domain.object_events import BestFrame, ObjectEvent, ObjectEventType, ObjectState

_RANK = {ObjectEventType.STARTED: 0, ObjectEventType.UPDATED: 1, ObjectEventType.ENDED: 2}


@dataclass(frozen=True, slots=True)
class ObjectView:
    object_id: str
    camera: str
    label: str
    state: ObjectState
    first_seen: datetime
    last_seen: datetime
    ended_at: datetime | None
    top_score: float
    median_score: float
    zones: tuple[str, ...]  # the zones it is in now (none once ended)
    zones_entered: tuple[str, ...]  # every zone it was ever in, in order of first entry
    best: BestFrame | None
    frame_ids: tuple[FrameId, ...]  # the frames its events report, in order
    events: int

    @property
    def best_frame_id(self) -> FrameId | None:
        return self.best.frame_id if self.best is not None else None

    def to_dict(self) -> dict[str, object]:
        return {
            "object_id": self.object_id,
            "camera": self.camera,
            "label": self.label,
            "state": self.state.value,
            "started_at": format_timestamp(self.first_seen),
            "last_seen": format_timestamp(self.last_seen),
            "ended_at": format_timestamp(self.ended_at) if self.ended_at else None,
            "top_score": self.top_score,
            "median_score": self.median_score,
            "zones": list(self.zones_entered),
            "current_zones": list(self.zones),
            "best_frame_id": str(self.best_frame_id) if self.best_frame_id else None,
            "events": self.events,
        }


def _merge_zones(known: tuple[str, ...], now: Iterable[str]) -> tuple[str, ...]:
    return known + tuple(z for z in now if z not in known)


def advance_object(view: ObjectView | None, event: ObjectEvent) -> ObjectView:
    """The view after one more event, taken in order (`fold_objects` sorts them first)."""
    frame_ids: tuple[FrameId, ...] = (event.frame_id,)
    if view is None:
        # The first event seen may not be `started` (it was lost); every event carries the
        # whole state, so the view starts from whatever arrives.
        return ObjectView(
            object_id=event.object_id,
            camera=event.camera,
            label=event.label,
            state=event.state,
            first_seen=event.first_seen,
            last_seen=event.last_seen,
            ended_at=event.at if event.type is ObjectEventType.ENDED else None,
            top_score=event.top_score,
            median_score=event.median_score,
            zones=() if event.type is ObjectEventType.ENDED else event.zones,
            zones_entered=event.zones,
            best=event.best,
            frame_ids=frame_ids,
            events=1,
        )
    if view.frame_ids[-1] != event.frame_id:
        frame_ids = (*view.frame_ids, event.frame_id)
    else:
        frame_ids = view.frame_ids
    ended = view.state is ObjectState.ENDED or event.type is ObjectEventType.ENDED
    return replace(
        view,
        # An object that ended stays ended: a late update cannot bring it back.
        state=ObjectState.ENDED if ended else event.state,
        first_seen=min(view.first_seen, event.first_seen),
        last_seen=max(view.last_seen, event.last_seen),
        ended_at=view.ended_at or (event.at if event.type is ObjectEventType.ENDED else None),
        top_score=max(view.top_score, event.top_score),
        median_score=event.median_score,
        zones=() if ended else event.zones,
        zones_entered=_merge_zones(view.zones_entered, event.zones),
        best=event.best if event.best is not None and event.best.beats(view.best) else view.best,
        frame_ids=frame_ids,
        events=view.events + 1,
    )


def fold_objects(events: Iterable[ObjectEvent]) -> dict[str, ObjectView]:
    """Each object's view, from its events in any order (sorted by time, then started,
    updated, ended)."""
    views: dict[str, ObjectView] = {}
    for event in sorted(events, key=lambda e: (e.at, _RANK[e.type])):
        views[event.object_id] = advance_object(views.get(event.object_id), event)
    return views


class Countable(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def state(self) -> ObjectState: ...
    @property
    def zones(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class StateCount:
    active: int = 0
    stationary: int = 0

    @property
    def total(self) -> int:
        return self.active + self.stationary

    def add(self, state: ObjectState) -> StateCount:
        if state is ObjectState.STATIONARY:
            return StateCount(self.active, self.stationary + 1)
        return StateCount(self.active + 1, self.stationary)

    def to_dict(self) -> dict[str, int]:
        return {"active": self.active, "stationary": self.stationary, "total": self.total}


@dataclass(frozen=True, slots=True)
class ObjectCounts:
    by_label: Mapping[str, StateCount]
    by_zone: Mapping[str, Mapping[str, StateCount]]  # zone -> label -> count

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": {label: c.to_dict() for label, c in self.by_label.items()},
            "zones": {
                zone: {label: c.to_dict() for label, c in per_label.items()}
                for zone, per_label in self.by_zone.items()
            },
        }


def count_objects(
    objects: Iterable[Countable], labels: Iterable[str] = (), zones: Iterable[str] = ()
) -> ObjectCounts:
    """Objects now, active and stationary apart; ended ones are not counted. The `labels` and
    `zones` given are listed even at zero (a sensor needs its 0), each zone with every label."""
    items = [o for o in objects if o.state is not ObjectState.ENDED]
    all_labels = dict.fromkeys([*labels, *(o.label for o in items)])
    by_label = {label: StateCount() for label in all_labels}
    by_zone = {zone: {label: StateCount() for label in all_labels} for zone in zones}
    for o in items:
        by_label[o.label] = by_label[o.label].add(o.state)
        for zone in o.zones:
            per_label = by_zone.setdefault(zone, {label: StateCount() for label in all_labels})
            per_label[o.label] = per_label[o.label].add(o.state)
    return ObjectCounts(by_label, by_zone)
