"""Home Assistant discovery payloads: topics, required keys, unique ids, device block, and the
rules HA's MQTT discovery applies (node and object ids of ``[a-zA-Z0-9_-]``, image entities
with ``image_topic`` and ``content_type``)."""

from __future__ import annotations

import json
import re
from typing import Any

from detektor.services.notifier.discovery import Entities, Topics, slug

TOPICS = Topics("homeassistant", "detektor")
REQUIRED = {
    "binary_sensor": {"name", "unique_id", "state_topic", "device", "availability", "device_class"},
    "sensor": {"name", "unique_id", "state_topic", "device", "availability"},
    "image": {"name", "unique_id", "image_topic", "content_type", "device", "availability"},
}
# Home Assistant's own discovery topic pattern (homeassistant/components/mqtt/discovery.py).
HA_TOPIC = re.compile(
    r"homeassistant/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)"
    r"?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)


def entities(camera: str = "front-door") -> Entities:
    return Entities(camera, TOPICS, "1.2.3", 1)


def configs(
    camera: str = "front-door",
    labels: tuple[str, ...] = ("person", "car"),
    images: bool = True,
    zones: tuple[str, ...] = (),
) -> list[tuple[str, dict[str, Any]]]:
    found = entities(camera).device(list(labels), images)
    for zone in zones:
        found += entities(camera).zone(zone, list(labels))
    return found


def test_per_label_occupancy_counts_and_snapshot_then_the_camera_entities() -> None:
    topics = [topic.removeprefix("homeassistant/") for topic, _ in configs(labels=("person",))]
    assert topics == [
        "binary_sensor/detektor_front-door/person/config",
        "sensor/detektor_front-door/person_count/config",
        "sensor/detektor_front-door/person_stationary_count/config",
        "image/detektor_front-door/person_snapshot/config",
        "sensor/detektor_front-door/last_detection/config",
        "binary_sensor/detektor_front-door/camera/config",
        "image/detektor_front-door/latest/config",
    ]


def test_without_a_snapshot_source_there_are_no_image_entities() -> None:
    components = {topic.split("/")[1] for topic, _ in configs(images=False)}
    assert components == {"binary_sensor", "sensor"}


def test_payloads_have_the_required_keys_valid_json_and_ha_topics() -> None:
    for topic, payload in configs(zones=("porch", "drive_way")):
        match = HA_TOPIC.fullmatch(topic)
        assert match is not None, topic
        component = match["component"]
        assert REQUIRED[component] <= payload.keys(), topic
        assert json.loads(json.dumps(payload)) == payload
        assert payload["unique_id"] == f"{match['node_id']}_{match['object_id']}"
        assert payload["availability"] == [
            {
                "topic": "detektor/availability",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ]
        state = payload.get("state_topic") or payload["image_topic"]
        assert state.startswith("detektor/front-door/")
        assert "+" not in state
        assert "#" not in state


def test_one_device_per_camera_and_unique_ids_everywhere() -> None:
    front = configs("front-door", zones=("porch",))
    back = configs("back-yard", zones=("porch",))
    for camera, entries in (("front-door", front), ("back-yard", back)):
        devices = {json.dumps(p["device"], sort_keys=True) for _, p in entries}
        assert len(devices) == 1
        device = entries[0][1]["device"]
        assert device["identifiers"] == [f"detektor_{camera}"]
        assert device["name"] == f"Detektor {camera}"
        assert {"manufacturer", "model", "sw_version"} <= device.keys()
    ids = [p["unique_id"] for _, p in front + back]
    assert len(ids) == len(set(ids))


def test_device_classes_and_state_topics() -> None:
    by_id = {p["unique_id"]: p for _, p in configs(zones=("porch",))}
    person = by_id["detektor_front-door_person"]
    assert person["device_class"] == "occupancy"
    assert person["state_topic"] == "detektor/front-door/person"
    assert (person["payload_on"], person["payload_off"]) == ("ON", "OFF")
    count = by_id["detektor_front-door_person_count"]
    assert count["state_topic"] == "detektor/front-door/person/count"
    assert count["state_class"] == "measurement"
    still = by_id["detektor_front-door_person_stationary_count"]
    assert still["state_topic"] == "detektor/front-door/person/stationary"
    assert still["name"] == "Person stationary count"
    stamp = by_id["detektor_front-door_last_detection"]
    assert stamp["device_class"] == "timestamp"
    camera = by_id["detektor_front-door_camera"]
    assert camera["device_class"] == "connectivity"
    assert camera["state_topic"] == "detektor/front-door/connected"
    porch = by_id["detektor_front-door_zone_porch_person"]
    assert (
        porch["name"] == "Porch person"
    )  # entity id binary_sensor.detektor_front_door_porch_person
    assert porch["device_class"] == "occupancy"
    assert porch["state_topic"] == "detektor/front-door/zones/porch/person"
    porch_count = by_id["detektor_front-door_zone_porch_person_count"]
    assert porch_count["state_topic"] == "detektor/front-door/zones/porch/person/count"
    porch_still = by_id["detektor_front-door_zone_porch_person_stationary_count"]
    assert porch_still["state_topic"] == "detektor/front-door/zones/porch/person/stationary"


def test_image_entities_follow_ha_mqtt_image_rules() -> None:
    by_id = {p["unique_id"]: p for _, p in configs()}
    latest = by_id["detektor_front-door_latest"]
    assert latest["image_topic"] == "detektor/front-door/image"
    assert latest["content_type"] == "image/jpeg"
    assert "url_topic" not in latest  # image_topic and url_topic are exclusive
    assert "image_encoding" not in latest  # raw JPEG bytes, not base64
    snapshot = by_id["detektor_front-door_person_snapshot"]
    assert snapshot["image_topic"] == "detektor/front-door/person/snapshot"
    assert snapshot["name"] == "Person snapshot"


def test_labels_with_spaces_become_slugs() -> None:
    assert slug("traffic light") == "traffic_light"
    topics = [topic for topic, _ in configs(labels=("traffic light",))]
    assert "homeassistant/binary_sensor/detektor_front-door/traffic_light/config" in topics
    assert TOPICS.occupancy("cam", "Traffic Light") == "detektor/cam/traffic_light"
    assert TOPICS.count("cam", "person", "porch") == "detektor/cam/zones/porch/person/count"
    assert TOPICS.all_events == "detektor/events"
    assert TOPICS.events("cam") == "detektor/cam/events"
