"""What capture hands from its reading thread to the event loop, what it tells the recording
about motion, and small event helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.pipeline.events import lifecycle_event


@dataclass(frozen=True, slots=True)
class Sampled:
    """A sampled frame after the motion check, ready for the event loop side."""

    frame_id: FrameId
    pts: int | None
    width: int
    height: int
    wall_ms: int
    moving: bool
    reason: str | None
    jpeg: bytes | None  # encoded only when the frame moves on, and only for a wire bus
    image: NDArray[np.uint8] | None = field(default=None, repr=False)  # instead, in memory

    @property
    def ready(self) -> bool:
        """Moving, and with a payload to publish (the encoder did not fail)."""
        return self.moving and (self.jpeg is not None or self.image is not None)


class MotionSink(Protocol):
    """Told, from the reading thread, whether each sampled frame moved (recording's motion
    spans); `flush` when the connection ends."""

    def frame(self, wall_ms: int, moving: bool) -> None: ...

    def flush(self) -> None: ...


def dropped_event(frame_id: FrameId, reason: str = "bus_full") -> Envelope:
    return lifecycle_event(EventType.DROPPED, frame_id, {"reason": reason})


def describe_source(uri: str) -> str:
    """What kind of source, never the URI itself (credentials stay out of events)."""
    return uri.split("://", 1)[0] if "://" in uri else "file"
