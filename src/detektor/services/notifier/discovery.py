"""MQTT topics and Home Assistant discovery payloads: one HA device per camera.

Topics (``<state>`` is ``notifier.state_prefix``, ``<label>`` the label's slug)::

    <state>/availability                        online | offline  (retained; the LWT)
    <state>/events                              JSON per object change, every camera
    <state>/<camera>/events                     the same, one camera   (not retained)
    <state>/<camera>/<label>                    ON | OFF  (retained; objects present)
    <state>/<camera>/<label>/count              active objects         (retained)
    <state>/<camera>/<label>/stationary         stationary objects     (retained)
    <state>/<camera>/<label>/snapshot           JPEG, newest object's best (retained)
    <state>/<camera>/zones/<zone>/<label>       ON | OFF, and /count, /stationary
    <state>/<camera>/image                      JPEG, latest frame with boxes (retained)
    <state>/<camera>/last_detection             ISO 8601, newest object's start (retained)
    <state>/<camera>/last_detection/attributes  JSON                   (retained)
    <state>/<camera>/connected                  ON | OFF  (retained; frames arriving)

Discovery configs go to ``<discovery>/<component>/detektor_<camera>/<object>/config``,
retained (HA accepts ``[a-zA-Z0-9_-]`` in node and object ids: camera, zone names and label
slugs all are). Entity names are chosen so HA derives predictable entity ids from the
device name ``Detektor <camera>``: ``binary_sensor.detektor_front_door_person``,
``sensor.detektor_front_door_person_count``,
``sensor.detektor_front_door_person_stationary_count``,
``binary_sensor.detektor_front_door_porch_person``, ``image.detektor_front_door_latest``,
``image.detektor_front_door_person_snapshot``, ``sensor.detektor_front_door_last_detection``
and ``binary_sensor.detektor_front_door_camera``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
# Label slugs that would land on a topic of their own.
RESERVED = frozenset({"events", "connected", "last_detection", "availability", "zones", "image"})
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

    @property
    def all_events(self) -> str:
        return f"{self.state_prefix}/events"

    def events(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/events"

    def occupancy(self, camera: str, label: str, zone: str | None = None) -> str:
        where = camera if zone is None else f"{camera}/zones/{zone}"
        return f"{self.state_prefix}/{where}/{slug(label)}"

    def count(self, camera: str, label: str, zone: str | None = None) -> str:
        return f"{self.occupancy(camera, label, zone)}/count"

    def stationary(self, camera: str, label: str, zone: str | None = None) -> str:
        return f"{self.occupancy(camera, label, zone)}/stationary"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self.occupancy(camera, label)}/snapshot"

    def image(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/image"

    def last_detection(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/last_detection"

    def last_detection_attributes(self, camera: str) -> str:
        return f"{self.last_detection(camera)}/attributes"

    def connected(self, camera: str) -> str:
        return f"{self.state_prefix}/{camera}/connected"

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


Config = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Entities:
    """The discovery configs of one camera's entities."""

    camera: str
    topics: Topics
    version: str
    qos: int

    def _config(self, component: str, object_id: str, payload: dict[str, Any]) -> Config:
        full = {
            **payload,
            "unique_id": f"{node_id(self.camera)}_{object_id}",
            "availability": [
                {
                    "topic": self.topics.availability,
                    "payload_available": ONLINE,
                    "payload_not_available": OFFLINE,
                }
            ],
            "device": device_block(self.camera, self.version),
            "origin": {"name": "Detektor", "sw_version": self.version},
            "qos": self.qos,
        }
        return self.topics.config(component, self.camera, object_id), full

    def device(self, labels: Sequence[str], images: bool) -> list[Config]:
        """Per label (occupancy, counts, and its snapshot with ``images``), then the camera's
        own: last detection, connectivity, and the latest image with ``images``."""
        configs: list[Config] = []
        for label in labels:
            configs += self._label(label, None, label.capitalize(), slug(label))
            if images:
                configs.append(
                    self._image(
                        f"{slug(label)}_snapshot",
                        f"{label.capitalize()} snapshot",
                        self.topics.snapshot(self.camera, label),
                    )
                )
        t, camera = self.topics, self.camera
        configs.append(
            self._config(
                "sensor",
                "last_detection",
                {
                    "name": "Last detection",
                    "device_class": "timestamp",
                    "state_topic": t.last_detection(camera),
                    "json_attributes_topic": t.last_detection_attributes(camera),
                },
            )
        )
        configs.append(
            self._config(
                "binary_sensor",
                "camera",
                {
                    "name": "Camera",
                    "device_class": "connectivity",
                    "entity_category": "diagnostic",
                    "state_topic": t.connected(camera),
                    "payload_on": ON,
                    "payload_off": OFF,
                },
            )
        )
        if images:
            configs.append(self._image("latest", "Latest", t.image(camera)))
        return configs

    def zone(self, zone: str, labels: Sequence[str]) -> list[Config]:
        """Occupancy and counts per label inside one zone."""
        configs: list[Config] = []
        for label in labels:
            name = f"{zone.replace('_', ' ').replace('-', ' ').capitalize()} {label}"
            configs += self._label(label, zone, name, f"zone_{zone}_{slug(label)}")
        return configs

    def _label(self, label: str, zone: str | None, name: str, object_id: str) -> list[Config]:
        t, camera = self.topics, self.camera
        return [
            self._config(
                "binary_sensor",
                object_id,
                {
                    "name": name,
                    "device_class": "occupancy",
                    "state_topic": t.occupancy(camera, label, zone),
                    "payload_on": ON,
                    "payload_off": OFF,
                },
            ),
            self._config(
                "sensor",
                f"{object_id}_count",
                {
                    "name": f"{name} count",
                    "state_topic": t.count(camera, label, zone),
                    "state_class": "measurement",
                    "icon": "mdi:counter",
                },
            ),
            self._config(
                "sensor",
                f"{object_id}_stationary_count",
                {
                    "name": f"{name} stationary count",
                    "state_topic": t.stationary(camera, label, zone),
                    "state_class": "measurement",
                    "icon": "mdi:sleep",
                },
            ),
        ]

    def _image(self, object_id: str, name: str, topic: str) -> Config:
        # HA's MQTT image: raw bytes on image_topic, content_type says what they are.
        return self._config(
            "image", object_id, {"name": name, "image_topic": topic, "content_type": "image/jpeg"}
        )
