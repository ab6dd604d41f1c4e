"""Settings of the notifier (section ``notifier``, env ``DETEKTOR_NOTIFIER__*``).

The broker is ``DETEKTOR_MQTT_URL`` (``mqtt://user:password@host:1883``, or ``mqtts://`` for
TLS). Per-camera rules go under ``notifier.cameras``, keyed by camera name::

    notifier:
      cameras:
        front-door:
          labels: [person]         # the object labels announced
          min_score: 0.5           # against the object's top score
          required_zones: [porch]  # announced once it has entered one of them

Zone polygons are drawn by the objects stage (``objects.cameras.<camera>.zones``); a
``zones`` key here stops the start with a message saying where they moved.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from detektor.domain.frames import CAMERA_RE
from detektor.domain.zones import ZONE_PATTERN, ZONE_RE
from detektor.services.notifier.discovery import RESERVED, slug

DEFAULT_LABELS = ["person", "car", "dog", "cat"]
_TOPIC_PREFIX = re.compile(r"^[^/#+\s][^#+]*[^/#+\s]$|^[^/#+\s]$")


def _check_labels(labels: list[str]) -> list[str]:
    slugs = [slug(label) for label in labels]
    if not labels:
        raise ValueError("give at least one label, e.g. [person]")
    if "" in slugs:
        raise ValueError("labels need at least one letter or digit")
    clash = sorted(RESERVED.intersection(slugs))
    if clash:
        raise ValueError(f"labels may not be named {', '.join(clash)} (topic names)")
    twice = sorted({s for s in slugs if slugs.count(s) > 1})
    if twice:
        raise ValueError(f"labels repeat (after lower-casing): {', '.join(twice)}")
    return labels


class CameraRuleSettings(BaseModel):
    """What one camera announces: unset fields fall back to the notifier's defaults."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] | None = Field(
        default=None, description="object labels with entities and events; unset: notifier.labels"
    )
    min_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="lowest top score of an object announced; unset: notifier.min_score",
    )
    required_zones: list[str] = Field(
        default_factory=list,
        description="announce an object only once it has entered one of these zones "
        "(objects.cameras.<camera>.zones); empty: anywhere",
    )

    @model_validator(mode="before")
    @classmethod
    def _zones_moved(cls, data: object) -> object:
        if isinstance(data, dict) and "zones" in data:
            raise ValueError(
                "zones moved: zone polygons are now objects.cameras.<camera>.zones "
                "(e.g. porch: {points: [[0, 300], [640, 300], [640, 480], [0, 480]]}); "
                "here, required_zones: [porch] announces only objects that entered one of them"
            )
        return data

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str] | None) -> list[str] | None:
        return None if labels is None else _check_labels(labels)

    @field_validator("required_zones")
    @classmethod
    def _zone_names(cls, zones: list[str]) -> list[str]:
        for name in zones:
            if ZONE_RE.fullmatch(name) is None:
                raise ValueError(f"zone name {name!r} must match {ZONE_PATTERN}")
        return zones


class NotifierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    discovery_prefix: str = Field(
        default="homeassistant", description="Home Assistant's MQTT discovery prefix"
    )
    state_prefix: str = Field(default="detektor", description="root of state and event topics")
    off_delay_s: float = Field(
        default=5.0,
        ge=0,
        le=86_400,
        description="an occupancy stays ON at least this long after it turned ON (it turns "
        "OFF when the last object of its label has ended)",
    )
    labels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LABELS),
        description="labels of cameras that name none (here or in their camera config)",
    )
    min_score: float = Field(
        default=0.0, ge=0, le=1, description="lowest top score of an object announced"
    )
    cameras: dict[str, CameraRuleSettings] = Field(
        default_factory=dict, description="per-camera labels, min_score and required_zones"
    )
    qos: Literal[0, 1, 2] = Field(
        default=1, description="QoS of state and event messages (discovery/availability: 1)"
    )
    snapshot_base_url: str | None = Field(
        default=None,
        description="base URL of the API as Home Assistant (and a phone) reaches it; the "
        "signed snapshot links of events start with it",
    )
    detections_stream: str | None = Field(
        default=None, description="stream to read; unset: detector.detections_stream"
    )
    group: str = Field(default="notifier", description="consumer group on that stream")
    consumer: str = Field(
        default_factory=socket.gethostname, description="consumer name; stable across restarts"
    )
    read_count: int = Field(default=100, ge=1, le=1000)
    block_ms: int = Field(default=1000, ge=10)
    claim_idle_ms: int = Field(default=30_000, ge=100)
    max_event_age_s: float = Field(
        default=60.0,
        gt=0,
        description="older object events (a backlog) are not sent as events; states still "
        "follow them",
    )
    camera_timeout_s: float = Field(
        default=30.0, gt=0, description="no frame from a camera this long: its entity is off"
    )
    image_interval_s: float = Field(
        default=2.0, ge=0, description="least time between two images of a camera's image entity"
    )
    snapshot_crop: bool = Field(
        default=True, description="<label>/snapshot shows the object cut out, not the frame"
    )
    publish_timeout_s: float = Field(
        default=30.0, gt=0, description="wait this long for the broker's ack before retrying"
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id; unset: detektor-notifier-<consumer>"
    )
    username: str | None = Field(default=None, description="overrides the user in the URL")
    password: SecretStr | None = Field(
        default=None, description="overrides the password in the URL"
    )
    tls_ca_file: Path | None = Field(default=None, description="CA bundle for mqtts://")
    tls_cert_file: Path | None = Field(default=None, description="client certificate")
    tls_key_file: Path | None = Field(default=None, description="client key")
    tls_insecure: bool = Field(default=False, description="skip the broker hostname check")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    reconnect_min_s: int = Field(default=1, ge=1, le=60, description="first reconnect delay")
    reconnect_max_s: int = Field(default=30, ge=1, le=600, description="backoff cap")

    @field_validator("discovery_prefix", "state_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _TOPIC_PREFIX.match(value):
            raise ValueError(
                "must be a topic prefix without wildcards (+, #) or a leading/trailing '/', "
                "e.g. homeassistant"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str]) -> list[str]:
        return _check_labels(labels)

    @field_validator("cameras")
    @classmethod
    def _camera_names(cls, cameras: dict[str, CameraRuleSettings]) -> dict[str, CameraRuleSettings]:
        for name in cameras:
            if CAMERA_RE.fullmatch(name) is None:
                raise ValueError(f"camera {name!r} must match {CAMERA_RE.pattern}")
        return cameras

    @model_validator(mode="after")
    def _backoff(self) -> NotifierSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give tls_cert_file and tls_key_file together")
        return self
