"""Settings of recording retention, as the user writes them.

Per camera (a camera's ``record:`` section; `RecordSettings`)::

    record: {mode: objects, segment_s: 10, retain_days: 3, objects_retain_days: 30, pre_s: 5,
             post_s: 5}

and for the whole recordings volume (`RecordingsSettings`): the free-space floor and an
optional cap on the bytes kept. The domain's `RecordPolicy` is built from a camera's section
once, at start (`RecordSettings.policy`); it checks the same rules again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detektor.domain.recordings import RecordMode, RecordPolicy

GIB = 1024**3
MAX_DAYS = 36_500  # a century: a larger number is a typo, not a retention


class RecordSettings(BaseModel):
    """What one camera records and how long it is kept."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["continuous", "motion", "objects"] = Field(
        default="continuous",
        description="continuous: all; motion: around motion; objects: only footage with objects",
    )
    segment_s: float = Field(
        default=10.0, ge=1, le=300, description="segment length, rounded up to a keyframe"
    )
    retain_days: float = Field(
        default=7.0, ge=0, le=MAX_DAYS, description="footage without objects is kept this long"
    )
    objects_retain_days: float = Field(
        default=30.0, ge=0, le=MAX_DAYS, description="footage with an object is kept this long"
    )
    pre_s: float = Field(
        default=5.0, ge=0, lt=3600, description="footage kept before an object appears"
    )
    post_s: float = Field(
        default=5.0, ge=0, lt=3600, description="footage kept after an object leaves"
    )

    @model_validator(mode="after")
    def _objects_outlive(self) -> RecordSettings:
        if self.objects_retain_days < self.retain_days:
            raise ValueError(
                f"objects_retain_days ({self.objects_retain_days:g}) must be at least "
                f"retain_days ({self.retain_days:g}): footage with an object is never kept "
                "for less time than footage without one"
            )
        return self

    def policy(self) -> RecordPolicy:
        return RecordPolicy(
            mode=RecordMode(self.mode),
            retain_days=self.retain_days,
            objects_retain_days=self.objects_retain_days,
            pre_s=self.pre_s,
            post_s=self.post_s,
        )


class RecordingsSettings(BaseModel):
    """The recordings volume as a whole."""

    model_config = ConfigDict(extra="forbid")

    root: Path | None = Field(
        default=None, description="where segments are written; unset: <data_dir>/recordings"
    )
    clip_ttl_s: float = Field(
        default=600.0, gt=0, le=86_400, description="how long an exported clip is kept for reuse"
    )
    max_export_s: float = Field(
        default=3600.0, gt=0, le=86_400, description="longest range one export may cover"
    )

    min_free_bytes: int = Field(
        default=5 * GIB,
        ge=0,
        description="below this much free space the oldest footage goes; recording stops "
        "when even deleting all of it would not free this much",
    )
    max_bytes: int | None = Field(
        default=None, ge=1, description="most bytes of footage kept (none: no cap)"
    )
    sweep_interval_s: float = Field(
        default=60.0, gt=0, le=86_400, description="how often retention deletes footage"
    )
    default: RecordSettings = Field(
        default_factory=RecordSettings, description="for cameras without a record section"
    )

    def root_in(self, data_dir: Path) -> Path:
        """Where the segments are: ``root``, else ``<data_dir>/recordings``."""
        return self.root if self.root is not None else data_dir / "recordings"
