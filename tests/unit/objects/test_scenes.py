"""The scripted scenes say what their docstrings promise, and the noise is what it claims."""

from __future__ import annotations

import numpy as np
import pytest

from detektor.objects import scenes
from detektor.objects.scenes import Noise, noisy


def test_noisy_detections_are_reproducible_and_depend_on_the_seed() -> None:
    scene = scenes.two_crossing()
    assert noisy(scene, seed=3) == noisy(scene, seed=3)
    assert noisy(scene, seed=3) != noisy(scene, seed=4)


def test_one_person_crosses_the_whole_view_and_grows_toward_the_camera() -> None:
    scene = scenes.person_crossing()
    present = [f for f in scene.frames if f]
    assert all(len(f) == 1 and f[0].object_id == 1 and f[0].visible for f in present)
    # Walks in and out at the edges: absent at the very start and end, present in between.
    assert not scene.frames[0]
    assert not scene.frames[-1]
    assert len(present) >= 50
    heights = [f[0].box[3] - f[0].box[1] for f in present]
    assert heights[-1] > 1.3 * heights[0]


@pytest.mark.parametrize("scene", [scenes.two_passing(), scenes.two_crossing()])
def test_of_two_people_the_farther_is_hidden_only_briefly(scene: scenes.Scene) -> None:
    hidden = [i for i, f in enumerate(scene.frames) for o in f if not o.visible]
    assert 1 <= len(hidden) <= 5
    for i in hidden:
        (back,) = (o for o in scene.frames[i] if not o.visible)
        (front,) = (o for o in scene.frames[i] if o.visible)
        assert back.box[3] < front.box[3]  # the hidden one's feet are higher: farther away
    # Both are in view, visible, before and after the crossing.
    both = [i for i, f in enumerate(scene.frames) if len(scene.visible(i)) == 2]
    assert min(both) < min(hidden)
    assert max(both) > max(hidden)


def test_crossing_people_meet_at_one_spot_with_one_size() -> None:
    scene = scenes.two_crossing()
    gaps = [
        abs(f[0].box[3] - f[1].box[3]) + abs(f[0].box[0] - f[1].box[0])
        for f in scene.frames
        if len(f) == 2
    ]
    assert min(gaps) < 25  # pixels: a tenth of their height


def test_the_parked_car_never_moves_and_the_stop_lasts_30_seconds() -> None:
    car = scenes.parked_car()
    assert {f[0].box for f in car.frames} == {car.frames[0][0].box}
    assert len(car.frames) / car.fps == 60
    stop = scenes.stop_and_go()
    boxes = [f[0].box for f in stop.frames if f]
    longest = max(sum(1 for b in boxes if b == box) for box in set(boxes))
    assert longest / stop.fps == pytest.approx(30, abs=0.5)


def test_the_false_hit_is_one_detection_in_one_frame_of_an_empty_view() -> None:
    frames = noisy(scenes.false_hit(), noise=Noise(miss=0, false_hit=0))
    found = [(f.index, d) for f in frames for d in f.detections]
    assert len(found) == 1
    index, detection = found[0]
    assert (index, detection.label, detection.score) == (20, "person", 0.45)
    assert all(not f for f in scenes.false_hit().frames)


def test_the_crowd_has_twenty_objects_in_view_at_once() -> None:
    scene = scenes.crowd()
    ids = {o.object_id for f in scene.frames for o in f}
    assert len(ids) == 20
    assert all(len(f) == 20 for f in scene.frames)
    assert {o.label for o in scene.frames[0]} == {"person", "car"}


def test_the_noise_misses_jitters_and_adds_false_hits_at_the_stated_rates() -> None:
    scene = scenes.crowd()
    frames = noisy(scene, seed=1)
    visible = sum(len(scene.visible(i)) for i in range(len(scene.frames)))
    true = [
        (f.index, d, t) for f in frames for d, t in zip(f.detections, f.truth_ids, strict=True) if t
    ]
    false = [d for f in frames for d, t in zip(f.detections, f.truth_ids, strict=True) if t is None]
    assert 1 - len(true) / visible == pytest.approx(0.10, abs=0.015)
    assert len(false) / visible == pytest.approx(0.05, abs=0.01)
    assert all(0.6 <= d.score <= 0.9 for _, d, _ in true)
    assert all(0.3 <= d.score <= 0.5 for d in false)
    # Jitter: each edge moves by about 3 % of the box height, never by a whole box.
    errors = []
    for index, detection, truth_id in true:
        truth = next(o for o in scene.frames[index] if o.object_id == truth_id)
        height = truth.box[3] - truth.box[1]
        errors.extend((np.array(detection.box) - np.array(truth.box)) / height)
    assert float(np.std(errors)) == pytest.approx(0.03, rel=0.1)
    assert max(abs(e) for e in errors) < 0.2


def test_detections_come_in_no_particular_order() -> None:
    frames = noisy(scenes.crowd(), seed=2)
    orders = {tuple(t for t in f.truth_ids if t is not None) for f in frames}
    assert len(orders) > 100
