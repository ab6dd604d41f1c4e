"""Frame entries: what the stages before wrote for one frame, checked before anything is sent.

A stream entry has ``frame_id``, ``camera``, ``captured_ms``, ``detections`` (a JSON list of
``{"label", "score", "box": [x1, y1, x2, y2]}``), and optionally ``traceparent`` and
``objects``: a JSON list of the frame's object events, each an envelope as
``Envelope.to_dict`` writes it (``object.started|updated|ended``, read back by
``Envelope.from_dict``, which checks the data with ``ObjectEvent.from_data``). An object
event must be of the entry's camera; for ``object.ended`` its ``frame_id`` is the object's
last sighting, an earlier frame. Parsing returns either a ``DetectionEntry`` or the reason it
cannot be used (for the dead-letter stream); it never raises, whatever the entry holds: bad
JSON, huge integers, deep nesting, labels with control characters or lone surrogates, numbers
out of range, envelopes of another type or camera.

An entry with ``kind`` = ``objects`` carries object events that came with no frame (the
objects service writes them for a still scene, a camera gone quiet, a stop or a takeover):
``camera`` and ``objects`` only, read by ``parse_frameless``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.domain.frames import CAMERA_RE, FrameId
from detektor.services.notifier.rules import Detection

MAX_DETECTIONS = 1000
MAX_DETECTIONS_BYTES = 1024 * 1024  # 1,000 detections take about 100 kB
MAX_LABEL_CHARS = 100
MAX_COORDINATE = 1_000_000.0  # source pixels; far beyond any frame, well inside a float
MAX_OBJECT_EVENTS = 1000
MAX_OBJECTS_BYTES = 4 * 1024 * 1024  # an object event takes about 800 bytes


@dataclass(frozen=True, slots=True)
class DetectionEntry:
    frame_id: FrameId
    detections: list[Detection]
    traceparent: str | None = None
    objects: tuple[Envelope, ...] = ()  # the frame's object events, in the stage's order

    @property
    def camera(self) -> str:
        return self.frame_id.camera

    @property
    def captured_at(self) -> datetime:
        return self.frame_id.captured_at

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.captured_at).total_seconds()


def raw_frame_id(fields: Mapping[bytes, bytes]) -> FrameId | None:
    """The entry's frame id when it parses, so even an unusable entry fails its frame."""
    try:
        return FrameId.parse(fields.get(b"frame_id", b"").decode())
    except (ValidationError, UnicodeDecodeError):
        return None


def parse_entry(fields: Mapping[bytes, bytes]) -> DetectionEntry | str:
    """The entry, or why it cannot be used."""
    try:
        text = {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError:
        return "entry is not UTF-8 text"
    missing = [name for name in ("frame_id", "camera", "detections") if name not in text]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    try:
        frame_id = FrameId.parse(text["frame_id"])
    except ValidationError as exc:
        return str(exc)
    if text["camera"] != frame_id.camera:
        return f"camera {text['camera']!r} does not match frame id {frame_id}"
    if len(text["detections"]) > MAX_DETECTIONS_BYTES:
        return (
            f"detections is {len(text['detections'])} characters, more than {MAX_DETECTIONS_BYTES}"
        )
    try:
        raw = json.loads(text["detections"])
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, or an integer beyond Python's 4,300-digit limit;
        # RecursionError: nesting deeper than the stack.
        return f"detections is not valid JSON: {type(exc).__name__}: {str(exc)[:200]}"
    detections = parse_detections(raw)
    if isinstance(detections, str):
        return detections
    objects = parse_objects(text["objects"], frame_id.camera) if text.get("objects") else ()
    if isinstance(objects, str):
        return objects
    return DetectionEntry(frame_id, detections, text.get("traceparent") or None, objects)


def parse_frameless(fields: Mapping[bytes, bytes]) -> tuple[Envelope, ...] | str:
    """The object events of an entry that came with no frame (``kind`` = ``objects``: a still
    scene, a camera gone quiet, a stop, a takeover), or why they cannot be used."""
    try:
        camera = fields.get(b"camera", b"").decode()
        text = fields.get(b"objects", b"").decode()
    except UnicodeDecodeError:
        return "entry is not UTF-8 text"
    if CAMERA_RE.fullmatch(camera) is None:
        return f"camera {camera[:80]!r} is not a camera name"
    if not text:
        return "missing field(s) objects"
    events = parse_objects(text, camera)
    if not isinstance(events, str) and not events:
        return "objects is empty"
    return events


def parse_objects(text: str, camera: str) -> tuple[Envelope, ...] | str:
    """The object events of ``camera`` in an entry's ``objects`` JSON, or why not."""
    if len(text) > MAX_OBJECTS_BYTES:
        return f"objects is {len(text)} characters, more than {MAX_OBJECTS_BYTES}"
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"objects is not valid JSON: {type(exc).__name__}: {str(exc)[:200]}"
    if not isinstance(raw, list):
        return f"objects must be a JSON list of object event envelopes, got {type(raw).__name__}"
    if len(raw) > MAX_OBJECT_EVENTS:
        return f"{len(raw)} object events is more than {MAX_OBJECT_EVENTS}"
    out = []
    for i, item in enumerate(raw):
        try:
            event = Envelope.from_dict(item)
        except (ValidationError, RecursionError) as exc:
            return f"objects[{i}]: {str(exc)[:300]}"
        problem = object_problem(event, camera)
        if problem:
            return f"objects[{i}]: {problem}"
        out.append(event)
    return tuple(out)


def object_problem(event: Envelope, camera: str) -> str | None:
    """Why ``event`` cannot be one of ``camera``'s object events, or None."""
    if not event.is_object_event:
        return f"type {event.type.value!r} is not an object event (object.started|updated|ended)"
    if event.camera != camera:
        return f"camera {event.camera!r} is not the entry's camera {camera!r}"
    return None


def parse_detections(raw: object) -> list[Detection] | str:
    """Detections from JSON data (a list of label/score/box objects), or why not."""
    if not isinstance(raw, list):
        return f"detections must be a JSON list, got {type(raw).__name__}"
    if len(raw) > MAX_DETECTIONS:
        return f"{len(raw)} detections is more than {MAX_DETECTIONS}"
    out = []
    for i, item in enumerate(raw):
        where = f"detections[{i}]"
        if not isinstance(item, Mapping):
            return f"{where} must be an object with label, score and box"
        label, score, box = item.get("label"), item.get("score"), item.get("box")
        # isprintable() is False for control characters, NUL and lone surrogates alike.
        if not isinstance(label, str) or not label or not label.isprintable():
            return f"{where}.label must be a non-empty printable string, got {_short(label)}"
        if len(label) > MAX_LABEL_CHARS:
            return f"{where}.label is longer than {MAX_LABEL_CHARS} characters"
        if not _number(score, 1.0) or not 0 <= float(score) <= 1:  # type: ignore[arg-type]
            return f"{where}.score must be a number from 0 to 1, got {_short(score)}"
        if (
            not isinstance(box, Sequence)
            or len(box) != 4
            or not all(_number(v, MAX_COORDINATE) for v in box)
        ):
            return (
                f"{where}.box must be [x1, y1, x2, y2] numbers within ±{MAX_COORDINATE:.0f}, "
                f"got {_short(box)}"
            )
        x1, y1, x2, y2 = (float(v) for v in box)
        if x2 < x1 or y2 < y1:
            return f"{where}.box must have x1 <= x2 and y1 <= y2, got {box!r}"
        out.append(Detection(label, float(score), (x1, y1, x2, y2)))  # type: ignore[arg-type]
    return out


def _number(value: object, limit: float) -> bool:
    """A finite int or float within ±limit. Ints are compared before any float() of them,
    which would overflow for a 400-digit integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return -limit <= value <= limit
    return math.isfinite(value) and -limit <= value <= limit


def _short(value: object) -> str:
    """A value for a reason: repr escapes surrogates and control characters; long ones are cut."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond the 4,300-digit conversion limit
        return "an integer too long to show"
    return text if len(text) <= 120 else f"{text[:120]}…"
