"""Home Assistant discovery payloads: topics, required keys, unique ids, device block."""

from __future__ import annotations

import json

from detektor.services.notifier.discovery import Topics, discovery_configs, slug

TOPICS = Topics("homeassistant", "detektor")
REQUIRED = {
    "binary_sensor": {"name", "unique_id", "state_topic", "device", "availability", "device_class"},
    "sensor": {"name", "unique_id", "state_topic", "device", "availability"},
}


def configs(camera: str = "front-door", labels: tuple[str, ...] = ("person", "car")) -> list:
    return discovery_configs(camera, list(labels), TOPICS, "1.2.3", 1)


def test_one_entity_per_label_and_count_plus_timestamp_and_camera() -> None:
    topics = [topic for topic, _ in configs()]
    assert topics == [
        "homeassistant/binary_sensor/detektor_front-door/person/config",
        "homeassistant/sensor/detektor_front-door/person_count/config",
        "homeassistant/binary_sensor/detektor_front-door/car/config",
        "homeassistant/sensor/detektor_front-door/car_count/config",
        "homeassistant/sensor/detektor_front-door/last_detection/config",
        "homeassistant/binary_sensor/detektor_front-door/camera/config",
    ]


def test_payloads_have_the_required_keys_and_valid_json() -> None:
    for topic, payload in configs():
        component = topic.split("/")[1]
        assert REQUIRED[component] <= payload.keys(), topic
        assert json.loads(json.dumps(payload)) == payload
        assert payload["availability"] == [
            {
                "topic": "detektor/availability",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ]
        assert payload["state_topic"].startswith("detektor/front-door/")


def test_one_device_per_camera_and_unique_ids_everywhere() -> None:
    front, back = configs("front-door"), configs("back-yard")
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
    by_id = {p["unique_id"]: p for _, p in configs()}
    person = by_id["detektor_front-door_person"]
    assert person["device_class"] == "occupancy"
    assert person["state_topic"] == "detektor/front-door/person"
    assert (person["payload_on"], person["payload_off"]) == ("ON", "OFF")
    count = by_id["detektor_front-door_person_count"]
    assert count["state_topic"] == "detektor/front-door/person/count"
    assert count["state_class"] == "measurement"
    stamp = by_id["detektor_front-door_last_detection"]
    assert stamp["device_class"] == "timestamp"
    camera = by_id["detektor_front-door_camera"]
    assert camera["device_class"] == "connectivity"
    assert camera["state_topic"] == "detektor/front-door/connected"


def test_labels_with_spaces_become_slugs() -> None:
    assert slug("traffic light") == "traffic_light"
    topics = [topic for topic, _ in configs(labels=("traffic light",))]
    assert "homeassistant/binary_sensor/detektor_front-door/traffic_light/config" in topics
    assert TOPICS.occupancy("cam", "Traffic Light") == "detektor/cam/traffic_light"
