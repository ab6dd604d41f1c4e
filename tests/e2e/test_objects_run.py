"""Tracked objects end to end: ``detektor run`` with the real detector on scripted scenes.

Each test runs the CLI as a user would, on a synthetic camera that plays one scripted scene
of real photos (``services/capture/scripted.py``), with Home Assistant messages going to the
real Mosquitto under a topic root of the test's own. It then reads the object events from
the run's SQLite store and the messages a subscriber saw. The bundled NanoDet model finds
the people and the motorcycle; the tracker and the lifecycle must turn them into the right
objects, and Home Assistant must hear of objects, not frames.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from detektor.adapters.objectkit import object_event
from detektor.adapters.stores import open_event_store
from detektor.domain.object_events import ChangeKind, ObjectEvent, ObjectEventType, ObjectState
from support.embedded_run import run_to_end
from support.mqtt import Message, Subscriber, clear_retained
from support.services import require_port

SOURCE = "synthetic://?fps=5&size=640x480&scene={scene}&stop=8"
CONFIG = """\
cameras:
  - name: yard
    source: "{source}"
objects:
  stationary_after_s: 3
notifier:
  discovery_prefix: {root}/homeassistant
  state_prefix: {root}/detektor
  labels: [person, motorcycle]
"""


@dataclass
class Run:
    events: list[ObjectEvent]  # as stored, in order
    messages: list[Message]  # every MQTT message under the test's root
    root: str

    def published(self) -> list[dict[str, Any]]:
        """The object event messages on the camera's events topic."""
        topic = f"{self.root}/detektor/yard/events"
        return [json.loads(m.payload) for m in self.messages if m.topic == topic]


@pytest.fixture
def mqtt_root() -> Iterator[str]:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    yield root
    clear_retained(1883, root)


def run_scene(tmp_path: Path, root: str, scene: str, duration: float) -> Run:
    """Run the scene through ``detektor run``; what it stored and what it published."""
    config = tmp_path / "detektor.yml"
    config.write_text(CONFIG.format(source=SOURCE.format(scene=scene), root=root))
    subscriber = Subscriber(1883, f"{root}/#")
    done = run_to_end(tmp_path, config, duration, DETEKTOR_MQTT_URL="mqtt://127.0.0.1:1883")
    time.sleep(0.5)  # the last acknowledged messages reach the subscriber too
    subscriber.close()
    assert done.returncode == 0, done.stderr[-3000:]
    store = open_event_store(f"sqlite:///{tmp_path / 'detektor-data' / 'detektor.db'}")
    try:
        log = store.read_log(0, 100_000)
    finally:
        store.close()
    return Run([object_event(e) for _, e in log if e.is_object_event], subscriber.seen(), root)


def kinds(event: ObjectEvent) -> set[ChangeKind]:
    return {c.kind for c in event.changes}


def test_one_person_crossing_is_one_object_started_and_ended(
    tmp_path: Path, mqtt_root: str
) -> None:
    run = run_scene(tmp_path, mqtt_root, "crossing", duration=13)
    events = run.events
    assert {e.object_id for e in events} == {events[0].object_id}, events
    types = [e.type for e in events]
    assert types[0] is ObjectEventType.STARTED
    assert types[-1] is ObjectEventType.ENDED
    assert types.count(ObjectEventType.STARTED) == types.count(ObjectEventType.ENDED) == 1
    assert events[0].label == "person"
    # Ended by the lifecycle when she left the view, not by the run stopping: the end
    # comes max_disappeared_s after her last sighting, well before the run's end.
    end = events[-1]
    assert (end.at - end.last_seen).total_seconds() == pytest.approx(2.0, abs=0.5)
    # Home Assistant heard of one object, in a handful of messages, not one per frame.
    published = run.published()
    assert 2 <= len(published) <= 5, [m["type"] for m in published]
    assert published[0]["type"] == "new"
    assert published[0]["before"] is None
    assert published[-1]["type"] == "end"
    assert {m["after"]["id"] for m in published} == {events[0].object_id}
    assert published[0]["after"]["snapshot_url"] is None  # no notifier.snapshot_base_url
    image = f"{mqtt_root}/detektor/yard/image"
    assert any(m.topic == image and m.raw[:2] == b"\xff\xd8" for m in run.messages), sorted(
        {m.topic for m in run.messages}
    )


def test_two_people_crossing_paths_are_two_objects_without_a_swap(
    tmp_path: Path, mqtt_root: str
) -> None:
    events = run_scene(tmp_path, mqtt_root, "two_crossing", duration=13).events
    started = [e for e in events if e.type is ObjectEventType.STARTED]
    assert len(started) == 2, [(e.type, e.object_id) for e in events]
    # The astronaut walks near the camera (feet low in the view) to the right, the cameraman
    # far away (feet higher) to the left. No swap: each object keeps its own depth and
    # direction from start to end.
    for oid in {e.object_id for e in started}:
        mine = [e for e in events if e.object_id == oid and e.type is not ObjectEventType.ENDED]
        feet = [e.box[3] for e in mine]
        xs = [(e.box[0] + e.box[2]) / 2 for e in mine]
        assert max(feet) - min(feet) < 60, (oid, feet)
        last = [e for e in events if e.object_id == oid][-1]
        assert last.type is ObjectEventType.ENDED
        moved = (last.box[0] + last.box[2]) / 2 - xs[0]
        assert abs(moved) > 150, (oid, xs[0], last.box)
    near, far = sorted(started, key=lambda e: -e.box[3])
    near_end = [e for e in events if e.object_id == near.object_id][-1]
    far_end = [e for e in events if e.object_id == far.object_id][-1]
    assert near_end.box[0] > near.box[0]  # the near one went right
    assert far_end.box[0] < far.box[0]  # the far one went left


def test_a_parked_motorcycle_starts_once_then_is_stationary_and_never_repeats(
    tmp_path: Path, mqtt_root: str
) -> None:
    run = run_scene(tmp_path, mqtt_root, "parked", duration=14)
    events = run.events
    assert events, "the motorcycle was never an object"
    assert {e.object_id for e in events} == {events[0].object_id}
    assert events[0].type is ObjectEventType.STARTED
    assert events[0].label == "motorcycle"
    stationary = [e for e in events if ChangeKind.STATIONARY in kinds(e)]
    assert len(stationary) == 1
    assert stationary[0].state is ObjectState.STATIONARY
    # After it became stationary, only the end at shutdown.
    after = events[events.index(stationary[0]) + 1 :]
    assert [e.type for e in after] == [ObjectEventType.ENDED]
    assert [m["type"] for m in run.published()] == ["new", "update", "end"]
    counts = f"{mqtt_root}/detektor/yard/motorcycle/stationary"
    assert "1" in [m.payload for m in run.messages if m.topic == counts]


def test_a_one_frame_false_hit_makes_no_object_and_publishes_nothing(
    tmp_path: Path, mqtt_root: str
) -> None:
    run = run_scene(tmp_path, mqtt_root, "flash", duration=6)
    assert run.events == []
    assert run.published() == []
    assert any(m.topic.endswith("/availability") for m in run.messages)  # it did connect


def test_stop_and_go_is_one_object_that_goes_stationary_and_active_again(
    tmp_path: Path, mqtt_root: str
) -> None:
    run = run_scene(tmp_path, mqtt_root, "stop_and_go", duration=20)
    events = run.events
    assert {e.object_id for e in events} == {events[0].object_id}, events
    changes = [
        k for e in events for k in kinds(e) if k in (ChangeKind.STATIONARY, ChangeKind.ACTIVE)
    ]
    assert changes == [ChangeKind.STATIONARY, ChangeKind.ACTIVE]
    assert [e.type for e in events].count(ObjectEventType.STARTED) == 1
    assert events[-1].type is ObjectEventType.ENDED
    types = [m["type"] for m in run.published()]
    assert types.count("new") == 1
    assert types[-1] == "end"
