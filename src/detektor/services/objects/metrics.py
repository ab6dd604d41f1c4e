"""The objects stage's Prometheus metrics (objects now, object events, trouble) and those of
``serve objects`` (cameras owned, takeovers, dead letters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from detektor.domain.object_events import ObjectState
from detektor.kit.metrics import Metrics

if TYPE_CHECKING:
    from detektor.services.objects.camera import CameraObjects


class ObjectMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.objects = metrics.gauge(
            "detektor_objects",
            "Confirmed objects now, by camera, label and state (active or stationary)",
            ["camera", "label", "state"],
        )
        self.events = metrics.counter(
            "detektor_object_events_total",
            "Object lifecycle events emitted, by camera and type",
            ["camera", "type"],
        )
        self.stale_frames = metrics.counter(
            "detektor_objects_late_frames_total",
            "Frames that reached the objects stage after a later frame of their camera",
            ["camera"],
        )
        self.snapshot_errors = metrics.counter(
            "detektor_snapshot_errors_total",
            "Snapshots that could not be written (disk full, permissions) or decoded",
            ["camera"],
        )
        self.pictures_missing = metrics.counter(
            "detektor_objects_pictures_missing_total",
            "Frames announced with a picture that serve objects no longer found in Redis "
            "(expired: raise detector.pictures_ttl_s) or could not fetch",
            ["camera"],
        )
        self.in_zones = metrics.gauge(
            "detektor_zone_objects",
            "Confirmed objects now in each zone, by camera, zone, label and state",
            ["camera", "zone", "label", "state"],
        )
        self._seen: set[tuple[str, ...]] = set()
        self._seen_zones: set[tuple[str, ...]] = set()

    def refresh(self, cameras: Mapping[str, CameraObjects]) -> None:
        """Set the gauges from the live objects; series that went to 0 stay, at 0."""
        counts: dict[tuple[str, ...], int] = dict.fromkeys(self._seen, 0)
        zones: dict[tuple[str, ...], int] = dict.fromkeys(self._seen_zones, 0)
        for name, cam in cameras.items():
            for obj in cam.objects():
                if obj.state is ObjectState.ENDED:
                    continue
                key: tuple[str, ...] = (name, obj.label, obj.state.value)
                counts[key] = counts.get(key, 0) + 1
                for zone in obj.zones:
                    place: tuple[str, ...] = (name, zone, obj.label, obj.state.value)
                    zones[place] = zones.get(place, 0) + 1
        for series, n in counts.items():
            self.objects.labels(*series).set(n)
        for series, n in zones.items():
            self.in_zones.labels(*series).set(n)
        self._seen.update(counts)
        self._seen_zones.update(zones)


class ObjectServiceMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.owned = metrics.gauge(
            "detektor_objects_cameras_owned", "Cameras whose lease this instance holds"
        )
        self.takeovers = metrics.counter(
            "detektor_objects_camera_takeovers_total",
            "Camera leases taken (a first owner, or after another instance's)",
        )
        self.dead_letters = metrics.counter(
            "detektor_objects_dead_letters_total",
            "Detection entries serve objects could not use (sent to the dead-letter stream)",
        )
