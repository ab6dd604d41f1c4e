"""The motion gate on real imagery: the synthetic scene's astronaut, gravel and drifting light."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import ValidationError

from detektor.services.capture.motion import MotionGate
from detektor.services.capture.settings import CameraSettings, MotionSettings
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene

W, H = 640, 480
Image = NDArray[np.uint8]


def scene(kind: str, fps: float = 5.0, seed: int = 1) -> SyntheticScene:
    return SyntheticScene(SceneSpec(fps=fps, width=W, height=H, scene=kind, seed=seed))  # type: ignore[arg-type]


def with_box(image: Image, x: int, y: int, size: int = 60) -> Image:
    """The image with a dark square at (x, y): an object that moves between frames."""
    out = image.copy()
    out[y : y + size, x : x + size] = 20
    return out


QUADRANT = [(0.0, 0.0), (W / 2, 0.0), (W / 2, H / 2), (0.0, H / 2)]


def test_first_frame_counts_as_moving_then_a_static_scene_does_not() -> None:
    gate = MotionGate(MotionSettings(warmup_frames=1), [], (W, H))
    frames = [scene("static").render(i) for i in range(20)]
    first = gate.check(frames[0])
    assert first.moving
    assert first.reason is None
    results = [gate.check(frame) for frame in frames[1:]]
    assert all(not r.moving and r.reason == "no_motion" for r in results)
    assert all(r.changed_ratio == 0.0 for r in results)


def test_the_first_warmup_frames_are_checked_even_when_nothing_moves() -> None:
    """A parked car in view when the camera starts must reach the detector: the first
    frames after a start (or a reset, as after a reconnect) count as moving."""
    gate = MotionGate(MotionSettings(warmup_frames=5), [], (W, H))
    frames = [scene("static").render(i) for i in range(12)]
    assert [gate.check(f).moving for f in frames] == [True] * 5 + [False] * 7
    gate.reset()
    assert [gate.check(f).moving for f in frames[:6]] == [True] * 5 + [False]


def test_the_walking_astronaut_is_motion() -> None:
    gate = MotionGate(MotionSettings(warmup_frames=1), [], (W, H))
    person = scene("person")
    results = [gate.check(person.render(i)) for i in range(50)]  # 10 s at detect_fps 5
    assert all(r.moving for r in results)
    assert min(r.changed_ratio for r in results[1:]) > 0.01
    assert max(r.changed_ratio for r in results) <= 1.0


def test_the_drifting_light_of_the_empty_scene_is_not_motion() -> None:
    gate = MotionGate(MotionSettings(warmup_frames=1), [], (W, H))
    empty = scene("empty")
    results = [gate.check(empty.render(i)) for i in range(300)]  # a minute at detect_fps 5
    assert all(not r.moving for r in results[1:])
    assert {r.reason for r in results[1:]} == {"no_motion"}


def test_motion_only_inside_a_mask_is_masked() -> None:
    base = scene("static").render(0)
    gate = MotionGate(MotionSettings(warmup_frames=1), [QUADRANT], (W, H))
    gate.check(base)
    results = [gate.check(with_box(base, 40 + 20 * i, 60)) for i in range(8)]
    assert all(not r.moving and r.reason == "masked" for r in results)
    assert all(r.changed_ratio == 0.0 for r in results)


def test_the_same_motion_without_the_mask_is_moving() -> None:
    base = scene("static").render(0)
    gate = MotionGate(MotionSettings(warmup_frames=1), [], (W, H))
    gate.check(base)
    results = [gate.check(with_box(base, 40 + 20 * i, 60)) for i in range(8)]
    assert all(r.moving for r in results)


def test_motion_outside_the_mask_still_counts() -> None:
    base = scene("static").render(0)
    gate = MotionGate(MotionSettings(warmup_frames=1), [QUADRANT], (W, H))
    gate.check(base)
    assert gate.check(with_box(base, 400, 300)).moving


def test_masks_scale_from_source_pixels_to_the_check() -> None:
    """A 1920x1080 camera: the mask of the left half hides motion there, not on the right."""
    left = [(0.0, 0.0), (960.0, 0.0), (960.0, 1080.0), (0.0, 1080.0)]
    big = SyntheticScene(SceneSpec(width=1920, height=1080, scene="static")).render(0)
    gate = MotionGate(MotionSettings(warmup_frames=1), [left], (1920, 1080))
    gate.check(big)
    assert gate.check(with_box(big, 300, 400, size=200)).reason == "masked"
    gate.check(big)
    right = gate.check(with_box(big, 1400, 400, size=200))
    assert right.moving
    assert right.changed_ratio == pytest.approx(2 * 200 * 200 / (1920 * 1080), rel=0.5)


def test_everything_masked_is_never_moving() -> None:
    whole = [(0.0, 0.0), (float(W), 0.0), (float(W), float(H)), (0.0, float(H))]
    gate = MotionGate(MotionSettings(warmup_frames=1), [whole], (W, H))
    person = scene("person")
    gate.check(person.render(0))
    result = gate.check(person.render(1))
    assert (result.moving, result.reason, result.changed_ratio) == (False, "masked", 0.0)


def test_small_changes_below_min_area_are_no_motion() -> None:
    base = scene("static").render(0)
    gate = MotionGate(MotionSettings(min_area=0.05, warmup_frames=1), [], (W, H))
    gate.check(base)
    result = gate.check(with_box(base, 100, 100, size=40))  # about 0.5% of the frame
    assert not result.moving
    assert result.reason == "no_motion"
    assert 0 < result.changed_ratio < 0.05


def test_disabled_gate_lets_everything_through() -> None:
    gate = MotionGate(MotionSettings(enabled=False), [], (W, H))
    frame = scene("static").render(0)
    assert all(gate.check(frame).moving for _ in range(3))


def test_grey_frames_and_a_size_change_restart_the_background() -> None:
    gate = MotionGate(MotionSettings(warmup_frames=1), [], (W, H))
    frame = scene("static").render(0)
    grey = frame[:, :, 1].copy()
    assert gate.check(grey).moving  # first frame
    assert not gate.check(grey).moving
    smaller = np.ascontiguousarray(frame[::2, ::2])
    assert gate.check(smaller).moving  # a new size: nothing known yet
    assert not gate.check(smaller).moving
    gate.reset()
    assert gate.check(smaller).moving


def test_the_background_follows_a_scene_that_stays_changed() -> None:
    base = scene("static").render(0)
    gate = MotionGate(MotionSettings(background_alpha=0.5, warmup_frames=1), [], (W, H))
    gate.check(base)
    parked = with_box(base, 200, 200, size=120)  # a car parks and stays
    results = [gate.check(parked) for _ in range(10)]
    assert results[0].moving
    assert not results[-1].moving


@pytest.mark.parametrize(
    "masks", [[[(0, 0), (10, 10)]], [[]], [[(0, 0), (1, 1), (2, 2)], [(5, 5)]]]
)
def test_invalid_masks_are_rejected_by_camera_settings(masks: list[list[tuple[int, int]]]) -> None:
    with pytest.raises(ValidationError, match="needs at least 3 points"):
        CameraSettings(name="front", source="synthetic://", masks=masks)


def test_gate_rejects_masks_without_a_frame_size() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        MotionGate(MotionSettings(warmup_frames=1), [[(0.0, 0.0), (1.0, 1.0)]], (W, H))
    with pytest.raises(ValueError, match="frame_size"):
        MotionGate(MotionSettings(warmup_frames=1), [QUADRANT])
