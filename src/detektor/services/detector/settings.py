"""Settings of the detector service (section ``detector``, env ``DETEKTOR_DETECTOR__*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DetectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["motion_regions"] = Field(
        default="motion_regions", description="which processor the detector service runs"
    )
