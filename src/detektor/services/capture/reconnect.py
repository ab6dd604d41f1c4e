"""Reconnect policy for cameras: exponential backoff with jitter.

It is pure: the random source is injected, so tests need no sleeping. A stalled connection
is detected by the source itself (``open_source``'s ``read_timeout_s``), not here.

``Backoff``: the n-th consecutive failure waits ``initial_s * 2**n``, capped at ``max_s``,
of which a random share up to ``jitter`` is taken off (``jitter=1`` is "full jitter"), so
cameras behind one failed switch do not all come back at the same instant. A delay never
exceeds ``max_s``. ``reset()`` after the first good frame of a connection.
"""

from __future__ import annotations

import random


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
