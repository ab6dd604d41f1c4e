"""The retention planning tests' examples: a fixed now, short names for the deletion reasons,
and segments as the recording index keeps them (ten seconds of ``porch`` unless told)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detektor.domain.recordings import Segment
from detektor.domain.retention import DeletionReason

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
AGE, OBJECTS_AGE = DeletionReason.AGE, DeletionReason.OBJECTS_AGE
DISK_LOW, MAX_BYTES = DeletionReason.DISK_LOW, DeletionReason.MAX_BYTES


def seg(start: datetime, seconds: float = 10, camera: str = "porch", size: int = 100) -> Segment:
    """A segment of ``camera`` from ``start``, its path unique to the microsecond."""
    return Segment(
        camera=camera,
        start=start,
        end=start + timedelta(seconds=seconds),
        path=f"{camera}/{start:%Y%m%d-%H%M%S-%f}.mp4",
        bytes=size,
        codec="h264",
        keyframes=1,
        audio=False,
    )
