"""Sampling at detect_fps from a camera's decoded frames, by stream time."""

from __future__ import annotations

import itertools
import random

import pytest

from detektor.services.capture.sampler import Sampler


def taken(sampler: Sampler, times: list[float]) -> list[float]:
    return [t for t in times if sampler.sample(t)]


def camera(fps: float, seconds: float, start: float = 0.0) -> list[float]:
    return [start + i / fps for i in range(round(fps * seconds))]


@pytest.mark.parametrize(("camera_fps", "detect_fps"), [(30, 5), (25, 5), (29.97, 5), (7, 5)])
def test_steady_rate_from_a_faster_camera(camera_fps: float, detect_fps: float) -> None:
    sampler = Sampler(detect_fps)
    times = taken(sampler, camera(camera_fps, 60))
    assert abs(len(times) - 60 * detect_fps) <= 1
    # never two samples in one slot of the grid (a frame half a frame gap early takes its slot)
    slots = [int((t + 0.5 / camera_fps) * detect_fps) for t in times]
    assert len(slots) == len(set(slots))


def test_thirty_to_five_takes_every_sixth_frame() -> None:
    sampler = Sampler(5)
    flags = [sampler.sample(t) for t in camera(30, 2)]
    assert [i for i, flag in enumerate(flags) if flag] == list(range(0, 60, 6))
    assert (sampler.decoded, sampler.sampled) == (60, 10)


def test_no_drift_over_an_hour() -> None:
    """Slots advance from the previous slot, not from the frame taken: the count stays exact."""
    sampler = Sampler(5)
    times = taken(sampler, camera(29.97, 3600))
    assert abs(len(times) - 5 * 3600 * 1) <= 1
    assert times[-1] > 3599


def test_jittery_timestamps_at_the_detect_rate_keep_every_frame() -> None:
    rng = random.Random(7)
    times = [i / 5 + rng.uniform(-0.02, 0.02) for i in range(500)]
    sampler = Sampler(5)
    assert len(taken(sampler, times)) == 500


def test_jittery_fast_camera_keeps_the_rate() -> None:
    rng = random.Random(3)
    times = [i / 30 + rng.uniform(-0.004, 0.004) for i in range(30 * 60)]
    sampler = Sampler(5)
    got = taken(sampler, times)
    assert abs(len(got) - 300) <= 2
    gaps = [b - a for a, b in itertools.pairwise(got)]
    assert min(gaps) > 0.15


def test_slower_camera_has_every_frame_taken() -> None:
    sampler = Sampler(5)
    assert len(taken(sampler, camera(3, 10))) == 30


def test_a_gap_does_not_cause_a_burst_afterwards() -> None:
    sampler = Sampler(5)
    before = taken(sampler, camera(30, 2))
    after = taken(sampler, camera(30, 2, start=12.0))  # 10 s lost in a stall
    assert after[0] == 12.0  # the first frame after the gap is taken at once
    assert len(after) == len(before) == 10
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert min(gaps) == pytest.approx(0.2)


def test_time_going_back_after_a_reconnect_restarts_the_grid() -> None:
    sampler = Sampler(5)
    taken(sampler, camera(30, 100))
    again = taken(sampler, camera(30, 2))  # stream time restarts from 0
    assert again[0] == 0.0
    assert len(again) == 10


def test_reset_samples_the_next_frame() -> None:
    sampler = Sampler(5)
    assert sampler.sample(0.0)
    assert not sampler.sample(0.05)
    sampler.reset()
    assert sampler.sample(0.06)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_invalid_rate(bad: float) -> None:
    with pytest.raises(ValueError, match="detect_fps"):
        Sampler(bad)
