"""The detections stream: what the detector found in each frame, for the notifier and others.

One entry per processed frame (``frame_id``, ``camera``, ``captured_ms``, ``detections`` as
JSON, ``traceparent``), empty detection lists included: "nothing in view any more" is news
too. The stream is capped (approximately) so it never grows without bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from detektor.adapters.redis_streams import DETECTIONS_STREAM_MAXLEN
from detektor.pipeline.decoding import Frame
from detektor.pipeline.processing import Result


class RedisDetectionStream:
    def __init__(
        self, redis: Redis, stream: str, *, maxlen: int = DETECTIONS_STREAM_MAXLEN
    ) -> None:
        self.redis, self.stream, self.maxlen = redis, stream, maxlen

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
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
        await pipe.execute()
