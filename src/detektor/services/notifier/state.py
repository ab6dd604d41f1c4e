"""Per-camera state behind the HA entities: occupancy and counts from the objects present,
per label and per zone, the last detection and camera connectivity.

Pure logic with the clock passed in (``now``, monotonic seconds), so tests drive time.
Every method returns the ``Change`` list to publish; nothing is sent for values that did not
change, except the full ``snapshot`` that is re-sent after every (re)connect.

- Occupancy (``<label>``, and per zone) is ``ON`` while at least one counted object of the
  label is present, active or stationary, and turns ``OFF`` when the last one has ended; an
  ``ON`` lasts at least ``hold_s`` (``notifier.off_delay_s``), so a passer-by does not
  flicker a light. Time alone never turns it off: objects end by the objects stage's
  decision, which an outage of the broker does not change.
- ``count`` is the number of active (moving) objects of the label, ``stationary`` the
  number of stationary ones (a parked car); both follow every change at once.
- The last-detection time is the start of the newest announced object.
- The camera is connected while frames from it arrive; after ``camera_timeout_s``
  without one (or without any since start) it is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from detektor.domain.object_projection import ObjectCounts, StateCount
from detektor.services.notifier.discovery import OFF, ON, Topics

Kind = Literal["occupancy", "count", "stationary", "last_detection", "connected"]


@dataclass(frozen=True, slots=True)
class Change:
    """One value to publish: ``label`` is set for occupancy and counts, ``zone`` for those
    of a zone."""

    kind: Kind
    value: str
    label: str | None = None
    zone: str | None = None
    attributes: Mapping[str, object] | None = None

    def topic(self, topics: Topics, camera: str) -> str:
        label, zone = self.label or "", self.zone
        if self.kind == "occupancy":
            return topics.occupancy(camera, label, zone)
        if self.kind == "count":
            return topics.count(camera, label, zone)
        if self.kind == "stationary":
            return topics.stationary(camera, label, zone)
        if self.kind == "connected":
            return topics.connected(camera)
        return topics.last_detection(camera)


@dataclass(slots=True)
class _Presence:
    on: bool = False
    on_since: float = 0.0
    active: int = 0
    stationary: int = 0


@dataclass(slots=True)
class CameraState:
    camera: str
    labels: Sequence[str]
    hold_s: float
    camera_timeout_s: float
    started: float
    zones: list[str] = field(default_factory=list)  # known zones, in order of appearance
    _where: dict[tuple[str | None, str], _Presence] = field(init=False)
    _connected: bool | None = field(default=None, init=False)
    _last_frame: float | None = field(default=None, init=False)
    _last_detection: Change | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._where = {(None, label): _Presence() for label in self.labels}
        for zone in list(self.zones):
            self.zones.remove(zone)
            self.add_zone(zone)

    def add_zone(self, zone: str) -> bool:
        """Start following ``zone``; False when it is already known."""
        if zone in self.zones:
            return False
        self.zones.append(zone)
        for label in self.labels:
            self._where[(zone, label)] = _Presence()
        return True

    def apply(self, counts: ObjectCounts, now: float) -> list[Change]:
        """The objects present now (``count_objects`` of the counted ones)."""
        changes: list[Change] = []
        for (zone, label), presence in self._where.items():
            per_label = counts.by_label if zone is None else counts.by_zone.get(zone, {})
            count = per_label.get(label, StateCount())
            if count.total and not presence.on:
                presence.on, presence.on_since = True, now
                changes.append(Change("occupancy", ON, label, zone))
            if count.active != presence.active:
                presence.active = count.active
                changes.append(Change("count", str(count.active), label, zone))
            if count.stationary != presence.stationary:
                presence.stationary = count.stationary
                changes.append(Change("stationary", str(count.stationary), label, zone))
        return changes + self.expire(now, cameras=False)

    def stamp(self, started_at: str, attributes: Mapping[str, object]) -> Change:
        """A new object was announced: the last-detection entity shows it."""
        self._last_detection = Change("last_detection", started_at, attributes=attributes)
        return self._last_detection

    def seen(self, now: float) -> list[Change]:
        """A frame of this camera went by (captured, or processed)."""
        self._last_frame = now
        if self._connected is not True:
            self._connected = True
            return [Change("connected", ON)]
        return []

    def expire(self, now: float, cameras: bool = True) -> list[Change]:
        """Occupancies with no object left turn off once held long enough; a silent camera
        is disconnected."""
        changes: list[Change] = []
        for (zone, label), p in self._where.items():
            if p.on and not p.active + p.stationary and now - p.on_since >= self.hold_s:
                p.on = False
                changes.append(Change("occupancy", OFF, label, zone))
        since = self._last_frame if self._last_frame is not None else self.started
        if cameras and self._connected is not False and now - since >= self.camera_timeout_s:
            self._connected = False
            changes.append(Change("connected", OFF))
        return changes

    def snapshot(self) -> list[Change]:
        """Every known value, for re-publishing after a (re)connect."""
        changes: list[Change] = []
        for (zone, label), p in self._where.items():
            changes.append(Change("occupancy", ON if p.on else OFF, label, zone))
            changes.append(Change("count", str(p.active), label, zone))
            changes.append(Change("stationary", str(p.stationary), label, zone))
        if self._last_detection is not None:
            changes.append(self._last_detection)
        if self._connected is not None:
            changes.append(Change("connected", ON if self._connected else OFF))
        return changes

    def is_on(self, label: str, zone: str | None = None) -> bool:
        return self._where[(zone, label)].on

    def count(self, label: str, zone: str | None = None) -> tuple[int, int]:
        """(active, stationary)."""
        p = self._where[(zone, label)]
        return p.active, p.stationary
