"""Lifecycle envelopes for tracking tests, and what the real PostgreSQL stored of them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

LIFE = ["captured", "queued", "processing", "processed", "published", "completed"]


def envelopes(frames: int, camera: str = "cam") -> list[dict[str, object]]:
    # Recent, so that the service's retention (7 days by default) keeps them.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    data = {
        "captured": {"width": 640, "height": 480, "pts": 0, "source": "synthetic://"},
        "queued": {"stream": "frames"},
        "processing": {"processor": "detector", "batch_id": "b"},
        "processed": {"processor": "detector", "duration_ms": 3.0, "detections": []},
        "published": {"target": "mqtt"},
        "completed": {},
    }
    out = []
    for n in range(frames):
        at = base + timedelta(milliseconds=100 * n)
        fid = f"{camera}:{int(at.timestamp() * 1000)}:{n % 1_000_000:06d}"
        for i, kind in enumerate(LIFE):
            out.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "type": f"frame.{kind}",
                    "frame_id": fid,
                    "camera": camera,
                    "occurred_at": (at + timedelta(milliseconds=i)).isoformat(),
                    "schema_version": 1,
                    "data": data[kind],
                }
            )
    return out


def stored_events(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM detektor.events"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])
