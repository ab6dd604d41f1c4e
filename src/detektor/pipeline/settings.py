"""Settings of a processor runner (section ``processor``, env ``DETEKTOR_PROCESSOR__*``)."""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field


class ProcessorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=8, ge=1, le=256, description="frames per process() call")
    max_wait_ms: int = Field(
        default=10, ge=0, le=10_000, description="how long to wait to fill a batch"
    )
    attempts: int = Field(
        default=3, ge=1, le=10, description="tries of process() before frames fail"
    )
    claim_idle_ms: int = Field(
        default=30_000, ge=100, description="reclaim frames pending this long on a dead peer"
    )
    consumer: str = Field(
        default_factory=socket.gethostname, description="consumer name; stable across restarts"
    )
    last_stage: bool = Field(
        default=True,
        description="complete frames after processing (off when the notifier completes them)",
    )
    max_frame_pixels: int = Field(
        default=7680 * 4320,
        ge=1,
        description="frames whose JPEG header claims more pixels (8K by default) are "
        "dead-lettered before decoding",
    )
    max_frame_age_ms: int = Field(
        default=1000,
        ge=0,
        le=3_600_000,
        description="a frame older than this (capture time to now) when the processor would "
        "start it is dropped with reason stale; 0 turns shedding by age off",
    )


class BusSettings(BaseModel):
    """The frame bus (section ``bus``, env ``DETEKTOR_BUS__*``)."""

    model_config = ConfigDict(extra="forbid")

    stream: str = Field(default="detektor:frames", description="Redis stream of frames")
    group: str = Field(default="processors", description="consumer group of the processors")
    cap: int = Field(
        default=200, ge=1, le=100_000, description="frames waiting at most; older ones drop"
    )
    max_deliveries: int = Field(
        default=5, ge=1, le=100, description="deliveries before an entry is dead-lettered"
    )
