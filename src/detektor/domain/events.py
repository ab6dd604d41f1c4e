"""The lifecycle event envelope: its types, schema version, validation and JSON form.

Every stage describes what happened to a frame with one Envelope. `Envelope.from_dict` is the
single gate for untrusted input (HTTP bodies, bus messages, stored rows): an Envelope that exists
is valid, because construction itself re-checks every field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from detektor.domain.errors import ValidationError
from detektor.domain.fields import (
    describe,
    format_timestamp,
    freeze_json,
    parse_timestamp,
    require_int,
    require_mapping,
    thaw_json,
)
from detektor.domain.frames import FrameId, validate_camera
from detektor.domain.payloads import validate_data

SCHEMA_VERSION = 1

TRACE_ID_RE = re.compile(r"[0-9a-f]{32}")
SPAN_ID_RE = re.compile(r"[0-9a-f]{16}")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class EventType(StrEnum):
    CAPTURED = "frame.captured"
    SKIPPED = "frame.skipped"
    QUEUED = "frame.queued"
    PROCESSING = "frame.processing"
    PROCESSED = "frame.processed"
    PUBLISHED = "frame.published"
    COMPLETED = "frame.completed"
    DROPPED = "frame.dropped"
    FAILED = "frame.failed"
    # What the object tracker says about an object seen in the frame (domain.object_events).
    # They share the frame's stream and log but never move the frame: no state, stage,
    # outcome or accounting change, and never an anomaly (they may follow frame.completed).
    OBJECT_STARTED = "object.started"
    OBJECT_UPDATED = "object.updated"
    OBJECT_ENDED = "object.ended"


OBJECT_EVENT_TYPES: frozenset[EventType] = frozenset(
    {EventType.OBJECT_STARTED, EventType.OBJECT_UPDATED, EventType.OBJECT_ENDED}
)
# The lifecycle types: the ones the frame state machine folds.
FRAME_EVENT_TYPES: tuple[EventType, ...] = tuple(
    t for t in EventType if t not in OBJECT_EVENT_TYPES
)

_EVENT_TYPES = {t.value: t for t in EventType}


def _event_type(value: object) -> EventType:
    found = _EVENT_TYPES.get(value) if isinstance(value, str) else None
    if found is None:
        known = ", ".join(_EVENT_TYPES)
        raise ValidationError("type", f"unknown event type {describe(value)}; use one of {known}")
    return found


def _event_id(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or _UUID_RE.fullmatch(value) is None:
        raise ValidationError(
            "event_id",
            f"{describe(value)} is not a UUID; use the 8-4-4-4-12 hex form, e.g. "
            "'0f8fad5b-d9cb-469f-a165-70867728950e'",
        )
    return uuid.UUID(value)


def _hex_id(value: object, field: str, pattern: re.Pattern[str], digits: int) -> str | None:
    # W3C trace context: lowercase hex of a fixed width, and all zeros means "invalid".
    if value is None:
        return None
    if not isinstance(value, str) or pattern.fullmatch(value) is None or not value.strip("0"):
        raise ValidationError(
            field,
            f"{describe(value)} must be {digits} lowercase hex digits, not all zero "
            "(W3C trace context), or null",
        )
    return value


def _schema_version(value: object) -> int:
    version = require_int(value, "schema_version", minimum=1)
    if version > SCHEMA_VERSION:
        raise ValidationError(
            "schema_version",
            f"schema_version {version} is newer than this build understands "
            f"({SCHEMA_VERSION}); upgrade the consumer",
        )
    return version


@dataclass(frozen=True, slots=True)
class Envelope:
    """One immutable lifecycle event. `data` is a read-only deep copy (lists become tuples)."""

    event_id: uuid.UUID
    type: EventType
    frame_id: FrameId
    camera: str
    occurred_at: datetime
    trace_id: str | None
    span_id: str | None
    schema_version: int
    data: Mapping[str, object]

    def __post_init__(self) -> None:
        # Normalising here, not only in from_dict, keeps `Envelope(...)` from smuggling in a
        # naive timestamp or a mutable payload that could change after validation.
        set_ = object.__setattr__
        set_(self, "event_id", _event_id(self.event_id))
        set_(self, "type", _event_type(self.type))
        if not isinstance(self.frame_id, FrameId):
            raise ValidationError("frame_id", f"must be a FrameId, got {describe(self.frame_id)}")
        validate_camera(self.camera)
        if self.frame_id.camera != self.camera:
            raise ValidationError(
                "camera",
                f"camera {self.camera!r} differs from the camera in frame_id "
                f"'{self.frame_id}'; they must be the same",
            )
        set_(self, "occurred_at", parse_timestamp(self.occurred_at, "occurred_at"))
        set_(self, "trace_id", _hex_id(self.trace_id, "trace_id", TRACE_ID_RE, 32))
        set_(self, "span_id", _hex_id(self.span_id, "span_id", SPAN_ID_RE, 16))
        set_(self, "schema_version", _schema_version(self.schema_version))
        # Freezing first bounds the walk (depth, sizes) before the schema check looks inside,
        # and the schema sees the very values that will be stored.
        data = freeze_json(require_mapping(self.data, "data"), "data")
        assert isinstance(data, Mapping)
        validate_data(self.type, data, self.frame_id, self.occurred_at)
        set_(self, "data", data)

    @property
    def is_object_event(self) -> bool:
        """An object.* event: it reports an object seen in the frame and never moves it."""
        return self.type in OBJECT_EVENT_TYPES

    def __hash__(self) -> int:
        # The generated hash would hash `data`, a mapping; the event id already identifies it.
        return hash(self.event_id)

    @classmethod
    def new(
        cls,
        type: EventType,
        frame_id: FrameId,
        data: Mapping[str, object] | None = None,
        occurred_at: datetime | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """A fresh event for a producer: a random event id, now in UTC unless given."""
        return cls(
            event_id=uuid.uuid4() if event_id is None else event_id,
            type=type,
            frame_id=frame_id,
            camera=frame_id.camera,
            occurred_at=datetime.now(UTC) if occurred_at is None else occurred_at,
            trace_id=trace_id,
            span_id=span_id,
            schema_version=SCHEMA_VERSION,
            data=data if data is not None else {},
        )

    @classmethod
    def from_dict(cls, raw: object) -> Envelope:
        """Validate untrusted JSON-shaped input. Unknown top-level keys are ignored (so a
        `position` added by the events API round-trips); `trace_id`, `span_id` and `data` may be
        absent."""
        obj = require_mapping(raw, "envelope")
        for name in ("event_id", "type", "frame_id", "camera", "occurred_at", "schema_version"):
            if name not in obj:
                raise ValidationError(name, "is required")
        # Check the type first so that a data error is reported against a known schema.
        event_type = _event_type(obj["type"])
        data = obj.get("data")
        return cls(
            event_id=_event_id(obj["event_id"]),
            type=event_type,
            frame_id=FrameId.parse(obj["frame_id"]),
            camera=validate_camera(obj["camera"]),
            occurred_at=parse_timestamp(obj["occurred_at"], "occurred_at"),
            trace_id=_hex_id(obj.get("trace_id"), "trace_id", TRACE_ID_RE, 32),
            span_id=_hex_id(obj.get("span_id"), "span_id", SPAN_ID_RE, 16),
            schema_version=_schema_version(obj["schema_version"]),
            data=require_mapping(data, "data") if data is not None else {},
        )

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready form; `from_dict(e.to_dict()) == e`."""
        return {
            "event_id": str(self.event_id),
            "type": self.type.value,
            "frame_id": str(self.frame_id),
            "camera": self.camera,
            "occurred_at": format_timestamp(self.occurred_at),
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "schema_version": self.schema_version,
            "data": thaw_json(self.data),
        }
