"""The frame message that travels on the frame bus, and its flat wire form.

A message carries one sampled frame from capture to the processors: its id, camera,
capture time, pts, size, the W3C ``traceparent`` of its ``create`` span and the JPEG
bytes themselves (ADR 8: inline payloads, no side store). The wire form is a flat mapping
of bytes, as Redis stream entries are; parsing rejects anything malformed with the field
named, so a bad entry is dead-lettered with a reason instead of crashing a consumer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from detektor.domain.errors import ValidationError
from detektor.domain.frames import FrameId

MAX_JPEG_BYTES = 8 * 1024 * 1024  # a 4K frame at high quality stays well under this
_REQUIRED = ("frame_id", "camera", "captured_ms", "pts", "width", "height", "jpeg")


@dataclass(frozen=True, slots=True)
class FrameMessage:
    frame_id: FrameId
    captured_ms: int
    pts: int | None
    width: int
    height: int
    jpeg: bytes
    traceparent: str | None = None

    @property
    def camera(self) -> str:
        return self.frame_id.camera

    @property
    def captured_at(self) -> datetime:
        return datetime.fromtimestamp(self.captured_ms / 1000, UTC)

    def to_fields(self) -> dict[bytes, bytes]:
        fields = {
            b"frame_id": str(self.frame_id).encode(),
            b"camera": self.camera.encode(),
            b"captured_ms": str(self.captured_ms).encode(),
            b"pts": b"" if self.pts is None else str(self.pts).encode(),
            b"width": str(self.width).encode(),
            b"height": str(self.height).encode(),
            b"jpeg": self.jpeg,
        }
        if self.traceparent:
            fields[b"traceparent"] = self.traceparent.encode()
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[bytes, bytes]) -> FrameMessage:
        """Parse a wire entry; ValidationError names the first bad or missing field."""
        missing = [name for name in _REQUIRED if name.encode() not in fields]
        if missing:
            raise ValidationError(missing[0], f"missing field(s): {', '.join(missing)}")
        text = {k.decode("utf-8", "replace"): v for k, v in fields.items()}
        frame_id = FrameId.parse(text["frame_id"].decode("utf-8", "replace"))
        camera = text["camera"].decode("utf-8", "replace")
        if camera != frame_id.camera:
            raise ValidationError("camera", f"camera {camera!r} differs from the frame id's")
        jpeg = text["jpeg"]
        if not jpeg:
            raise ValidationError("jpeg", "empty payload")
        if len(jpeg) > MAX_JPEG_BYTES:
            raise ValidationError(
                "jpeg", f"payload of {len(jpeg)} bytes exceeds the {MAX_JPEG_BYTES}-byte limit"
            )
        traceparent = text.get("traceparent")
        return cls(
            frame_id=frame_id,
            captured_ms=_int(text["captured_ms"], "captured_ms", minimum=0),
            pts=None if text["pts"] == b"" else _int(text["pts"], "pts"),
            width=_int(text["width"], "width", minimum=1),
            height=_int(text["height"], "height", minimum=1),
            jpeg=jpeg,
            traceparent=traceparent.decode("ascii", "replace") if traceparent else None,
        )


def _int(raw: bytes, field: str, minimum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(field, f"not an integer: {raw[:32]!r}") from None
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be >= {minimum}, got {value}")
    return value
