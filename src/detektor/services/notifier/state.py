"""Per-camera state behind the HA entities: occupancy with an off-delay, counts, last
detection time and camera connectivity.

Pure logic with the clock passed in (``now``, monotonic seconds), so tests drive time.
Every method returns the ``Change`` list to publish; nothing is sent for values that did not
change, except the full ``snapshot`` that is re-sent after every (re)connect.

- A label turns ``ON`` with the first frame that has it, and ``OFF`` once ``off_delay_s``
  has passed without a frame that has it.
- Its count is the number of such objects in the latest processed frame; it drops to 0
  at once when a frame no longer has it, and at the latest when the label turns off (the
  motion gate may stop sending frames altogether).
- The last-detection time is the capture time of a frame with published detections; it is
  sent when a label turns on, then at most every ``timestamp_interval_s`` (so Home
  Assistant's recorder is not written five times a second).
- The camera is connected while frames from it arrive; after ``camera_timeout_s``
  without one (or without any since start) it is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from detektor.services.notifier.discovery import OFF, ON

Kind = Literal["occupancy", "count", "last_detection", "connected"]


@dataclass(frozen=True, slots=True)
class Change:
    """One value to publish: ``label`` is set for occupancy and count."""

    kind: Kind
    value: str
    label: str | None = None
    attributes: Mapping[str, object] | None = None


@dataclass(slots=True)
class _Label:
    on: bool = False
    count: int = 0
    last_seen: float = 0.0


@dataclass(slots=True)
class CameraState:
    camera: str
    labels: Sequence[str]
    off_delay_s: float
    camera_timeout_s: float
    timestamp_interval_s: float
    started: float
    _labels: dict[str, _Label] = field(init=False)
    _connected: bool | None = field(default=None, init=False)
    _last_frame: float | None = field(default=None, init=False)
    _last_detection: Change | None = field(default=None, init=False)
    _last_detection_sent: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._labels = {label: _Label() for label in self.labels}

    def observe(
        self,
        counts: Mapping[str, int],
        now: float,
        captured_at: datetime,
        attributes: Mapping[str, object] | None = None,
    ) -> list[Change]:
        """A processed frame: ``counts`` holds its published detections per label."""
        changes = self.seen(now)
        turned_on = False
        for label, state in self._labels.items():
            n = counts.get(label, 0)
            if n > 0:
                state.last_seen = now
                if not state.on:
                    state.on, turned_on = True, True
                    changes.append(Change("occupancy", ON, label))
            if n != state.count:
                state.count = n
                changes.append(Change("count", str(n), label))
        if any(counts.get(label, 0) > 0 for label in self._labels):
            self._last_detection = Change(
                "last_detection", captured_at.isoformat(), attributes=attributes
            )
            sent = self._last_detection_sent
            if turned_on or sent is None or now - sent >= self.timestamp_interval_s:
                self._last_detection_sent = now
                changes.append(self._last_detection)
        return changes

    def seen(self, now: float) -> list[Change]:
        """A frame of this camera went by (captured, or processed)."""
        self._last_frame = now
        if self._connected is not True:
            self._connected = True
            return [Change("connected", ON)]
        return []

    def expire(self, now: float) -> list[Change]:
        """Labels past their off-delay turn off; a silent camera is disconnected."""
        changes: list[Change] = []
        for label, state in self._labels.items():
            if state.on and now - state.last_seen >= self.off_delay_s:
                state.on = False
                changes.append(Change("occupancy", OFF, label))
                if state.count:
                    state.count = 0
                    changes.append(Change("count", "0", label))
        since = self._last_frame if self._last_frame is not None else self.started
        if self._connected is not False and now - since >= self.camera_timeout_s:
            self._connected = False
            changes.append(Change("connected", OFF))
        return changes

    def snapshot(self) -> list[Change]:
        """Every known value, for re-publishing after a (re)connect."""
        changes: list[Change] = []
        for label, state in self._labels.items():
            changes.append(Change("occupancy", ON if state.on else OFF, label))
            changes.append(Change("count", str(state.count), label))
        if self._last_detection is not None:
            changes.append(self._last_detection)
        if self._connected is not None:
            changes.append(Change("connected", ON if self._connected else OFF))
        return changes

    def is_on(self, label: str) -> bool:
        return self._labels[label].on

    def count(self, label: str) -> int:
        return self._labels[label].count
