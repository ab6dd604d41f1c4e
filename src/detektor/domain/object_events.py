"""Object events: what the lifecycle says about one tracked object, and their `data` form.

`object.started` when a track is confirmed, `object.updated` only for a change that matters
(listed in `changes`), `object.ended` once the object has been gone `max_disappeared_s`.
Every event carries the object's whole current state, so a consumer (Home Assistant, the
projection) needs no earlier event to show it. Camera, frame id and time travel in the event
envelope; `to_data` is the envelope's `data`, and `from_data` reads it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from detektor.domain.errors import ValidationError
from detektor.domain.fields import (
    describe,
    format_timestamp,
    parse_timestamp,
    require_int,
    require_mapping,
    require_number,
    require_str,
)
from detektor.domain.frames import CAMERA_PATTERN, FrameId
from detektor.domain.geometry import Box, validate_box
from detektor.domain.zones import ZONE_RE, ZoneEvent


class ObjectEventType(StrEnum):
    STARTED = "object.started"
    UPDATED = "object.updated"
    ENDED = "object.ended"


class ObjectState(StrEnum):
    ACTIVE = "active"
    STATIONARY = "stationary"
    ENDED = "ended"


class ChangeKind(StrEnum):
    ENTERED_ZONE = ZoneEvent.ENTERED.value
    LEFT_ZONE = ZoneEvent.LEFT.value
    LOITERING = ZoneEvent.LOITERING.value
    STATIONARY = "stationary"
    ACTIVE = "active"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    zone: str | None = None  # for the zone kinds

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind.value, "zone": self.zone}


def make_object_id(camera: str, first_frame: FrameId, track_id: int) -> str:
    """`<camera>:<first sighting's capture ms>:<track id>`: stable across replays of the same
    frames, and unique even when a restarted tracker hands out track ids from 1 again."""
    return f"{camera}:{first_frame.captured_ms}:{track_id}"


OBJECT_ID_PATTERN = CAMERA_PATTERN[:-1] + r":(0|[1-9][0-9]{0,12}):(0|[1-9][0-9]{0,18})$"
OBJECT_ID_RE = re.compile(OBJECT_ID_PATTERN)


def validate_object_id(value: object, field: str = "object_id") -> str:
    """Return `value` unchanged when it is an object id as `make_object_id` writes it (which
    holds no `/`, `.` or anything else a file name or URL path could trip on)."""
    if not isinstance(value, str) or OBJECT_ID_RE.fullmatch(value) is None:
        raise ValidationError(
            field,
            f"{describe(value)} is not an object id: <camera>:<first sighting ms>:<track id>, "
            "e.g. 'front-door:1764230400123:7'",
        )
    return value


@dataclass(frozen=True, slots=True)
class BestFrame:
    """The object's best sighting so far, the snapshot candidate: uncut boxes beat boxes cut
    by the frame edge, then the higher score x area wins."""

    frame_id: FrameId
    box: Box
    score: float
    cut: bool

    @property
    def quality(self) -> float:
        return self.score * (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    def beats(self, other: BestFrame | None) -> bool:
        return other is None or (not self.cut, self.quality) > (not other.cut, other.quality)

    def to_dict(self) -> dict[str, object]:
        return {
            "frame_id": str(self.frame_id),
            "box": list(self.box),
            "score": self.score,
            "cut": self.cut,
        }


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    type: ObjectEventType
    object_id: str
    camera: str
    frame_id: FrameId  # the sighting it reports; for `ended`, the last one
    at: datetime  # when the lifecycle decided (for `ended`, later than the last sighting)
    track_id: int
    label: str
    state: ObjectState
    box: Box
    score: float
    top_score: float
    median_score: float  # of the last `score_window` scores
    first_seen: datetime
    last_seen: datetime
    zones: tuple[str, ...]  # the zones it is in now, sorted
    best: BestFrame | None
    changes: tuple[Change, ...] = ()

    def to_data(self) -> dict[str, object]:
        return {
            "object_id": self.object_id,
            "track_id": self.track_id,
            "label": self.label,
            "state": self.state.value,
            "box": list(self.box),
            "score": self.score,
            "top_score": self.top_score,
            "median_score": self.median_score,
            "first_seen": format_timestamp(self.first_seen),
            "last_seen": format_timestamp(self.last_seen),
            "zones": list(self.zones),
            "best": self.best.to_dict() if self.best is not None else None,
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_data(
        cls, type: ObjectEventType, frame_id: FrameId, at: datetime, data: Mapping[str, object]
    ) -> ObjectEvent:
        """Read back what `to_data` wrote (from an envelope); ValidationError when malformed."""

        def get(name: str) -> object:
            if name not in data:
                raise ValidationError(f"data.{name}", "is required")
            return data[name]

        best_raw = get("best")
        return cls(
            type=ObjectEventType(type),
            object_id=require_str(get("object_id"), "data.object_id"),
            camera=frame_id.camera,
            frame_id=frame_id,
            at=parse_timestamp(at, "occurred_at"),
            track_id=require_int(get("track_id"), "data.track_id"),
            label=require_str(get("label"), "data.label"),
            state=_state(get("state")),
            box=validate_box(get("box"), "data.box"),
            score=_score(get("score"), "data.score"),
            top_score=_score(get("top_score"), "data.top_score"),
            median_score=_score(get("median_score"), "data.median_score"),
            first_seen=parse_timestamp(get("first_seen"), "data.first_seen"),
            last_seen=parse_timestamp(get("last_seen"), "data.last_seen"),
            zones=tuple(_zone(z, "data.zones") for z in _list(get("zones"), "data.zones")),
            best=None if best_raw is None else _best(best_raw),
            changes=tuple(_change(c) for c in _list(get("changes"), "data.changes")),
        )


def _score(value: object, field: str) -> float:
    return float(require_number(value, field, minimum=0.0, maximum=1.0))


def _state(value: object) -> ObjectState:
    try:
        return ObjectState(require_str(value, "data.state"))
    except ValueError:
        known = ", ".join(s.value for s in ObjectState)
        raise ValidationError("data.state", f"{describe(value)} is not one of {known}") from None


def _list(value: object, field: str) -> list[object] | tuple[object, ...]:
    if not isinstance(value, list | tuple):
        raise ValidationError(field, f"must be a list, got {describe(value)}")
    return value


def _zone(value: object, field: str) -> str:
    name = require_str(value, field)
    if ZONE_RE.fullmatch(name) is None:
        raise ValidationError(field, f"{describe(name)} is not a zone name")
    return name


def _best(value: object) -> BestFrame:
    raw = require_mapping(value, "data.best")
    for name in ("frame_id", "box", "score", "cut"):
        if name not in raw:
            raise ValidationError(f"data.best.{name}", "is required")
    if not isinstance(raw["cut"], bool):
        raise ValidationError("data.best.cut", f"must be true or false, got {raw['cut']!r}")
    return BestFrame(
        frame_id=FrameId.parse(raw["frame_id"], "data.best.frame_id"),
        box=validate_box(raw["box"], "data.best.box"),
        score=_score(raw["score"], "data.best.score"),
        cut=raw["cut"],
    )


_KINDS: dict[str, ChangeKind] = {k.value: k for k in ChangeKind}


def _change(value: object) -> Change:
    raw = require_mapping(value, "data.changes[]")
    given = raw.get("kind")
    kind = _KINDS.get(given) if isinstance(given, str) else None
    if kind is None:
        known = ", ".join(_KINDS)
        raise ValidationError("data.changes[].kind", f"{describe(given)} is not one of {known}")
    zone = raw.get("zone")
    return Change(kind, None if zone is None else _zone(zone, "data.changes[].zone"))
