"""What a recorder tells its consumers (segments, gaps, stalls), and how it logs.

``Reports`` holds the ``on_segment`` / ``on_gap`` / ``on_stall`` a ``Recorder`` was given and
calls them in the thread that calls the recorder. A consumer's exception is logged, never
raised: a bug in the index feed or the metrics must not stop recording, let alone capture.
``log`` names the camera in the message and tags the record with it (``extra={"camera"}``),
so a user can filter one camera's recording lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from detektor.services.capture.segments import Gap, Segment

log = logging.getLogger("detektor.services.capture.recorder")
_T = TypeVar("_T")


@dataclass(slots=True)
class Reports:
    """See the module docstring."""

    camera: str
    on_segment: Callable[[Segment], None] | None = None
    on_gap: Callable[[Gap], None] | None = None
    on_stall: Callable[[bool], None] | None = None

    def segment(self, segment: Segment) -> None:
        self._call(self.on_segment, segment)

    def gap(self, gap: Gap) -> None:
        self._call(self.on_gap, gap)

    def stall(self, stalled: bool) -> None:
        self._call(self.on_stall, stalled)

    def log(self, level: int, message: str, *args: object) -> None:
        log.log(level, "camera %s: " + message, self.camera, *args, extra={"camera": self.camera})

    def _call(self, callback: Callable[[_T], None] | None, value: _T) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            log.exception("camera %s: recording callback failed", self.camera)
