"""Settings of the objects stage (section ``objects``, env ``DETEKTOR_OBJECTS__*``).

Per-label thresholds and per-camera zones go in the YAML config::

    objects:
      labels:
        person: {threshold: 0.6}
        car: {threshold: 0.7, stationary_iou: 0.85}
      cameras:
        front-door:
          zones:
            porch: {points: [[0, 300], [640, 300], [640, 480], [0, 480]], loitering_s: 60}

The domain's own settings (``ObjectSettings``, ``Zone``) are built from these once, at start;
a zone that is not a simple polygon stops the service with the zone named.
"""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detektor.domain.frames import CAMERA_RE
from detektor.domain.object_settings import LabelSettings, ObjectSettings
from detektor.domain.zones import ZONE_PATTERN, ZONE_RE, Zone
from detektor.services.notifier.rules import polygon_problem

GIB = 1024**3


class LabelObjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        default=0.6, ge=0, le=1, description="median score of recent sightings that confirms"
    )
    stationary_iou: float = Field(
        default=0.9, ge=0, le=1, description="overlap with its recent boxes that counts as still"
    )


class ZoneSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[list[float]] = Field(description="polygon corners [x, y] in source pixels")
    inertia: int = Field(
        default=3, ge=1, description="sightings inside (or outside) before it counts"
    )
    loitering_s: float | None = Field(
        default=None, gt=0, description="staying this long in the zone is announced once"
    )

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[list[float]]) -> list[list[float]]:
        problem = polygon_problem(points)
        if problem:
            raise ValueError(f"not a valid polygon: {problem}")
        return points


class ObjectCameraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zones: dict[str, ZoneSettings] = Field(default_factory=dict, description="named zones")

    @field_validator("zones")
    @classmethod
    def _names(cls, zones: dict[str, ZoneSettings]) -> dict[str, ZoneSettings]:
        for name in zones:
            if ZONE_RE.fullmatch(name) is None:
                raise ValueError(f"zone name {name!r} must match {ZONE_PATTERN}")
        return zones


class SnapshotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="keep each object's best picture")
    max_age_s: float = Field(
        default=7 * 86_400, gt=0, description="snapshots older than this are deleted"
    )
    max_bytes: int = Field(
        default=2 * GIB, ge=1_048_576, description="total size kept; the oldest go first"
    )
    quality: int = Field(default=85, ge=30, le=100, description="JPEG quality")
    latest_interval_s: float = Field(
        default=1.0, ge=0, description="least time between two writes of a camera's latest.jpg"
    )
    sweep_interval_s: float = Field(default=60.0, gt=0, description="retention check period")


class ObjectsSettings(BaseModel):
    """Tracked objects: how they are confirmed, when they end, zones, snapshots."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="turn detections into tracked objects")
    min_hits: int = Field(default=3, ge=1, description="sightings before an object is confirmed")
    score_window: int = Field(
        default=5, ge=1, description="the median of this many last scores must reach threshold"
    )
    max_disappeared_s: float = Field(
        default=2.0, gt=0, description="an object unseen this long has ended"
    )
    stationary_max_disappeared_s: float = Field(
        default=30.0, gt=0, description="the same, for a stationary object"
    )
    stationary_after_s: float = Field(
        default=10.0, ge=0, description="still this long: the object is stationary"
    )
    snapshot_interval_s: float = Field(
        default=2.0, ge=0, description="least time between two 'better snapshot' updates"
    )
    distance_threshold: float = Field(
        default=0.5, gt=0, description="tracker: largest step, in box heights, between frames"
    )
    labels: dict[str, LabelObjectSettings] = Field(
        default_factory=dict, description="per-label threshold and stationary_iou"
    )
    default_label: LabelObjectSettings = Field(
        default_factory=LabelObjectSettings, description="for labels not listed"
    )
    cameras: dict[str, ObjectCameraSettings] = Field(
        default_factory=dict, description="per-camera zones"
    )
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    link_ttl_s: float = Field(
        default=7 * 86_400, gt=0, description="how long a signed snapshot link stays valid"
    )
    reorder_window_ms: int = Field(
        default=500, ge=0, le=10_000, description="wait this long for late detections"
    )
    stream: str = Field(
        default="detektor:objects", description="per-frame objects stream for the notifier"
    )
    lease_ttl_s: float = Field(
        default=10.0, ge=1, description="serve objects: an owner that stops renewing loses a camera"
    )
    consumer: str = Field(
        default_factory=socket.gethostname,
        description="this instance's name (serve objects); a lease's owner is it plus a suffix",
    )

    @field_validator("cameras")
    @classmethod
    def _camera_names(
        cls, cameras: dict[str, ObjectCameraSettings]
    ) -> dict[str, ObjectCameraSettings]:
        for name in cameras:
            if CAMERA_RE.fullmatch(name) is None:
                raise ValueError(f"camera {name!r} must match {CAMERA_RE.pattern}")
        return cameras

    def lifecycle(self) -> ObjectSettings:
        """The domain's settings (the same for every camera)."""

        def label(s: LabelObjectSettings) -> LabelSettings:
            return LabelSettings(threshold=s.threshold, stationary_iou=s.stationary_iou)

        return ObjectSettings(
            min_hits=self.min_hits,
            score_window=self.score_window,
            max_disappeared_s=self.max_disappeared_s,
            stationary_max_disappeared_s=self.stationary_max_disappeared_s,
            stationary_after_s=self.stationary_after_s,
            snapshot_interval_s=self.snapshot_interval_s,
            default=label(self.default_label),
            labels={name: label(s) for name, s in self.labels.items()},
        )

    def zones(self, camera: str) -> tuple[Zone, ...]:
        own = self.cameras.get(camera)
        if own is None:
            return ()
        return tuple(
            Zone(
                name,
                tuple((float(x), float(y)) for x, y in z.points),
                inertia=z.inertia,
                loitering_s=z.loitering_s,
            )
            for name, z in own.zones.items()
        )
