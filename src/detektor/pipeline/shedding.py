"""Shedding by age: which delivered frames are too old to be worth processing, and how big a
batch may be so that the ones processed are done within the limit.

Under overload a late answer is worth less than the next fresh frame. ``AgeBudget`` holds
``max_frame_age_ms`` and the recent processing time per frame, and decides two things:

- a frame that would be older than the limit by the time its batch is done (its age when the
  batch would start, plus the batch's expected processing time) is dropped (``frame.dropped``,
  ``reason=stale``) instead; the expected time counts for at most half the limit, so a frame
  younger than half the limit is always processed and a slow processor is never starved;
- a batch is only as big as half the limit's worth of processing (at least one frame), so a
  long batch cannot carry its last frames past the limit.

Together they bound the latency of processed frames near the limit, whatever the overload.
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
_SMOOTHING = 0.2  # weight of the newest batch in the per-frame time


@dataclass(frozen=True, slots=True)
class Shed:
    """Deliveries split by age: ``stale`` ones (with their frame messages) and the rest."""

    stale: list[tuple[Delivery, FrameMessage]]
    fresh: list[Delivery]


class AgeBudget:
    """The age limit (0 = off) and the processing time per frame seen lately."""

    def __init__(self, max_age_ms: int) -> None:
        self.max_age_ms = max_age_ms
        self.frame_ms = 0.0  # moving average over recent batches; 0 until one is done

    def observe(self, elapsed_s: float, frames: int) -> None:
        """Record a processed batch: ``frames`` done in ``elapsed_s``."""
        if frames <= 0:
            return
        ms = elapsed_s * 1000 / frames
        self.frame_ms = (
            ms if not self.frame_ms else self.frame_ms + _SMOOTHING * (ms - self.frame_ms)
        )

    def batch_size(self, limit: int) -> int:
        """At most ``limit`` frames, and no more than half the age limit's worth."""
        if not self.max_age_ms or not self.frame_ms:
            return limit
        return max(1, min(limit, int(self.max_age_ms / 2 / self.frame_ms)))

    def split(self, deliveries: list[Delivery], now_ms: float) -> Shed:
        """Split ``deliveries`` about to be processed together. An entry that could not be
        parsed is never stale: it goes on to be dead-lettered with its own reason."""
        if not self.max_age_ms:
            return Shed([], deliveries)
        ahead_ms = min(self.frame_ms * len(deliveries), self.max_age_ms / 2)
        stale: list[tuple[Delivery, FrameMessage]] = []
        fresh: list[Delivery] = []
        for d in deliveries:
            if (
                d.message is not None
                and now_ms + ahead_ms - d.message.captured_ms > self.max_age_ms
            ):
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
