"""The detections stream: what the detector found in each frame, for the objects service.

One entry per processed frame (``frame_id``, ``camera``, ``captured_ms``, ``detections`` as
JSON, ``traceparent``), empty detection lists included: "nothing in view any more" is news
too. The stream is capped (approximately) so it never grows without bound.

The frame's pixels do not go on the stream (every reader would carry them). With
``pictures_ttl_s`` > 0 its JPEG, as the bus delivered it, is kept beside the stream under
``picture_key(stream, frame_id)`` for that long, and the entry says so (``picture`` = 1):
the objects service, which runs elsewhere, cuts snapshots from it (ADR 25). The key expires
by itself, so a reader that never comes costs memory for ``pictures_ttl_s`` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from detektor.adapters.redis_streams import DETECTIONS_STREAM_MAXLEN
from detektor.domain.frames import FrameId
from detektor.pipeline.decoding import Frame, jpeg_of
from detektor.pipeline.processing import Result


def picture_key(stream: str, frame_id: FrameId | str) -> str:
    """Where the JPEG of a frame on ``stream`` is kept for a while."""
    return f"{stream}:jpeg:{frame_id}"


class RedisDetectionStream:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        *,
        maxlen: int = DETECTIONS_STREAM_MAXLEN,
        pictures_ttl_s: float = 0.0,
    ) -> None:
        self.redis, self.stream, self.maxlen = redis, stream, maxlen
        self.pictures_ms = round(pictures_ttl_s * 1000)

    async def publish(self, frames: Sequence[Frame], results: Sequence[Result]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for frame, result in zip(frames, results, strict=True):
            msg = frame.message
            fields: dict[Any, Any] = {  # redis-py types its field mapping loosely
                "frame_id": str(msg.frame_id),
                "camera": msg.camera,
                "captured_ms": str(msg.captured_ms),
                "detections": json.dumps(result.detections),
            }
            if msg.traceparent:
                fields["traceparent"] = msg.traceparent
            picture = jpeg_of(msg) if self.pictures_ms > 0 else b""
            if picture:
                # Before the entry, in the same round trip: a reader of the entry finds it.
                pipe.set(picture_key(self.stream, msg.frame_id), picture, px=self.pictures_ms)
                fields["picture"] = "1"
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
        await pipe.execute()
