"""Zones: named polygons of one camera, and whether an object is in one.

An object is in a zone when the point it stands on (its box's bottom-centre) has been inside
the polygon for `inertia` consecutive sightings, and leaves after `inertia` sightings outside,
so a box that flickers across the border for a frame changes nothing. Loitering fires once per
visit, when the object has stayed `loitering_s` since it entered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from detektor.domain.errors import ValidationError
from detektor.domain.fields import describe
from detektor.domain.geometry import Point, Polygon, contains

# Zone names end up in MQTT topics and Home Assistant entity ids: keep them slugs.
ZONE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ZONE_RE = re.compile(ZONE_PATTERN)


def _polygon(points: object, field: str) -> Polygon:
    if not isinstance(points, Sequence) or isinstance(points, str) or len(points) < 3:
        raise ValidationError(
            field, f"needs at least 3 [x, y] points in source pixels, got {describe(points)}"
        )
    out: list[Point] = []
    for point in points:
        if not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 2:
            raise ValidationError(field, f"each point must be [x, y], got {describe(point)}")
        x, y = point
        for v in (x, y):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValidationError(field, f"coordinates must be finite numbers: {point!r}")
        out.append((float(x), float(y)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    polygon: Polygon
    inertia: int = 3
    loitering_s: float | None = None

    def __post_init__(self) -> None:
        field = f"zones.{self.name}"
        if not isinstance(self.name, str) or ZONE_RE.fullmatch(self.name) is None:
            raise ValidationError(
                "zones", f"zone name {describe(self.name)} must match {ZONE_PATTERN}"
            )
        object.__setattr__(self, "polygon", _polygon(self.polygon, f"{field}.polygon"))
        if isinstance(self.inertia, bool) or not isinstance(self.inertia, int) or self.inertia < 1:
            raise ValidationError(
                f"{field}.inertia", f"must be an integer >= 1, got {describe(self.inertia)}"
            )
        if self.loitering_s is not None and (
            isinstance(self.loitering_s, bool)
            or not isinstance(self.loitering_s, int | float)
            or not 0 < self.loitering_s < math.inf
        ):
            raise ValidationError(
                f"{field}.loitering_s",
                f"must be a positive number of seconds or null, got {describe(self.loitering_s)}",
            )

    def contains(self, point: Point) -> bool:
        return contains(self.polygon, point)


class ZoneEvent(StrEnum):
    ENTERED = "entered_zone"
    LEFT = "left_zone"
    LOITERING = "loitering"


@dataclass(slots=True)
class ZonePresence:
    """One object's standing in one zone, moved on by each sighting."""

    inside: bool = False
    streak: int = 0  # consecutive sightings that disagree with `inside`
    run_started: datetime | None = None  # the first sighting of that streak
    entered_at: datetime | None = None
    loitered: bool = False

    def observe(self, zone: Zone, point: Point, at: datetime) -> list[ZoneEvent]:
        changes: list[ZoneEvent] = []
        if zone.contains(point) == self.inside:
            self.streak, self.run_started = 0, None
        else:
            self.streak += 1
            if self.run_started is None:
                self.run_started = at
            if self.streak >= zone.inertia:
                self.inside = not self.inside
                # The visit began with the first sighting inside, not when inertia ran out.
                self.entered_at = self.run_started if self.inside else None
                self.loitered = False
                self.streak, self.run_started = 0, None
                changes.append(ZoneEvent.ENTERED if self.inside else ZoneEvent.LEFT)
        if (
            self.inside
            and zone.loitering_s is not None
            and not self.loitered
            and self.entered_at is not None
            and (at - self.entered_at).total_seconds() >= zone.loitering_s
        ):
            self.loitered = True
            changes.append(ZoneEvent.LOITERING)
        return changes


def check_zones(zones: Sequence[Zone]) -> tuple[Zone, ...]:
    """One camera's zones, with names unique among them."""
    seen: set[str] = set()
    for zone in zones:
        if zone.name in seen:
            raise ValidationError(f"zones.{zone.name}", "zone names must be unique per camera")
        seen.add(zone.name)
    return tuple(zones)
