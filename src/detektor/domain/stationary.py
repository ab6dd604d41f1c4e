"""Whether an object stands still: the stationary/active state of one tracked object.

The box is compared with an anchor, the box it had when it settled. While the IoU with the
anchor stays at or above the label's threshold for `after_s`, the object becomes stationary.
Detectors jitter, so a single stray box changes nothing: it takes `move_frames` consecutive
boxes away from the anchor to count as movement, which re-anchors the object on its new box and
makes a stationary one active again. A slow drift also adds up against the fixed anchor, so
an object creeping along never looks parked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from detektor.domain.geometry import Box, iou


@dataclass(slots=True)
class Motion:
    anchor: Box
    since: datetime  # when the object settled on `anchor`
    stationary: bool = False
    misses: int = 0  # consecutive boxes away from the anchor

    def observe(
        self, box: Box, at: datetime, *, min_iou: float, after_s: float, move_frames: int
    ) -> bool:
        """Take one sighting; True when it turned the object stationary or active again."""
        if iou(box, self.anchor) >= min_iou:
            self.misses = 0
            if not self.stationary and (at - self.since).total_seconds() >= after_s:
                self.stationary = True
                return True
            return False
        self.misses += 1
        if self.misses < move_frames:
            return False
        self.anchor, self.since, self.misses = box, at, 0
        if self.stationary:
            self.stationary = False
            return True
        return False
