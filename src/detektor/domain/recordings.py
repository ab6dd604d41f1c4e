"""Recorded footage as the domain sees it: closed segments, the per-camera record policy, the
spans of objects that make footage worth keeping longer, and the recording's own spans (gaps
in it, motion in it).

`Segment` is what the recorder hands over for each closed MP4 file and what the recording
index stores; it checks itself when built, so a segment with its end before its start, a
negative size, an unknown camera name, a path leaving the recordings root or a naive time
never reaches a store. Everything here is pure; retention planning is in `domain.retention`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from detektor.domain.errors import ValidationError
from detektor.domain.fields import INT_MAX, describe
from detektor.domain.frames import validate_camera

# Relative to the recordings root, '/'-separated; no part may start with '.', which rules out
# '..' (leaving the root) and hidden files, and no leading '/' (an absolute path).
PATH_PATTERN = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*"
PATH_RE = re.compile(PATH_PATTERN)
MAX_PATH = 1024
# Segments are seconds long; bounding them lets a store find those overlapping a time range
# by their start alone (an index range), instead of scanning a camera's whole history.
MAX_SEGMENT = timedelta(hours=1)
CODEC_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")  # as ffprobe names them: h264, hevc


def require_instant(value: object, field: str) -> datetime:
    """An aware datetime, in UTC; naive ones are refused (whose midnight would they be?)."""
    if not isinstance(value, datetime):
        raise ValidationError(field, f"must be a datetime, got {describe(value)}")
    if value.utcoffset() is None:
        raise ValidationError(field, f"must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def require_count(value: object, field: str) -> int:
    """A whole number from 0 to 2^63-1, what every store can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT_MAX:
        raise ValidationError(
            field, f"must be an integer from 0 to {INT_MAX}, got {describe(value)}"
        )
    return value


def validate_path(value: object, field: str = "path") -> str:
    if not isinstance(value, str) or len(value) > MAX_PATH or not PATH_RE.fullmatch(value):
        raise ValidationError(
            field,
            f"must be a path relative to the recordings root ('/'-separated parts of letters, "
            f"digits, '_', '-' and '.', none starting with '.'; at most {MAX_PATH} characters), "
            f"e.g. 'front-door/2026/12/06/16-25-30.mp4'; got {describe(value)}",
        )
    return value


@dataclass(frozen=True, slots=True)
class Segment:
    """One closed segment file. Times are UTC; `path` is relative to the recordings root."""

    camera: str
    start: datetime
    end: datetime
    path: str
    bytes: int
    codec: str
    keyframes: int
    audio: bool

    def __post_init__(self) -> None:
        validate_camera(self.camera)
        start = require_instant(self.start, "start")
        end = require_instant(self.end, "end")
        if end < start:
            raise ValidationError(
                "end", f"must not be before start ({start.isoformat()}), got {end.isoformat()}"
            )
        if end - start > MAX_SEGMENT:
            raise ValidationError(
                "end", f"a segment lasts at most {MAX_SEGMENT}, this one {end - start}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        validate_path(self.path)
        require_count(self.bytes, "bytes")
        require_count(self.keyframes, "keyframes")
        if not isinstance(self.codec, str) or not CODEC_RE.fullmatch(self.codec):
            raise ValidationError(
                "codec",
                f"must be a codec name such as 'h264' or 'hevc', got {describe(self.codec)}",
            )
        if not isinstance(self.audio, bool):
            raise ValidationError("audio", f"must be true or false, got {describe(self.audio)}")


class RecordMode(StrEnum):
    CONTINUOUS = "continuous"  # everything is kept for retain_days
    # Recorded continuously all the same (pre_s needs what came before the motion); footage
    # around motion is kept retain_days, the rest goes as soon as no motion can claim it.
    MOTION = "motion"
    OBJECTS = "objects"  # footage without an object goes as soon as no object can claim it


def _days(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ValidationError(name, f"must be a number of days >= 0, got {describe(value)}")


def _seconds(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 3600:
        raise ValidationError(name, f"must be a number of seconds from 0 to 3600, got {value!r}")


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """How long one camera's footage is kept. Footage overlapping an object (widened by
    `pre_s` before it and `post_s` after it) is kept `objects_retain_days`, which may not be
    shorter than `retain_days`: object footage always outlives the rest."""

    mode: RecordMode = RecordMode.CONTINUOUS
    retain_days: float = 7.0
    objects_retain_days: float = 30.0
    pre_s: float = 5.0
    post_s: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.mode, RecordMode):
            raise ValidationError("mode", f"must be a RecordMode, got {describe(self.mode)}")
        _days(self.retain_days, "retain_days")
        _days(self.objects_retain_days, "objects_retain_days")
        _seconds(self.pre_s, "pre_s")
        _seconds(self.post_s, "post_s")
        if self.objects_retain_days < self.retain_days:
            raise ValidationError(
                "objects_retain_days",
                f"must be at least retain_days ({self.retain_days:g}), got "
                f"{self.objects_retain_days:g}: footage with an object is never kept for less "
                "time than footage without one",
            )


@dataclass(frozen=True, slots=True)
class ObjectSpan:
    """When an object was seen on a camera; `end` None while it is still in view."""

    camera: str
    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        validate_camera(self.camera)
        start = require_instant(self.start, "start")
        object.__setattr__(self, "start", start)
        if self.end is not None:
            end = require_instant(self.end, "end")
            if end < start:
                raise ValidationError("end", "must not be before start")
            object.__setattr__(self, "end", end)


class SpanKind(StrEnum):
    GAP = "gap"  # time not recorded between two segments; `reason` says why
    MOTION = "motion"  # time the camera's motion gate saw movement


GAP_REASONS = frozenset({"reconnect", "stalled"})


@dataclass(frozen=True, slots=True)
class RecordingSpan:
    """A span of a camera's recording timeline that is not a segment: a gap (`reason`
    ``reconnect`` or ``stalled``) or motion (`reason` empty). Times are UTC; a span lasts
    more than no time."""

    camera: str
    kind: SpanKind
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        validate_camera(self.camera)
        if not isinstance(self.kind, SpanKind):
            raise ValidationError("kind", f"must be a SpanKind, got {describe(self.kind)}")
        start = require_instant(self.start, "start")
        end = require_instant(self.end, "end")
        if end <= start:
            raise ValidationError(
                "end", f"must be after start ({start.isoformat()}), got {end.isoformat()}"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        allowed = GAP_REASONS if self.kind is SpanKind.GAP else frozenset({""})
        if self.reason not in allowed:
            raise ValidationError(
                "reason",
                f"a {self.kind} span's reason is one of {sorted(allowed)}, got "
                f"{describe(self.reason)}",
            )
