"""The per-camera tracker on the scripted scenes: one id per object, no swaps, no ghosts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from detektor.objects import scenes
from detektor.objects.model import Detection, Track
from detektor.objects.scenes import Noise, Scene, TruthObject, noisy, person_box, walk
from detektor.objects.tracker import CameraTracker, TrackerConfig, foot_distance

SEEDS = range(5)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def run(scene: Scene, seed: int, noise: Noise | None = None) -> list[list[Track]]:
    tracker = CameraTracker()
    return [tracker.update(f.detections, f.index) for f in noisy(scene, seed, noise)]


def ids_per_truth(scene: Scene, tracks: list[list[Track]]) -> dict[int, set[int]]:
    """Which track ids covered each true object, in the frames where both were seen."""
    found: dict[int, set[int]] = {}
    for index, frame_tracks in enumerate(tracks):
        for truth in scene.visible(index):
            for track in frame_tracks:
                if track.misses == 0 and iou(track.box, truth.box) >= 0.5:
                    found.setdefault(truth.object_id, set()).add(track.track_id)
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_one_person_crossing_keeps_one_id_and_makes_no_other_object(seed: int) -> None:
    scene = scenes.person_crossing()
    tracks = run(scene, seed)
    assert ids_per_truth(scene, tracks) == {1: {1}}
    assert {t.track_id for frame in tracks for t in frame} == {1}
    # Followed for nearly the whole crossing, not just now and then.
    followed = sum(1 for frame in tracks if any(t.misses == 0 for t in frame))
    assert followed >= 0.8 * sum(1 for f in scene.frames if f)


@pytest.mark.parametrize("seed", SEEDS)
def test_two_people_passing_at_different_depths_keep_their_own_ids(seed: int) -> None:
    scene = scenes.two_passing()
    found = ids_per_truth(scene, run(scene, seed))
    assert [len(found[1]), len(found[2])] == [1, 1], found
    assert found[1] != found[2]


def test_two_people_crossing_paths_rarely_swap_ids() -> None:
    """Where their feet meet at the same spot and size, only the filters' velocities tell
    them apart; with 10 % misses that fails in a few runs (ADR 17 has the rate)."""
    scene = scenes.two_crossing()
    kept = 0
    for seed in range(20):
        found = ids_per_truth(scene, run(scene, seed))
        kept += len(found[1]) == 1 and len(found[2]) == 1 and found[1] != found[2]
    assert kept >= 16


@pytest.mark.parametrize("seed", SEEDS)
def test_a_false_hit_never_becomes_a_track(seed: int) -> None:
    tracks = run(scenes.false_hit(), seed)
    assert not any(tracks)


def test_a_one_frame_hit_at_a_high_score_is_still_not_an_object() -> None:
    tracker = CameraTracker()
    hit = Detection("person", 0.95, (100.0, 100.0, 160.0, 250.0))
    assert tracker.update([hit], 0) == []
    assert all(tracker.update([], i) == [] for i in range(1, 30))


def test_a_track_is_confirmed_on_its_third_match() -> None:
    tracker = CameraTracker(TrackerConfig(init_hits=3))
    box = (100.0, 100.0, 160.0, 250.0)
    assert tracker.update([Detection("person", 0.7, box)], 0) == []
    assert tracker.update([Detection("person", 0.7, box)], 1) == []
    (track,) = tracker.update([Detection("person", 0.8, box)], 2)
    assert (track.track_id, track.label, track.hits, track.age, track.misses) == (
        1,
        "person",
        3,
        2,
        0,
    )
    assert track.score == 0.8
    assert track.box == pytest.approx(box, abs=1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_parked_car_and_the_person_who_stops_keep_one_id(seed: int) -> None:
    for scene in (scenes.parked_car(), scenes.stop_and_go()):
        tracks = run(scene, seed)
        assert {t.track_id for frame in tracks for t in frame} == {1}, scene.name
    car = scenes.parked_car()
    boxes = [t.box for frame in run(car, seed) for t in frame]
    # The estimate of a still object stays on it, steadier than the detections themselves.
    truth = car.frames[0][0].box
    jitter = Noise().jitter * (truth[3] - truth[1])
    errors = np.array(boxes[10:]) - truth
    assert float(np.sqrt(np.mean(errors**2))) < jitter
    # A false hit over the car in a frame where the car is missed may pull it, not away.
    assert float(np.max(np.abs(errors))) < 0.2 * (truth[3] - truth[1])


def test_a_missed_frame_coasts_on_the_prediction_and_a_long_gap_ends_the_track() -> None:
    tracker = CameraTracker(TrackerConfig(max_misses=5))
    for i in range(5):
        tracker.update(
            [Detection("person", 0.7, (100.0 + 10 * i, 100.0, 160.0 + 10 * i, 250.0))], i
        )
    (coasting,) = tracker.update([], 5)
    assert (coasting.misses, coasting.hits) == (1, 5)
    assert coasting.box[0] > 140  # still walking right on the prediction
    (skipped,) = tracker.update([], 8)  # frames 6 and 7 skipped by the motion gate
    assert skipped.misses == 4
    assert tracker.update([], 20) == []
    again = [Detection("person", 0.7, (150.0, 100.0, 210.0, 250.0))]
    tracks = [tracker.update(again, i) for i in range(21, 24)]
    assert [t.track_id for t in tracks[-1]] == [2]  # a new object, never the old id reused


def test_frames_must_come_in_order() -> None:
    tracker = CameraTracker()
    tracker.update([], 5)
    with pytest.raises(ValueError, match="not after"):
        tracker.update([], 5)


def test_labels_are_tracked_apart() -> None:
    tracker = CameraTracker()
    box = (100.0, 100.0, 160.0, 250.0)
    for i in range(3):
        tracks = tracker.update([Detection("person", 0.7, box), Detection("dog", 0.7, box)], i)
    assert sorted(t.label for t in tracks) == ["dog", "person"]
    assert len({t.track_id for t in tracks}) == 2


def test_distance_is_the_feet_shift_in_box_heights() -> None:
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    assert foot_distance(box, box)[0, 0] == 0
    moved = box + np.array([20.0, 0.0, 20.0, 0.0])  # a fifth of the height to the side
    assert foot_distance(moved, box)[0, 0] == pytest.approx(0.2)
    taller = np.array([[100.0, 0.0, 140.0, 200.0]])  # same feet, twice the height
    assert foot_distance(taller, box)[0, 0] == 0
    # Near the camera everything is bigger: the same move in heights is the same distance.
    near = box * 3
    assert foot_distance(near + np.array([60.0, 0.0, 60.0, 0.0]), near)[0, 0] == pytest.approx(0.2)
    # One row per detection, one column per track.
    assert foot_distance(np.vstack([box, moved, near]), np.vstack([box, moved])).shape == (3, 2)


def test_detection_from_the_detector_result_dict() -> None:
    item = {"label": "car", "score": 0.8, "box": [1, 2, 3, 4]}
    assert Detection.from_dict(item) == Detection("car", 0.8, (1.0, 2.0, 3.0, 4.0))
    with pytest.raises(ValueError, match="box"):
        Detection.from_dict({"label": "car", "score": 0.8, "box": [1, 2, 3]})
    with pytest.raises(ValueError, match="not a detection"):
        Detection.from_dict({"label": 3, "score": 0.8, "box": [1, 2, 3, 4]})


@pytest.mark.parametrize(
    "config",
    [
        {"init_hits": 0},
        {"init_hits": 5, "max_misses": 4},
        {"distance_threshold": 0.0},
        {"measurement_noise": 0.0},
        {"maneuver_gate": -1.0},
        {"process_noise": -0.001},
        {"maneuver_noise": -0.01},
    ],
)
def test_settings_that_make_no_sense_are_refused(config: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"init_hits|distance_threshold|noise|gate"):
        TrackerConfig(**config)


def test_a_walking_person_s_box_is_steadier_than_the_detections() -> None:
    """The filter averages the jitter away: at 3 % of the height per edge in the detections,
    under half that in the estimate once the track has settled (about 1.3 %)."""
    scene = Scene(
        "walk",
        tuple(
            (TruthObject(1, "person", person_box(f)),) for f in walk((200, 450), (1100, 600), 60)
        ),
    )
    errors = []
    for seed in SEEDS:
        tracker = CameraTracker()
        for frame in noisy(scene, seed):
            truth = scene.visible(frame.index)[0].box
            for track in tracker.update(frame.detections, frame.index):
                if track.misses == 0 and track.age >= 10:
                    errors.append((np.array(track.box) - truth) / (truth[3] - truth[1]))
    assert float(np.sqrt(np.mean(np.square(errors)))) < 0.5 * Noise().jitter


def test_a_person_who_stops_unseen_keeps_the_id() -> None:
    """A brisk walk (0.14 heights a frame) stops while the detector misses three frames: the
    prediction has walked on 0.4 heights, but the last matched box is where the person
    stands, so the next detection still matches, and the filter learns the stop."""
    tracker = CameraTracker()
    stop = person_box((200 + 35 * 15, 560))
    tracks: list[Track] = []
    for i in range(30):
        box = person_box((200 + 35 * min(i, 15), 560))
        tracks = tracker.update([] if i in (15, 16, 17) else [Detection("person", 0.8, box)], i)
        assert [t.track_id for t in tracks] == ([] if i < 2 else [1])
    (track,) = tracks
    # Twelve frames after the stop the box has settled to within 4 % of the height (252 px).
    assert track.box == pytest.approx(stop, abs=10.0)
    assert (track.hits, track.age, track.misses) == (27, 29, 0)


def test_the_crowd_keeps_most_identities() -> None:
    """20 people and cars in one view, crossing and overlapping: the share of each object's
    detected frames in which its own main track covers it (the library's own Kalman filter
    and fixed distance kept 0.90 of them over these seeds; ADR 17 has the IDF1 per scene)."""
    scene = scenes.crowd()
    covered = total = 0
    for seed in range(4):
        tracker = CameraTracker()
        seen: dict[int, Counter[int | None]] = {}
        for frame in noisy(scene, seed):
            tracks = [t for t in tracker.update(frame.detections, frame.index) if t.misses == 0]
            for truth in scene.visible(frame.index):
                if truth.object_id in frame.truth_ids:
                    best = max(tracks, key=lambda t: iou(t.box, truth.box), default=None)
                    hit = best is not None and iou(best.box, truth.box) >= 0.5
                    seen.setdefault(truth.object_id, Counter())[best.track_id if hit else None] += 1
        used: set[int] = set()
        for counts in sorted(seen.values(), key=lambda c: -max(c.values())):
            total += sum(counts.values())
            main = next(
                (t for t, _ in counts.most_common() if t is not None and t not in used), None
            )
            if main is not None:
                used.add(main)
                covered += counts[main]
    assert covered / total > 0.92
