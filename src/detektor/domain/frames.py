"""Camera names and frame ids: their grammar, validation and canonical text form.

A frame id is `<camera>:<capture epoch ms>:<seq>`, e.g. `front-door:1764230400123:000042`.
Parsing accepts only the canonical form, so `str(FrameId.parse(text)) == text` always holds and
one frame can never be stored under two spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from detektor.domain.errors import ValidationError
from detektor.domain.fields import describe

CAMERA_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Use CAMERA_RE.fullmatch: with .match, `$` would let a trailing newline through.
CAMERA_RE = re.compile(CAMERA_PATTERN)
SEQ_MODULUS = 1_000_000
# 13 digits of epoch milliseconds reach the year 2286; more is a unit mix-up (µs or ns).
MAX_CAPTURED_MS = 9_999_999_999_999

_MS_RE = re.compile(r"0|[1-9][0-9]{0,12}")
_SEQ_RE = re.compile(r"[0-9]{6}")
_SLUG_DROP_RE = re.compile(r"[^a-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _suggest_camera(name: str) -> str:
    slug = _SLUG_DROP_RE.sub("-", name.strip().lower()).strip("-_")
    return slug[:64] or "front-door"


def validate_camera(name: object, field: str = "camera") -> str:
    """Return `name` unchanged when it is a valid camera name, else raise ValidationError."""
    if not isinstance(name, str):
        raise ValidationError(field, f"camera must be a string, got {type(name).__name__}")
    if CAMERA_RE.fullmatch(name) is None:
        raise ValidationError(
            field,
            f"camera {name!r} must match {CAMERA_PATTERN} (lowercase letters, digits, '-' "
            f"and '_', at most 64 characters), e.g. {_suggest_camera(name)!r}",
        )
    return name


def _require_int(value: object, field: str, what: str) -> int:
    # bool is an int subclass; True as a sequence number is a caller bug, not the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"{what} must be an integer, got {describe(value)}")
    return value


@dataclass(frozen=True, order=True, slots=True)
class FrameId:
    """Identity of one sampled frame; ordering is by camera, capture time, then seq."""

    camera: str
    captured_ms: int
    seq: int

    def __post_init__(self) -> None:
        validate_camera(self.camera, "frame_id")
        ms = _require_int(self.captured_ms, "frame_id", "capture epoch ms")
        if not 0 <= ms <= MAX_CAPTURED_MS:
            raise ValidationError(
                "frame_id",
                f"capture epoch ms {describe(ms)} must be between 0 and {MAX_CAPTURED_MS} "
                "(milliseconds since 1970-01-01 UTC)",
            )
        seq = _require_int(self.seq, "frame_id", "seq")
        if not 0 <= seq < SEQ_MODULUS:
            raise ValidationError(
                "frame_id",
                f"seq {describe(seq)} must be between 0 and {SEQ_MODULUS - 1}; "
                "use FrameId.make() to wrap a running counter",
            )

    @classmethod
    def make(cls, camera: str, captured_ms: int, seq: int) -> FrameId:
        """Build an id from a running per-camera counter, wrapping it into six digits."""
        return cls(camera, captured_ms, _require_int(seq, "frame_id", "seq") % SEQ_MODULUS)

    @classmethod
    def parse(cls, text: object, field: str = "frame_id") -> FrameId:
        """Parse the canonical text form; anything else raises ValidationError naming `field`."""
        if not isinstance(text, str):
            raise ValidationError(field, f"frame id must be a string, got {type(text).__name__}")
        example = "e.g. 'front-door:1764230400123:000042'"
        parts = text.split(":")
        if len(parts) != 3:
            raise ValidationError(
                field, f"frame id {text!r} must be '<camera>:<capture epoch ms>:<seq>', {example}"
            )
        camera, ms_text, seq_text = parts
        if CAMERA_RE.fullmatch(camera) is None:
            raise ValidationError(
                field,
                f"frame id {text!r} has camera {camera!r}, which must match {CAMERA_PATTERN}",
            )
        if _MS_RE.fullmatch(ms_text) is None:
            raise ValidationError(
                field,
                f"frame id {text!r} has capture epoch ms {ms_text!r}; it must be a non-negative "
                f"integer of at most 13 digits without leading zeros, {example}",
            )
        if _SEQ_RE.fullmatch(seq_text) is None:
            raise ValidationError(
                field,
                f"frame id {text!r} has seq {seq_text!r}; it must be exactly six digits "
                f"(000000-999999), {example}",
            )
        return cls(camera, int(ms_text), int(seq_text))

    @property
    def captured_at(self) -> datetime:
        """The capture instant encoded in the id, as an aware UTC datetime."""
        # Integer arithmetic: a float division would lose the last millisecond for some ids.
        return _EPOCH + timedelta(milliseconds=self.captured_ms)

    def __str__(self) -> str:
        return f"{self.camera}:{self.captured_ms}:{self.seq:06d}"
