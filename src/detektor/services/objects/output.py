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

The same fenced write keeps each camera's **open objects** (hash ``<objects stream>:open:<camera>``,
object id -> its last event): set by ``object.started|updated``, deleted by ``object.ended``.
A new owner ends what is left there after an owner died (``takeover.py``). Object events that
come with no frame (a still scene, a camera gone quiet, a stop) go on the objects stream as an
entry of their own, ``kind`` = ``objects``, so the notifier hears of them too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from detektor.adapters.redis_streams import DETECTIONS_STREAM_MAXLEN, dead_letter_entry, safe_text
from detektor.domain.events import Envelope, EventType

log = logging.getLogger(__name__)
Key = tuple[int, int]
DEAD_LETTER_MAXLEN = 100_000
# How long a dead-lettered entry stays claimed by the instance that wrote it (every instance
# reads every entry; only one of them writes the dead letter).
DEAD_CLAIM_S = 3600

# KEYS: lease, objects stream, checkpoints, the camera's open objects; ARGV: owner, maxlen,
# camera, checkpoint ('' for object events with no frame: no checkpoint moves), the detection
# entry's id, how many open objects to set and to delete, (id, envelope) pairs, ids, fields...
# The entry id written last (field ``<camera>/written``) makes a retry after a lost reply a
# no-op instead of a second entry.
WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local framed = ARGV[4] ~= ''
local written = ARGV[3] .. '/written'
if framed and redis.call('HGET', KEYS[3], written) == ARGV[5] then
  return 1
end
local at = 8
for _ = 1, tonumber(ARGV[6]) do
  redis.call('HSET', KEYS[4], ARGV[at], ARGV[at + 1])
  at = at + 2
end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HDEL', KEYS[4], ARGV[at])
  at = at + 1
end
local fields = {}
for i = at, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
if framed then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4], written, ARGV[5])
end
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


def open_changes(events: Sequence[Envelope]) -> tuple[dict[str, str], list[str]]:
    """What ``events`` do to the open objects: (id -> its last event, to set; ids to delete)."""
    opened: dict[str, str] = {}
    closed: list[str] = []
    for event in events:
        object_id = str(event.data.get("object_id", ""))
        if event.type is EventType.OBJECT_ENDED:
            opened.pop(object_id, None)
            closed.append(object_id)
        elif event.is_object_event:
            opened[object_id] = json.dumps(event.to_dict())
            if object_id in closed:
                closed.remove(object_id)
    return opened, closed


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
        self,
        camera: str,
        source: bytes,
        fields: dict[str, str],
        cp: Checkpoint,
        events: Sequence[Envelope] = (),
    ) -> bool:
        """Add the frame's objects entry (for detection entry ``source``), move the
        checkpoint and note its ``events`` in the camera's open objects; False: the lease is
        gone. Writing the same entry again adds nothing."""
        return await self._fenced(camera, fields, events, cp.to_json(), source)

    async def write_events(self, camera: str, events: Sequence[Envelope]) -> bool:
        """An entry of object events that came with no frame (``kind`` = ``objects``), for
        the notifier; False: the lease is gone. A retry after a lost reply may add it twice
        (the notifier takes an event again without a second change)."""
        fields = {
            "kind": "objects",
            "camera": camera,
            "objects": json.dumps([e.to_dict() for e in events]),
        }
        return await self._fenced(camera, fields, events, "", b"")

    async def open_objects(self, camera: str) -> dict[str, bytes]:
        """The camera's objects that started and did not end, by id: each one's last event
        (an envelope as JSON), as the fenced writes left them."""
        found = await self.redis.hgetall(self.open_key(camera))  # type: ignore[misc]
        return {k.decode(): v for k, v in found.items()}

    async def forget_open(self, camera: str, object_ids: list[str]) -> None:
        await self.redis.hdel(self.open_key(camera), *object_ids)  # type: ignore[misc]

    def open_key(self, camera: str) -> str:
        return f"{self.stream}:open:{camera}"

    async def _fenced(
        self,
        camera: str,
        fields: dict[str, str],
        events: Sequence[Envelope],
        checkpoint: str,
        source: bytes,
    ) -> bool:
        opened, closed = open_changes(events)
        keys = [self.lease_key(camera), self.stream, self.checkpoints, self.open_key(camera)]
        args: list[str | bytes | int] = [self.owner, self.maxlen, camera, checkpoint, source]
        args += [len(opened), len(closed)]
        args += [v for pair in opened.items() for v in pair]
        args += closed
        args += [v for pair in fields.items() for v in pair]
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
