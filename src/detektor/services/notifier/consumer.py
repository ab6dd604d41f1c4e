"""Reading the per-frame stream (consumer group ``notifier``), and watching for captures.

The stream is ``notifier.detections_stream`` (in compose the objects service's
``detektor:objects``). Each entry is a frame, with its object events in ``objects``, or
(``kind`` = ``objects``) object events that came with no frame: a still scene, a camera gone
quiet, a stop, a takeover (see ``entries.py``).

``DetectionsConsumer`` hands each entry to the ``Notifier`` and acknowledges it only after
the broker has acknowledged what it caused: a notifier that dies mid-frame re-reads its own
pending entries on start (at-least-once: a repeat can show as a repeated event in HA and a
second completion, an anomaly, in the frame's timeline, never as a loss; an object event
taken again changes no state twice and sends the very same message). While the
broker is unreachable nothing is read, so entries wait in Redis; object events older than
``max_event_age_s`` by the time they are read update the states but are not sent as events
(``stale``).

An entry that cannot be used (missing fields, bad JSON, a box that is not four numbers, a
number out of range, an object event that is malformed, of another type or of another
camera, a camera the notifier is not configured for) goes to ``<stream>:dead`` with the
reason, its frame (when the id parses) gets ``frame.failed``, and it is acknowledged; the
entries after it go on. Nothing in an entry can crash the consumer.

``CaptureWatcher`` follows the lifecycle-events stream without a group (plain XREAD from
now on) for ``frame.captured``: that is what keeps a camera's entity ``connected`` while the
motion gate lets no frame through to the detector.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from redis.asyncio import Redis

from detektor.adapters.redis_streams import (
    dead_letter_entry,
    ensure_group,
    follow,
    group_lag,
    safe_text,
)
from detektor.domain.frames import CAMERA_RE
from detektor.kit.health import Liveness
from detektor.kit.transient import is_transient
from detektor.kit.workers import pause
from detektor.services.notifier.entries import parse_entry, parse_frameless, raw_frame_id
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink, PublishError, Refused
from detektor.services.notifier.publisher import Notifier

log = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]
WORKER = "detections-consumer"


class DetectionsConsumer:
    def __init__(
        self,
        redis: Redis,
        notifier: Notifier,
        link: MqttLink,
        stream: str,
        metrics: NotifierMetrics,
        liveness: Liveness,
    ) -> None:
        self.redis, self.notifier, self.link = redis, notifier, link
        self.cfg = notifier.cfg
        self.stream, self.dead_letter_stream = stream, f"{stream}:dead"
        self.metrics, self.liveness = metrics, liveness
        # The configured cameras: the Notifier creates their states when it is made, before
        # any entry is read. With none configured, every camera is welcome.
        self.cameras = frozenset(notifier.states)
        self.stopping = asyncio.Event()
        self._last_claim = 0.0

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; Redis or broker outages are waited out, not fatal."""
        delay = 0.5
        silence = 60 + self.cfg.block_ms / 1000 + self.cfg.publish_timeout_s
        while not self.stopping.is_set():
            try:
                await self._ensure_group()
                own_pending = True
                while not self.stopping.is_set():
                    self.liveness.beat(WORKER, max_silence_s=silence)
                    if not self.link.ready.is_set():
                        await self._wait_ready()
                        own_pending = True  # re-read what was in hand when the link broke
                        continue
                    if own_pending:
                        entries = await self._read("0", block=None)
                        own_pending = bool(entries)
                    else:
                        await self._claim_stale()
                        entries = await self._read(">", block=self.cfg.block_ms)
                    if entries:
                        await self.process(entries)
                    delay = 0.5
            except Exception as exc:
                if not (is_transient(exc) or isinstance(exc, PublishError)):
                    raise
                self.liveness.beat(WORKER, max_silence_s=silence + 60)
                log.warning("notifier paused (%s); retrying in %.1fs", exc, delay)
                await pause(self.stopping, delay)
                delay = min(delay * 2, 10.0)

    async def _wait_ready(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.link.ready.wait(), 1.0)

    async def _ensure_group(self) -> None:
        await ensure_group(self.redis, self.stream, self.cfg.group)

    async def _read(self, start: str, block: int | None) -> list[Entry]:
        reply = await self.redis.xreadgroup(
            self.cfg.group,
            self.cfg.consumer,
            {self.stream: start},
            count=self.cfg.read_count,
            block=block,
        )
        return [(eid, fields or {}) for _, entries in reply or [] for eid, fields in entries]

    async def _claim_stale(self) -> None:
        now = time.monotonic()
        if now - self._last_claim < self.cfg.claim_idle_ms / 2000:
            return
        self._last_claim = now
        reply = await self.redis.xautoclaim(
            self.stream,
            self.cfg.group,
            self.cfg.consumer,
            min_idle_time=self.cfg.claim_idle_ms,
            start_id="0-0",
            count=self.cfg.read_count,
        )
        claimed = [(eid, fields or {}) for eid, fields in reply[1]]
        if claimed:
            log.info("claimed %d detection entries left pending by another notifier", len(claimed))
            await self.process(claimed)
        for group in await self.redis.xinfo_groups(self.stream):
            if group["name"] in (self.cfg.group, self.cfg.group.encode()):
                self.metrics.consumer_lag.set(await group_lag(self.redis, self.stream, group))

    async def process(self, entries: list[Entry]) -> None:
        """Publish each entry in order, acknowledging each once the broker has it."""
        for eid, fields in entries:
            received = self.notifier.clock()
            if fields:  # an entry trimmed from the stream while pending has none
                await self._one(eid, fields, received)
            await self.redis.xack(self.stream, self.cfg.group, eid)

    async def _one(self, eid: bytes, fields: dict[bytes, bytes], received: float) -> None:
        if fields.get(b"kind") == b"objects":  # object events with no frame to complete
            events = parse_frameless(fields)
            if isinstance(events, str):
                await self._reject(eid, fields, events)
                return
            what = f"the object events of entry {eid.decode()}"
            await self._publish(eid, fields, lambda: self.notifier.handle_objects(events), what)
            return
        entry = parse_entry(fields)
        if isinstance(entry, str):
            await self._reject(eid, fields, entry)
            return
        if self.cameras and entry.camera not in self.cameras:
            known = ", ".join(sorted(self.cameras))
            await self._reject(eid, fields, f"unknown camera {entry.camera!r} (known: {known})")
            return
        frame = entry
        await self._publish(
            eid, fields, lambda: self.notifier.handle(frame, received), str(entry.frame_id)
        )

    async def _publish(
        self,
        eid: bytes,
        fields: dict[bytes, bytes],
        send: Callable[[], Awaitable[object]],
        what: str,
    ) -> None:
        try:
            await send()
        except Refused as exc:
            await self._reject(eid, fields, str(exc))
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, PublishError):
                raise  # not acknowledged: retried once the broker is back
            log.exception("notifier failed on %s", what)
            await self._reject(eid, fields, f"notifier error: {type(exc).__name__}: {exc}")

    async def _reject(self, eid: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        reason = safe_text(reason)  # also recorded in frame.failed, which must be valid text
        payload: dict[Any, Any] = dead_letter_entry(fields, eid, reason)  # redis-py's Dict
        await self.redis.xadd(self.dead_letter_stream, payload, maxlen=100_000, approximate=True)
        self.metrics.dead_letters.inc()
        log.warning("dead-lettered detection entry %s: %s", eid.decode(), reason)
        frame_id = raw_frame_id(fields)
        if frame_id is not None:
            await self.notifier.fail(frame_id, reason)


class CaptureWatcher:
    """Marks cameras connected from ``frame.captured`` events on the lifecycle stream."""

    def __init__(self, redis: Redis, stream: str, notifier: Notifier) -> None:
        self.redis, self.stream, self.notifier = redis, stream, notifier
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        async for entries in follow(self.redis, self.stream, self.stopping):
            seen: set[str] = set()
            for _, fields in entries:
                raw = fields.get(b"envelope", b"")
                if b'"frame.captured"' in raw and (camera := _camera_of(raw)):
                    seen.add(camera)
            for camera in seen:
                self.notifier.camera_seen(camera)


def _camera_of(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    camera = data.get("camera") if isinstance(data, dict) else None
    # Only well-formed camera names become HA devices.
    return camera if isinstance(camera, str) and CAMERA_RE.fullmatch(camera) else None
