"""Sampling: which decoded frames enter the pipeline, at a steady ``detect_fps``.

A camera decodes at its own rate (often 15-30 fps); detection runs at ``detect_fps``. The
sampler keeps a grid of slots ``1/detect_fps`` wide on the stream's own clock (a frame's
``time_s``) and takes, for each slot, the first frame nearer to the slot's start than the
frame after it is likely to be (half the last frame gap early counts, so a camera running at
exactly ``detect_fps`` with jittery timestamps keeps every frame), so:

- at most one frame is taken per slot, however fast the camera;
- the rate does not drift: slots advance by adding the interval to the previous slot, not to
  the time of the frame that happened to be taken;
- a camera slower than ``detect_fps`` has every frame taken;
- a gap longer than one slot (frames lost, a stall) or a clock that goes backwards (a
  reconnect restarts stream time) re-anchors the grid on the current frame, so no burst of
  catch-up samples follows.

It is pure and single-threaded: one sampler per camera, fed by the capture worker.
"""

from __future__ import annotations

import math

MIN_TOLERANCE_S = 0.001  # rounding of 90 kHz RTP clocks and container time bases


class Sampler:
    """Decides per decoded frame, by its stream time, whether it is sampled."""

    def __init__(self, detect_fps: float) -> None:
        if not (math.isfinite(detect_fps) and detect_fps > 0):
            raise ValueError(f"detect_fps must be a positive number, got {detect_fps!r}")
        self.detect_fps = detect_fps
        self.interval_s = 1.0 / detect_fps
        self.decoded = 0
        self.sampled = 0
        self._next_slot: float | None = None
        self._last_time: float | None = None

    def sample(self, time_s: float) -> bool:
        """True when the frame at stream time ``time_s`` is to be processed."""
        self.decoded += 1
        last, self._last_time = self._last_time, time_s
        slot = self._next_slot
        if slot is None or last is None or time_s < last or time_s >= slot + self.interval_s:
            # The first frame, the clock went back, or at least a whole slot went by unseen.
            self._next_slot = time_s + self.interval_s
        elif time_s >= slot - self._tolerance(time_s - last):
            self._next_slot = slot + self.interval_s
        else:
            return False
        self.sampled += 1
        return True

    def _tolerance(self, gap_s: float) -> float:
        """How early a frame may come and still take its slot: half a frame gap at most."""
        return max(MIN_TOLERANCE_S, 0.5 * min(gap_s, self.interval_s))

    def reset(self) -> None:
        """Forget the grid, for a new connection: its first frame is sampled."""
        self._next_slot = None
        self._last_time = None
