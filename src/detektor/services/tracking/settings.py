"""Settings of the tracking service (section ``tracking``, env ``DETEKTOR_TRACKING__*``)."""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1000


class TrackingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stale_after_s: float = Field(
        default=60.0, gt=0, description="an in-flight frame with no event for this long is stale"
    )
    retention_days: float = Field(default=7.0, gt=0, description="how long events are kept")
    purge_interval_s: float = Field(default=3600.0, gt=0, description="retention job period")
    max_body_bytes: int = Field(
        default=8 * 1_048_576, ge=1024, description="largest POST /v1/events body"
    )
    consume: bool = Field(default=True, description="read lifecycle events from Redis")
    stream: str = Field(default="detektor:events", description="lifecycle-events stream")
    group: str = Field(default="tracking", description="consumer group on that stream")
    consumer: str = Field(
        default_factory=socket.gethostname,
        description="this consumer's name in the group; keep it stable across restarts",
    )
    dead_letter_stream: str = Field(default="detektor:events:dead")
    read_count: int = Field(default=500, ge=1, le=MAX_BATCH)
    block_ms: int = Field(default=1000, ge=10)
    claim_idle_ms: int = Field(
        default=30_000, ge=100, description="reclaim entries pending longer than this"
    )
    metrics_interval_s: float = Field(
        default=15.0, gt=0, description="how often accounting gauges are refreshed"
    )
