"""The frame message that travels on the frame bus, and its flat wire form.

A message carries one sampled frame from capture to the processors: its id, camera,
capture time, pts, size, the W3C ``traceparent`` of its ``create`` span and the JPEG
bytes themselves (ADR 8: inline payloads, no side store). The wire form is a flat mapping
of bytes, as Redis stream entries are; parsing rejects anything malformed or out of range
(capture time, size, pts) with the field named, so a bad entry is dead-lettered with a reason
instead of crashing a consumer.

In one process (``detektor run``, the in-memory bus) a message may carry the decoded frame
itself, ``image``, with no JPEG at all (issue 16): the processor uses the array as it is, and
whatever needs a JPEG (the detections stream's pictures) encodes one when it needs it. Such a
message has no wire form: ``to_fields`` refuses it, so it can never reach Redis, and the wire
contract is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from detektor.domain.errors import ValidationError
from detektor.domain.frames import MAX_CAPTURED_MS, FrameId

MAX_JPEG_BYTES = 8 * 1024 * 1024  # a 4K frame at high quality stays well under this
MAX_DIMENSION = 65_535  # pixels per side: the most a JPEG header can state
PTS_MIN, PTS_MAX = -(2**63), 2**63 - 1  # pts is a signed 64-bit integer in every container
_MAX_DIGITS = 20  # enough for any int64; longer text is not parsed at all
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
    # The decoded frame (a BGR numpy array, height x width x 3), opaque to the pure domain;
    # only on the in-memory bus, where ``jpeg`` is then empty. The processor checks it.
    image: object | None = field(default=None, compare=False, repr=False)

    @property
    def camera(self) -> str:
        return self.frame_id.camera

    @property
    def captured_at(self) -> datetime:
        return datetime.fromtimestamp(self.captured_ms / 1000, UTC)

    def to_fields(self) -> dict[bytes, bytes]:
        if not self.jpeg and self.image is not None:
            raise ValueError(f"frame {self.frame_id} carries an image, not a JPEG: no wire form")
        return {**self.header_fields(), b"jpeg": self.jpeg}

    def header_fields(self) -> dict[bytes, bytes]:
        """Every field but the payload: what the in-memory bus keeps beside an image."""
        fields = {
            b"frame_id": str(self.frame_id).encode(),
            b"camera": self.camera.encode(),
            b"captured_ms": str(self.captured_ms).encode(),
            b"pts": b"" if self.pts is None else str(self.pts).encode(),
            b"width": str(self.width).encode(),
            b"height": str(self.height).encode(),
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
            # The frame id's own bound: every such instant is a valid datetime, so the
            # latency computed from it cannot overflow.
            captured_ms=_int(text["captured_ms"], "captured_ms", 0, MAX_CAPTURED_MS),
            pts=None if text["pts"] == b"" else _int(text["pts"], "pts", PTS_MIN, PTS_MAX),
            width=_int(text["width"], "width", 1, MAX_DIMENSION),
            height=_int(text["height"], "height", 1, MAX_DIMENSION),
            jpeg=jpeg,
            traceparent=traceparent.decode("ascii", "replace") if traceparent else None,
        )


def _int(raw: bytes, field: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw) if len(raw) <= _MAX_DIGITS else None
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(field, f"not an integer: {raw[:32]!r}")
    if not minimum <= value <= maximum:
        raise ValidationError(field, f"must be from {minimum} to {maximum}, got {value}")
    return value
