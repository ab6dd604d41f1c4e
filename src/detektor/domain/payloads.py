"""The `data` schema of each event type.

Only the fields listed for a type are checked; extra fields pass untouched so that newer
producers can add information without breaking older consumers. The table is keyed by the wire
name of the type (`frame.captured`), which EventType members compare equal to. Object events
(`object.*`) are read with `ObjectEvent.from_data`, the tracker's own reader, so the store and
the tracker cannot disagree on what a valid one is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime

from detektor.domain.errors import ValidationError
from detektor.domain.fields import (
    describe,
    require_int,
    require_mapping,
    require_match,
    require_number,
    require_str,
)
from detektor.domain.frames import FrameId
from detektor.domain.object_events import ObjectEvent, ObjectEventType

REASON_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_REASON_HINT = "a snake_case reason of at most 64 characters, e.g. 'no_motion' or 'bus_full'"

Data = Mapping[str, object]
DataCheck = Callable[[Data], None]


def _missing(data: Data, name: str) -> None:
    if name not in data:
        raise ValidationError(f"data.{name}", "is required")


def _text(data: Data, name: str) -> str:
    _missing(data, name)
    return require_str(data[name], f"data.{name}")


def _reason(data: Data) -> None:
    _missing(data, "reason")
    require_match(data["reason"], "data.reason", REASON_RE, _REASON_HINT)


def _captured(data: Data) -> None:
    for name in ("width", "height"):
        _missing(data, name)
        require_int(data[name], f"data.{name}", minimum=1)
    # pts may be absent or null: some sources (synthetic, MJPEG) have no presentation time.
    if data.get("pts") is not None:
        require_int(data["pts"], "data.pts")
    _text(data, "source")


def _queued(data: Data) -> None:
    _text(data, "stream")


def _processing(data: Data) -> None:
    _text(data, "processor")
    _text(data, "batch_id")


def _detection(value: object, field: str) -> None:
    item = require_mapping(value, field)
    for name in ("label", "score", "box"):
        if name not in item:
            raise ValidationError(f"{field}.{name}", "is required")
    require_str(item["label"], f"{field}.label")
    require_number(item["score"], f"{field}.score", minimum=0.0, maximum=1.0)
    box = item["box"]
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise ValidationError(f"{field}.box", f"must be [x1, y1, x2, y2], got {describe(box)}")
    x1, y1, x2, y2 = (require_number(v, f"{field}.box[{i}]") for i, v in enumerate(box))
    if x2 < x1 or y2 < y1:
        raise ValidationError(
            f"{field}.box", f"needs x2 >= x1 and y2 >= y1 (source pixels), got {describe(box)}"
        )


def _processed(data: Data) -> None:
    _text(data, "processor")
    _missing(data, "duration_ms")
    require_number(data["duration_ms"], "data.duration_ms", minimum=0.0)
    _missing(data, "detections")
    detections = data["detections"]
    if not isinstance(detections, list | tuple):
        raise ValidationError(
            "data.detections",
            f"must be a list (empty when nothing was seen), got {describe(detections)}",
        )
    for i, item in enumerate(detections):
        _detection(item, f"data.detections[{i}]")


def _published(data: Data) -> None:
    _text(data, "target")


def _completed(data: Data) -> None:
    del data  # frame.completed carries no required fields.


def _failed(data: Data) -> None:
    _text(data, "stage")
    _missing(data, "error")
    # An exception can stringify to "" (KeyError()); a failure must still be recordable.
    require_str(data["error"], "data.error", non_empty=False)


DATA_CHECKS: Mapping[str, DataCheck] = {
    "frame.captured": _captured,
    "frame.skipped": _reason,
    "frame.queued": _queued,
    "frame.processing": _processing,
    "frame.processed": _processed,
    "frame.published": _published,
    "frame.completed": _completed,
    "frame.dropped": _reason,
    "frame.failed": _failed,
}


OBJECT_TYPES: Mapping[str, ObjectEventType] = {t.value: t for t in ObjectEventType}


def object_event(
    event_type: str, data: Data, frame_id: FrameId, occurred_at: datetime
) -> ObjectEvent:
    """The ObjectEvent an `object.*` envelope carries; ValidationError when malformed, or
    when its object belongs to another camera than the frame it was seen in."""
    found = ObjectEvent.from_data(OBJECT_TYPES[event_type], frame_id, occurred_at, data)
    # Object ids are `<camera>:<first sighting ms>:<track id>` (make_object_id).
    if not found.object_id.startswith(f"{frame_id.camera}:"):
        raise ValidationError(
            "data.object_id",
            f"object {found.object_id!r} is not one of camera {frame_id.camera!r}; an object "
            "event goes with a frame of the camera that saw the object",
        )
    return found


def validate_data(event_type: str, data: Data, frame_id: FrameId, occurred_at: datetime) -> None:
    """Raise ValidationError (field `data.<name>`) when `data` breaks the type's schema."""
    if event_type in OBJECT_TYPES:
        object_event(event_type, data, frame_id, occurred_at)
        return
    check = DATA_CHECKS.get(event_type)
    if check is None:
        raise ValidationError("type", f"no data schema for event type {event_type!r}")
    check(data)
