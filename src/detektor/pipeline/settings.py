"""Settings of a processor runner (section ``processor``, env ``DETEKTOR_PROCESSOR__*``)."""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field


class ProcessorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=8, ge=1, le=256, description="frames per process() call")
    max_wait_ms: int = Field(
        default=50, ge=0, le=10_000, description="how long to wait to fill a batch"
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
