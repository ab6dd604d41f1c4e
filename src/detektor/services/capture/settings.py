"""Camera settings (YAML ``cameras:`` list, or ``detektor run --source``), validated at start."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from detektor.domain.frames import CAMERA_PATTERN
from detektor.services.recordings.settings import RecordSettings

Point = tuple[float, float]


class MotionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="off: every sampled frame is queued")
    width: int = Field(default=160, ge=16, le=1920, description="width of the downscaled check")
    threshold: int = Field(
        default=25, ge=1, le=255, description="per-pixel grey-level change that counts"
    )
    min_area: float = Field(
        default=0.002, gt=0, lt=1, description="share of unmasked pixels that must change"
    )
    background_alpha: float = Field(
        default=0.1, gt=0, le=1, description="how fast the background model follows the scene"
    )
    warmup_frames: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="after a start or reconnect, this many frames are checked whatever moves, "
        "so objects already in view (a parked car) are seen",
    )


class CameraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=CAMERA_PATTERN, description="e.g. front-door")
    source: SecretStr = Field(description="rtsp://user:pass@host/path, a file, or synthetic://")
    detect_fps: float = Field(default=5.0, gt=0, le=60)
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    loop: bool = Field(
        default=False,
        description="a file source starts again at its end, paced in real time (a test camera)",
    )
    stall_timeout_s: float = Field(default=10.0, gt=0, description="no frame this long: reconnect")
    reconnect_initial_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0, description="cap of the backoff")
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    labels: list[str] | None = Field(
        default=None, description="labels kept for this camera (e.g. [person, car]); unset: all"
    )
    min_score: float = Field(
        default=0.4, ge=0, le=1, description="lowest detection score kept for this camera"
    )
    masks: list[list[Point]] = Field(
        default_factory=list,
        description="polygons in source pixels whose motion is ignored",
    )
    record: RecordSettings | None = Field(
        default=None,
        description="recording without re-encoding; unset: not recorded (docs/recordings.md)",
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: SecretStr) -> SecretStr:
        uri = value.get_secret_value()
        if not uri.strip():
            raise ValueError("must not be empty")
        if "://" in uri and not uri.startswith(("rtsp://", "rtsps://", "file://", "synthetic://")):
            raise ValueError(
                "use rtsp://…, file://…, a file path, or synthetic://?fps=10&size=640x480"
            )
        return value

    @field_validator("masks")
    @classmethod
    def _polygons(cls, masks: list[list[Point]]) -> list[list[Point]]:
        for i, polygon in enumerate(masks):
            if len(polygon) < 3:
                raise ValueError(f"mask {i} needs at least 3 points, got {len(polygon)}")
        return masks

    @model_validator(mode="after")
    def _backoff(self) -> CameraSettings:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self
