"""What the Cameras page knows of each camera's capture loop, read from this process's
metrics registry: in ``detektor run`` the camera workers run in process and keep
``detektor_camera_up``, ``detektor_camera_fps`` and ``detektor_camera_reconnects_total``
there; in the tracking service capture is another process, its registry holds none of them,
and the page says what is known from the store and where the rest is (capture's /metrics).

One pass over the registry per render, not one lookup per camera and metric: each lookup
collects every metric of the process.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

UP = "detektor_camera_up"
FPS = "detektor_camera_fps"
RECONNECTS = "detektor_camera_reconnects_total"
WANTED = {UP, FPS, RECONNECTS}


@dataclass(frozen=True, slots=True)
class CaptureState:
    """One camera's loop as the capture worker reports it."""

    up: bool
    fps: float  # sampled frames per second over the last report (about a second)
    reconnects: int


def capture_states(registry: CollectorRegistry | None) -> dict[str, CaptureState] | None:
    """Per camera its capture state, or None where no camera worker runs in this process."""
    if registry is None:
        return None
    up: dict[str, float] = {}
    fps: dict[str, float] = {}
    reconnects: dict[str, float] = {}
    found = False
    for family in registry.collect():
        # A counter's family is named without its _total suffix; its samples keep it.
        if family.name not in WANTED and f"{family.name}_total" not in WANTED:
            continue
        found = True
        for sample in family.samples:
            camera = sample.labels.get("camera")
            if camera is None:
                continue
            if sample.name == UP:
                up[camera] = sample.value
            elif sample.name == FPS and sample.labels.get("kind") == "sampled":
                fps[camera] = sample.value
            elif sample.name == RECONNECTS:
                reconnects[camera] = sample.value
    if not found:
        return None
    return {
        camera: CaptureState(
            up=value >= 1,
            fps=round(fps.get(camera, 0.0), 1),
            reconnects=int(reconnects.get(camera, 0)),
        )
        for camera, value in up.items()
    }
