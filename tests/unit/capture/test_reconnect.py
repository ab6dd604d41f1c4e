"""Reconnect backoff with jitter, with an injected rng."""

from __future__ import annotations

import random

import pytest

from detektor.services.capture.reconnect import Backoff


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_doubles_up_to_the_cap_without_jitter() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.attempts == 8


def test_jitter_takes_off_at_most_its_share() -> None:
    assert Backoff(2.0, 30.0, jitter=0.2, rng=FixedRandom(0.0)).next_delay() == 2.0
    assert Backoff(2.0, 30.0, jitter=0.2, rng=FixedRandom(0.999999)).next_delay() == (
        pytest.approx(1.6, abs=1e-5)
    )
    full = Backoff(2.0, 30.0, jitter=1.0, rng=FixedRandom(0.5))
    assert full.next_delay() == 1.0


def test_delays_stay_within_bounds_and_spread() -> None:
    backoff = Backoff(0.5, 10.0, jitter=0.5, rng=random.Random(42))
    delays = []
    for _ in range(200):
        backoff.reset()
        delays.append([backoff.next_delay() for _ in range(10)])
    for attempt in range(10):
        column = [row[attempt] for row in delays]
        base = min(10.0, 0.5 * 2**attempt)
        assert all(base * 0.5 <= d <= base for d in column)
        assert len(set(column)) > 100  # cameras do not retry in lockstep
    assert max(max(row) for row in delays) <= 10.0


def test_reset_starts_over() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == 1.0


def test_many_failures_do_not_overflow() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 60.0


@pytest.mark.parametrize(
    ("initial", "maximum", "jitter"), [(0, 1, 0.2), (2, 1, 0.2), (1, 2, -0.1), (1, 2, 1.5)]
)
def test_invalid_backoff(initial: float, maximum: float, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"initial_s|jitter"):
        Backoff(initial, maximum, jitter=jitter)
