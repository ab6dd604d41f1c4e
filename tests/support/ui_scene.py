"""Events for the web UI's tests: a person's object life, a static frame skipped for no
motion and a person frame with its detection, as JSON envelopes to post to ``/v1/events``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from detektor.domain.frames import FrameId
from support.object_events import ObjectScript, envelope

DETECTION = {"label": "person", "score": 0.87, "box": [100.0, 80.0, 220.0, 400.0]}


def _frame_event(frame_id: FrameId, kind: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "frame_id": str(frame_id),
        "camera": frame_id.camera,
        "occurred_at": at.isoformat(),
        "schema_version": 1,
        "data": data,
    }


def skipped_frame(camera: str, at: datetime, seq: int) -> tuple[str, list[dict[str, Any]]]:
    """A frame the motion gate skipped: captured, then frame.skipped with reason no_motion."""
    fid = FrameId.make(camera, int(at.timestamp() * 1000), seq)
    return str(fid), [
        _frame_event(fid, "frame.captured", at, width=640, height=480, source="synthetic://"),
        _frame_event(fid, "frame.skipped", at + timedelta(milliseconds=3), reason="no_motion"),
    ]


def person_frame(camera: str, at: datetime, seq: int) -> tuple[str, list[dict[str, Any]]]:
    """A frame that went through detection and found one person."""
    fid = FrameId.make(camera, int(at.timestamp() * 1000), seq)
    ms = timedelta(milliseconds=1)
    return str(fid), [
        _frame_event(fid, "frame.captured", at, width=640, height=480, source="synthetic://"),
        _frame_event(fid, "frame.queued", at + 2 * ms, stream="frames"),
        _frame_event(fid, "frame.processing", at + 5 * ms, processor="detector", batch_id="b1"),
        _frame_event(
            fid,
            "frame.processed",
            at + 30 * ms,
            processor="detector",
            duration_ms=25.0,
            detections=[DETECTION],
        ),
        _frame_event(fid, "frame.completed", at + 31 * ms),
    ]


def person_life(
    camera: str, start: datetime, track_id: int = 1, zone: str = "porch"
) -> tuple[str, list[dict[str, Any]]]:
    """One person's object events: started, entered ``zone``, ended; and its id."""
    script = ObjectScript(camera=camera, track_id=track_id, start=start)
    events = [script.started(), script.entered(zone, 0.5), script.ended(2.0)]
    return script.object_id, [envelope(e).to_dict() for e in events]


def recent(minutes: float = 5) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
