"""What ``serve objects`` writes to Redis: the objects stream, per-camera checkpoints, dead letters.

A frame's objects entry and its camera's checkpoint are written by one Lua script that first
checks the camera's lease is still ours (a fenced write): an instance that lost a camera,
even one that has not noticed yet, can add no entry for it and cannot move its checkpoint, so
no frame is written by two instances.

The checkpoint (hash ``<objects stream>:checkpoints``, field = camera) is JSON
``{"from": "<entry id>", "key": [captured_ms, seq] | null}``: a new owner re-reads the camera's
detection entries from ``from`` (inclusive; everything before it is done) and skips those
captured at or before ``key`` (the last frame written; the entries between ``from`` and it
were written already). Field ``<camera>/written`` holds the detection entry written last, so
retrying a write whose reply was lost adds no second entry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from detektor.adapters.redis_streams import DETECTIONS_STREAM_MAXLEN, dead_letter_entry, safe_text

log = logging.getLogger(__name__)
Key = tuple[int, int]
DEAD_LETTER_MAXLEN = 100_000
# How long a dead-lettered entry stays claimed by the instance that wrote it (every instance
# reads every entry; only one of them writes the dead letter).
DEAD_CLAIM_S = 3600

# KEYS: lease, objects stream, checkpoints; ARGV: owner, maxlen, camera, checkpoint, the
# detection entry's id, fields... The entry id written last (field ``<camera>/written``) makes
# a retry after a lost reply a no-op instead of a second entry.
WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local written = ARGV[3] .. '/written'
if redis.call('HGET', KEYS[3], written) == ARGV[5] then
  return 1
end
local fields = {}
for i = 6, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4], written, ARGV[5])
return 1
"""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    resume_from: str  # entry id, inclusive
    key: Key | None  # the last frame written, (captured_ms, seq)

    def to_json(self) -> str:
        return json.dumps({"from": self.resume_from, "key": list(self.key) if self.key else None})

    @classmethod
    def parse(cls, raw: bytes | str | None) -> Checkpoint | None:
        """The stored checkpoint, or None when there is none or it cannot be read."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            start, key = data["from"], data["key"]
            if not isinstance(start, str):
                raise TypeError("from")
            if key is not None:
                ms, seq = key
                if not (isinstance(ms, int) and isinstance(seq, int)):
                    raise TypeError("key")
                key = (ms, seq)
            return cls(start, key)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("objects: ignoring an unreadable checkpoint %r (%s)", raw, exc)
            return None


class ObjectsOutput:
    def __init__(
        self,
        redis: Redis,
        stream: str,
        dead_letter_stream: str,
        lease_key: Callable[[str], str],
        owner: str,
        *,
        maxlen: int = DETECTIONS_STREAM_MAXLEN,
    ) -> None:
        self.redis, self.stream, self.dead_letter_stream = redis, stream, dead_letter_stream
        self.checkpoints = f"{stream}:checkpoints"
        self.lease_key, self.owner, self.maxlen = lease_key, owner, maxlen
        self._write = redis.register_script(WRITE)

    async def write_frame(
        self, camera: str, source: bytes, fields: dict[str, str], cp: Checkpoint
    ) -> bool:
        """Add the frame's objects entry (for detection entry ``source``) and move the
        checkpoint; False: the lease is gone. Writing the same entry again adds nothing."""
        flat = [v for pair in fields.items() for v in pair]
        keys = [self.lease_key(camera), self.stream, self.checkpoints]
        args: list[str | bytes | int] = [self.owner, self.maxlen, camera, cp.to_json(), source]
        args += flat
        return bool(await self._write(keys=keys, args=args))

    async def checkpoint(self, camera: str, first: str) -> Checkpoint | None:
        """The camera's checkpoint; one starting at ``first`` is stored when there is none,
        so what this instance buffers before writing a frame is not lost if it dies."""
        start = Checkpoint(first, None).to_json()
        await self.redis.hsetnx(self.checkpoints, camera, start)  # type: ignore[misc]
        return Checkpoint.parse(await self.redis.hget(self.checkpoints, camera))  # type: ignore[misc]

    async def dead_letter(self, eid: bytes, fields: dict[bytes, bytes], reason: str) -> bool:
        """Dead-letter an entry, unless another instance (every one reads every entry, and a
        new owner re-reads after the checkpoint) claimed it first. True: this one wrote it."""
        claim = f"{self.dead_letter_stream}:claimed:{eid.decode()}"
        if not await self.redis.set(claim, self.owner, nx=True, ex=DEAD_CLAIM_S):
            return False
        payload: dict[Any, Any] = dead_letter_entry(fields, eid, safe_text(reason))
        await self.redis.xadd(
            self.dead_letter_stream, payload, maxlen=DEAD_LETTER_MAXLEN, approximate=True
        )
        log.warning("objects: dead-lettered detection entry %s: %s", eid.decode(), reason)
        return True
