"""MQTT topics and Home Assistant discovery payloads: one HA device per camera.

Topics (``<state>`` is ``notifier.state_prefix``, ``<label>`` the label's slug)::

    <state>/availability                 online | offline  (retained; the LWT)
    <state>/<camera>/<label>             ON | OFF          (retained; occupancy)
    <state>/<camera>/<label>/count       integer           (retained)
    <state>/<camera>/last_detection      ISO 8601          (retained)
    <state>/<camera>/last_detection/attributes  JSON       (retained)
    <state>/<camera>/connected           ON | OFF          (retained; frames arriving)
    <state>/<camera>/events              JSON per detection (not retained)

Discovery configs go to ``<discovery>/<component>/detektor_<camera>/<object>/config``,
retained. Entity names are chosen so HA derives predictable entity ids from the device
name ``Detektor <camera>``: ``binary_sensor.detektor_front_door_person``,
``sensor.detektor_front_door_person_count``, ``sensor.detektor_front_door_last_detection``
and ``binary_sensor.detektor_front_door_camera``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
RESERVED = frozenset({"events", "connected", "last_detection", "availability"})
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(label: str) -> str:
    """The label as a topic segment and object id: ``traffic light`` -> ``traffic_light``."""
    return _NOT_SLUG.sub("_", label.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Topics:
    discovery_prefix: str
    state_prefix: str

    @property
    def availability(self) -> str:
        return f"{self.state_prefix}/availability"

    def occupancy(self, camera: str, label: str) -> str:
        return f"{self.state_prefix}/{camera}/{slug(label)}"

    def count(self, camera: str, label: str) -> str:
        return f"{self.occupancy(camera, label)}/count"

    def last_detection(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/last_detection"

    def last_detection_attributes(self, camera: str) -> str:
        return f"{self.last_detection(camera)}/attributes"

    def connected(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/connected"

    def events(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/events"

    def config(self, component: str, camera: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{node_id(camera)}/{object_id}/config"


def node_id(camera: str) -> str:
    return f"detektor_{camera}"


def device_block(camera: str, version: str) -> dict[str, Any]:
    return {
        "identifiers": [node_id(camera)],
        "name": f"Detektor {camera}",
        "manufacturer": "Detektor",
        "model": "Camera",
        "sw_version": version,
    }


def discovery_configs(
    camera: str, labels: Sequence[str], topics: Topics, version: str, qos: int
) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for every entity of one camera."""
    common = {
        "availability": [
            {
                "topic": topics.availability,
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
            }
        ],
        "device": device_block(camera, version),
        "origin": {"name": "Detektor", "sw_version": version},
        "qos": qos,
    }
    configs: list[tuple[str, dict[str, Any]]] = []

    def add(component: str, object_id: str, payload: dict[str, Any]) -> None:
        payload = {**payload, "unique_id": f"{node_id(camera)}_{object_id}", **common}
        configs.append((topics.config(component, camera, object_id), payload))

    for label in labels:
        s = slug(label)
        add(
            "binary_sensor",
            s,
            {
                "name": label.capitalize(),
                "device_class": "occupancy",
                "state_topic": topics.occupancy(camera, label),
                "payload_on": ON,
                "payload_off": OFF,
            },
        )
        add(
            "sensor",
            f"{s}_count",
            {
                "name": f"{label.capitalize()} count",
                "state_topic": topics.count(camera, label),
                "state_class": "measurement",
                "icon": "mdi:counter",
            },
        )
    add(
        "sensor",
        "last_detection",
        {
            "name": "Last detection",
            "device_class": "timestamp",
            "state_topic": topics.last_detection(camera),
            "json_attributes_topic": topics.last_detection_attributes(camera),
        },
    )
    add(
        "binary_sensor",
        "camera",
        {
            "name": "Camera",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": topics.connected(camera),
            "payload_on": ON,
            "payload_off": OFF,
        },
    )
    return configs
