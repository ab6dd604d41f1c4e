"""Properties of the object lifecycle over any sequence of tracked boxes: every started object
ends exactly once after the input stops, its events come in order, and a track that could
never be confirmed emits nothing."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from detektor.domain.frames import FrameId
from detektor.domain.object_events import ObjectEvent, ObjectEventType, ObjectState
from detektor.domain.object_projection import count_objects, fold_objects
from detektor.domain.object_settings import ObjectSettings
from detektor.domain.object_track import TrackedBox
from detektor.domain.objects import ObjectLifecycle
from detektor.domain.zones import Zone

from .object_scenes import CAMERA, SIZE, T0, T0_MS

SETTINGS = ObjectSettings(
    stationary_after_s=0.5, snapshot_interval_s=0.5
)  # short, so runs reach stationary often
ZONES = [Zone("left", ((0, 0), (320, 0), (320, 480), (0, 480)), inertia=2, loitering_s=0.5)]


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[int, list[TrackedBox]]]:
    """Frames of a few tracks: each frame, the gap since the last one (ms) and some tracks'
    boxes, each where the track stands, a pixel off, or moved away, so that runs confirm,
    stand still, move again, cross the zone's border and vanish."""
    bases = []
    for _ in range(draw(st.integers(1, 5))):
        # Feet between x 200 and 360 and moves of 40 or 80 px: often across the zone's border.
        x, y = draw(st.integers(160, 320)), draw(st.integers(0, 400))
        bases.append((x, y, draw(st.sampled_from(["person", "car"]))))
    sighting = st.tuples(
        st.integers(0, len(bases) - 1),
        st.sampled_from([0, 0, 0, 1, 40, 80]),
        st.one_of(st.floats(0.6, 1.0), st.floats(0.0, 1.0)),
    )
    gap = st.one_of(st.just(100), st.integers(0, 3000))
    script = []
    for gap_ms, seen in draw(
        st.lists(st.tuples(gap, st.lists(sighting, max_size=4)), min_size=1, max_size=80)
    ):
        boxes = []
        for index, shift, score in seen:
            x, y, label = bases[index]
            x += shift
            boxes.append(TrackedBox(index + 1, label, (x, y, x + 80, y + 80), score))
        script.append((gap_ms, boxes))
    return script


def _run(script: list[tuple[int, list[TrackedBox]]]) -> tuple[ObjectLifecycle, list[ObjectEvent]]:
    lifecycle = ObjectLifecycle(CAMERA, SETTINGS, ZONES)
    events: list[ObjectEvent] = []
    ms = 0
    seq = 0
    for gap, boxes in script:
        ms += gap
        step = lifecycle.observe(
            FrameId.make(CAMERA, T0_MS + ms, seq), T0 + timedelta(milliseconds=ms), boxes, SIZE
        )
        events.extend(step.events)
        seq += 1
    # The input stops: empty frames until every object must be gone.
    quiet = max(SETTINGS.max_disappeared_s, SETTINGS.stationary_max_disappeared_s) + 1
    for _ in range(int(quiet)):
        ms += 1000
        step = lifecycle.observe(
            FrameId.make(CAMERA, T0_MS + ms, seq), T0 + timedelta(milliseconds=ms), [], SIZE
        )
        events.extend(step.events)
        seq += 1
    return lifecycle, events


@settings(max_examples=300)
@given(scripts())
def test_every_started_object_ends_exactly_once(script: list[tuple[int, list[TrackedBox]]]) -> None:
    lifecycle, events = _run(script)
    by_object: dict[str, list[ObjectEvent]] = defaultdict(list)
    for e in events:
        by_object[e.object_id].append(e)
    for own in by_object.values():
        types = [e.type for e in own]
        assert types[0] is ObjectEventType.STARTED
        assert types[-1] is ObjectEventType.ENDED
        assert Counter(types)[ObjectEventType.STARTED] == 1
        assert Counter(types)[ObjectEventType.ENDED] == 1
        assert all(e.changes for e in own if e.type is ObjectEventType.UPDATED)
        assert [e.at for e in own] == sorted(e.at for e in own)
        assert len({(e.track_id, e.label) for e in own}) == 1
    assert lifecycle.objects() == ()
    assert lifecycle.tentative == 0
    assert all(v.state is ObjectState.ENDED for v in fold_objects(events).values())
    assert count_objects(lifecycle.objects()).by_label == {}
    # --hypothesis-show-statistics lists how often each kind of change was exercised.
    event(f"objects: {min(len(by_object), 3)}")
    for kind in {c.kind for e in events for c in e.changes}:
        event(f"change: {kind.value}")


def _could_confirm(scores: list[float]) -> bool:
    """Whether some run of a track's sightings could confirm it: a window of its last 3, 4 or
    5 scores (min_hits up to score_window) with a median at the threshold. A track that
    vanished and came back starts over with fewer hits, so this is all it can ever reach."""
    threshold = SETTINGS.default.threshold
    windows = range(SETTINGS.min_hits, SETTINGS.score_window + 1)
    return any(
        statistics.median(scores[end - w : end]) >= threshold
        for end in range(1, len(scores) + 1)
        for w in windows
        if w <= end
    )


@settings(max_examples=300)
@given(scripts())
def test_a_track_that_could_never_confirm_emits_nothing(
    script: list[tuple[int, list[TrackedBox]]],
) -> None:
    _, events = _run(script)
    scores: dict[int, list[float]] = defaultdict(list)
    for _, boxes in script:
        best: dict[int, float] = {}
        for b in boxes:  # a track twice in a frame counts once, with its best score
            best[b.track_id] = max(best.get(b.track_id, 0.0), b.score)
        for track_id, score in best.items():
            scores[track_id].append(score)
    never = {t for t, seq in scores.items() if not _could_confirm(seq)}
    event(f"tracks that never confirm: {min(len(never), 2)}")
    assert not [e for e in events if e.track_id in never]
