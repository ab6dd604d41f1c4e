"""Camera leases: which ``serve objects`` instance owns a camera, held in Redis.

A camera's tracker must run in exactly one place, so each camera has a lease key
``<prefix>:lease:<camera>`` whose value is its owner's name. It is taken with ``SET NX PX``
(nobody holds it, or it expired), and renewed and released only by its owner: the compare
and the ``PEXPIRE``/``DEL`` run in one Lua script, so an instance whose lease already went to
another can never extend or delete the new owner's.

The owner renews every ``ttl / 3``. Each lease also has a local deadline: the time the last
successful ``SET``/``PEXPIRE`` was *sent* plus the ttl, which is never later than Redis's own
expiry. ``holds`` answers from that deadline, so when Redis cannot be reached the owner stops
processing a camera by the time another instance may take it, and takes it again (if it is
still free) once Redis answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis

from detektor.kit.transient import is_transient

log = logging.getLogger(__name__)

# KEYS[1] lease, ARGV[1] owner, ARGV[2] ttl ms: extend it only if it is still ours.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] lease, ARGV[1] owner: delete it only if it is still ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class CameraLeases:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        owner: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis, self.prefix, self.owner, self.ttl_s = redis, prefix, owner, ttl_s
        self.clock = clock
        self._deadlines: dict[str, float] = {}  # camera -> local expiry (clock)
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    @property
    def renew_interval_s(self) -> float:
        return self.ttl_s / 3

    def key(self, camera: str) -> str:
        return f"{self.prefix}:lease:{camera}"

    @property
    def _ttl_ms(self) -> int:
        return max(int(self.ttl_s * 1000), 1)

    async def acquire(self, camera: str) -> bool:
        """Take the camera's lease if it is free (or already ours); True when we hold it."""
        if self.holds(camera):
            return True
        sent = self.clock()
        taken = await self.redis.set(self.key(camera), self.owner, nx=True, px=self._ttl_ms)
        if not taken:
            # Ours after all (taken before a Redis outage that outlived our local deadline)?
            args: list[str | int] = [self.owner, self._ttl_ms]
            taken = bool(await self._renew(keys=[self.key(camera)], args=args))
        if taken:
            self._deadlines[camera] = sent + self.ttl_s
            log.info("objects: %s now owns camera %s", self.owner, camera)
        return bool(taken)

    def holds(self, camera: str) -> bool:
        """Whether this instance may process ``camera`` now (its lease has not run out)."""
        deadline = self._deadlines.get(camera)
        return deadline is not None and self.clock() < deadline

    def owned(self) -> set[str]:
        return {camera for camera in self._deadlines if self.holds(camera)}

    def forget(self, camera: str) -> None:
        """Stop counting ``camera`` as ours (lost, found taken by another)."""
        self._deadlines.pop(camera, None)

    async def renew_all(self) -> list[str]:
        """Extend every lease we hold; returns the cameras lost (taken by another, expired
        in Redis, or past the local deadline while Redis did not answer)."""
        lost: list[str] = []
        for camera in sorted(self._deadlines):
            sent = self.clock()
            try:
                ok = await self._renew(keys=[self.key(camera)], args=[self.owner, self._ttl_ms])
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if not self.holds(camera):
                    lost.append(camera)
                    log.warning("objects: lease of %s ran out while Redis is away", camera)
                continue
            if ok:
                self._deadlines[camera] = sent + self.ttl_s
            else:
                lost.append(camera)
                log.warning("objects: lost the lease of camera %s", camera)
        for camera in lost:
            self._deadlines.pop(camera, None)
        return lost

    async def release_all(self) -> None:
        """Give every lease back (a clean stop), so another instance takes over at once."""
        for camera in sorted(self._deadlines):
            try:
                await self._release(keys=[self.key(camera)], args=[self.owner])
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("objects: could not release %s (%s); it expires by itself", camera, exc)
        self._deadlines.clear()
