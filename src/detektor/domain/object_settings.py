"""Settings of the object lifecycle, per camera and per label, as plain frozen dataclasses.

The domain takes them ready-made; pydantic settings (env, YAML) build them and are the place
for defaults a user sees. Each value is checked here too, so a lifecycle can never run on a
threshold of 7 or a window of 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from detektor.domain.errors import ValidationError
from detektor.domain.fields import describe


def _fraction(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(name, f"must be a number from 0 to 1, got {describe(value)}")


def _seconds(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ValidationError(name, f"must be a number of seconds >= 0, got {describe(value)}")


def _count(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, f"must be an integer >= 1, got {describe(value)}")


@dataclass(frozen=True, slots=True)
class LabelSettings:
    """What one label needs: the median score that confirms it, and how still is still."""

    threshold: float = 0.6
    stationary_iou: float = 0.9

    def __post_init__(self) -> None:
        _fraction(self.threshold, "threshold")
        _fraction(self.stationary_iou, "stationary_iou")


@dataclass(frozen=True, slots=True)
class ObjectSettings:
    min_hits: int = 3  # sightings before a track may be confirmed
    score_window: int = 5  # the median of this many last scores must reach the threshold
    max_disappeared_s: float = 2.0  # unseen this long: the object has ended
    # A stationary object missed for a while (a van drives past the parked car) is still the
    # same object; ending it would re-alert when it is seen again.
    stationary_max_disappeared_s: float = 30.0
    stationary_after_s: float = 10.0
    move_frames: int = 3  # consecutive boxes off the anchor that count as movement
    # A better snapshot is announced only when its score x area beats the announced one by
    # this factor, and not more often than every `snapshot_interval_s`: a person walking
    # toward the camera grows every frame, and each frame is not news.
    snapshot_gain: float = 1.5
    snapshot_interval_s: float = 2.0
    edge_margin_px: float = 2.0  # a box this close to the frame edge is cut off
    default: LabelSettings = LabelSettings()
    labels: Mapping[str, LabelSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _count(self.min_hits, "min_hits")
        _count(self.score_window, "score_window")
        _count(self.move_frames, "move_frames")
        for name in (
            "max_disappeared_s",
            "stationary_max_disappeared_s",
            "stationary_after_s",
            "snapshot_interval_s",
        ):
            _seconds(getattr(self, name), name)
        _seconds(self.edge_margin_px, "edge_margin_px")
        if (
            not isinstance(self.snapshot_gain, int | float)
            or not 1 <= self.snapshot_gain < math.inf
        ):
            raise ValidationError(
                "snapshot_gain", f"must be a number >= 1, got {describe(self.snapshot_gain)}"
            )
        for label, settings in self.labels.items():
            if not isinstance(settings, LabelSettings):
                raise ValidationError(f"labels.{label}", "must be LabelSettings")
        # A read-only copy: the caller's dict changing later must not change a running camera.
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    def for_label(self, label: str) -> LabelSettings:
        return self.labels.get(label, self.default)
