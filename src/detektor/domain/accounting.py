"""Per-camera conservation of frames: every captured frame ends up in exactly one outcome.

    captured == completed + skipped + dropped + failed + in_flight

Accounting works on small per-frame summaries, so a store can feed it from a projection table
without rebuilding timelines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detektor.domain.frames import validate_camera
from detektor.domain.lifecycle import FrameState

# A skipped or dropped frame whose reason is unknown still has to be counted somewhere.
UNKNOWN_REASON = "unknown"


@dataclass(frozen=True, slots=True)
class FrameSummary:
    """What accounting needs to know about one frame."""

    state: FrameState
    reason: str | None  # the terminal event's reason, for skipped and dropped frames
    captured: bool  # whether a frame.captured event was seen for the frame
    last_event_at: datetime


@dataclass(slots=True)
class Accounting:
    """The conservation check for one camera.

    `stale` is a subset of `in_flight` (in-flight frames with no event for longer than the
    timeout), reported beside it rather than as an outcome, so the equation stays a partition.
    `orphans` are frames seen without their frame.captured event; they are still counted in
    their outcome (a dropped frame is a dropped frame), which is exactly what unbalances the
    equation, and `balanced` is then False.

    `balanced` is also False while any frame is stale: the equation holds trivially when every
    frame is stuck in flight, and a camera whose frames never finish is not accounted for.
    """

    camera: str
    captured: int = 0
    completed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    in_flight: int = 0
    stale: int = 0
    orphans: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def accounted(self) -> int:
        """Frames that have an outcome or are still in flight: the right-hand side."""
        return (
            self.completed + self.skipped_total + self.dropped_total + self.failed + self.in_flight
        )

    @property
    def imbalance(self) -> int:
        """captured minus the right-hand side; 0 when every captured frame is accounted for."""
        return self.captured - self.accounted

    @property
    def balanced(self) -> bool:
        return self.imbalance == 0 and self.orphans == 0 and self.stale == 0

    def to_dict(self) -> dict[str, object]:
        """The accounting API's shape: totals under the contract names, reasons beside them."""
        return {
            "camera": self.camera,
            "captured": self.captured,
            "completed": self.completed,
            "skipped": self.skipped_total,
            "dropped": self.dropped_total,
            "failed": self.failed,
            "in_flight": self.in_flight,
            "stale": self.stale,
            "balanced": self.balanced,
            "imbalance": self.imbalance,
            "orphans": self.orphans,
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
        }


def account(
    camera: str, frames: Iterable[FrameSummary], now: datetime, stale_after: timedelta
) -> Accounting:
    """Count one camera's frames. An in-flight frame is stale when its last event is more than
    `stale_after` before `now`."""
    validate_camera(camera)
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if stale_after < timedelta(0):
        raise ValueError(f"stale_after must not be negative, got {stale_after}")
    result = Accounting(camera=camera)
    skipped: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for frame in frames:
        if frame.captured:
            result.captured += 1
        else:
            result.orphans += 1
        match frame.state:
            case FrameState.COMPLETED:
                result.completed += 1
            case FrameState.SKIPPED:
                skipped[frame.reason or UNKNOWN_REASON] += 1
            case FrameState.DROPPED:
                dropped[frame.reason or UNKNOWN_REASON] += 1
            case FrameState.FAILED:
                result.failed += 1
            case _:
                result.in_flight += 1
                if now - frame.last_event_at > stale_after:
                    result.stale += 1
    result.skipped = dict(skipped)
    result.dropped = dict(dropped)
    return result
