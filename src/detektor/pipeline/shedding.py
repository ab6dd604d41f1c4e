"""Shedding by age: which delivered frames are too old to be worth processing.

Under overload a late answer is worth less than the next fresh frame: a frame older than
``max_frame_age_ms`` when a processor would start it is dropped (``frame.dropped``,
``reason=stale``) instead, which bounds the latency of the frames that are processed.

Age is the processor host's wall clock minus the capture's ``captured_ms`` (wall clock too),
so in the distributed setup the hosts' clocks must agree to well under the limit (NTP; ADR
30). A frame stamped in the future counts as fresh, never as stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from detektor.domain.events import Envelope, EventType
from detektor.domain.messages import FrameMessage
from detektor.pipeline.events import lifecycle_event
from detektor.ports import Delivery

STALE = "stale"


@dataclass(frozen=True, slots=True)
class Shed:
    """Deliveries split by age: ``stale`` ones (with their frame messages) and the rest."""

    stale: list[tuple[Delivery, FrameMessage]]
    fresh: list[Delivery]


def split_stale(deliveries: list[Delivery], max_age_ms: int, now_ms: float) -> Shed:
    """Split ``deliveries``; ``max_age_ms`` 0 keeps everything. An entry that could not be
    parsed is never stale: it goes on to be dead-lettered with its own reason."""
    if max_age_ms <= 0:
        return Shed([], deliveries)
    stale: list[tuple[Delivery, FrameMessage]] = []
    fresh: list[Delivery] = []
    for d in deliveries:
        if d.message is not None and now_ms - d.message.captured_ms > max_age_ms:
            stale.append((d, d.message))
        else:
            fresh.append(d)
    return Shed(stale, fresh)


def stale_events(shed: Shed, stage: str, now_ms: float) -> list[Envelope]:
    """One ``frame.dropped`` per stale frame, with its age and the stage that shed it."""
    return [
        lifecycle_event(
            EventType.DROPPED,
            m.frame_id,
            {"reason": STALE, "age_ms": round(now_ms - m.captured_ms), "stage": stage},
        )
        for _, m in shed.stale
    ]
