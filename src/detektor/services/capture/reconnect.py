"""Reconnect policy for cameras: exponential backoff with jitter, and stall detection.

Both are pure: the random source and the clock are injected, so tests need no sleeping.

- ``Backoff``: the n-th consecutive failure waits ``initial_s * 2**n``, capped at ``max_s``,
  of which a random share up to ``jitter`` is taken off (``jitter=1`` is "full jitter"), so
  cameras behind one failed switch do not all come back at the same instant. A delay never
  exceeds ``max_s``. ``reset()`` after the first good frame of a connection.
- ``StallWatch``: a connection is stalled when no frame came for ``timeout_s``; the capture
  loop ``beat()``s per frame, and a supervisor asks ``stalled()`` to force a reconnect.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class Backoff:
    """Delays before successive reconnect attempts."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter is a share of the delay in [0, 1], got {jitter}")
        self.initial_s, self.max_s, self.jitter = initial_s, max_s, jitter
        self._rng = rng or random.Random()
        self.attempts = 0  # consecutive failures since the last reset()

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        # 2**attempts overflows float after ~1000 failures: stop growing once capped.
        base = self.max_s if self.attempts > 64 else self.initial_s * 2.0**self.attempts
        base = min(base, self.max_s)
        self.attempts += 1
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0


class StallWatch:
    """Whether frames stopped coming: no ``beat()`` for ``timeout_s``. Thread-safe."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()

    def beat(self) -> None:
        """A frame arrived (or a connection was just opened)."""
        now = self._clock()
        with self._lock:
            self._last = now

    def silent_s(self) -> float:
        """Seconds since the last beat."""
        with self._lock:
            last = self._last
        return max(0.0, self._clock() - last)

    def remaining_s(self) -> float:
        """Seconds until the connection counts as stalled (0 once it is)."""
        return max(0.0, self.timeout_s - self.silent_s())

    def stalled(self) -> bool:
        return self.silent_s() >= self.timeout_s
