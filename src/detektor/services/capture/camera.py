"""One camera's loop: connect, decode, sample, gate by motion, publish, record every decision.

Decoding, sampling, the motion check and JPEG encoding run in a worker thread (they block
and use the CPU); the event loop side builds the lifecycle events, opens the frame's
``create`` span, publishes to the bus and emits the events. A bounded hand-off queue applies
back-pressure to decoding instead of growing memory. With ``send_images`` (the in-memory bus
of ``detektor run``, issue 16) no JPEG is made: the decoded frame itself goes on the bus.

Each sampled frame's events (``frame.captured``, then skipped, queued or dropped) and its
publication are `publishing.publish_sampled`'s. A recorded camera also tells the recording's
``motion`` sink whether each sampled frame moved. A source that fails or stalls is reopened
with exponential backoff and jitter; a file source that ends stops the camera.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import cv2
from anyio import to_thread

from detektor.domain.frames import FrameId
from detektor.kit.backoff import Backoff
from detektor.kit.health import Liveness
from detektor.kit.workers import pause
from detektor.pipeline.metrics import PipelineMetrics
from detektor.ports import EventSink, FrameBus
from detektor.services.capture.frames import MotionSink, Sampled
from detektor.services.capture.metrics import CaptureMetrics
from detektor.services.capture.motion import MotionGate
from detektor.services.capture.publishing import publish_sampled
from detektor.services.capture.sampler import Sampler
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.sources import (
    DecodedFrame,
    PacketSink,
    Source,
    SourceError,
    open_source,
)

log = logging.getLogger(__name__)
_END = object()


class CameraWorker:
    def __init__(
        self,
        camera: CameraSettings,
        bus: FrameBus,
        sink: EventSink,
        metrics: CaptureMetrics,
        pipeline: PipelineMetrics,
        liveness: Liveness,
        *,
        realtime_files: bool = False,
        recorder: PacketSink | None = None,
        send_images: bool = False,
        motion: MotionSink | None = None,
    ) -> None:
        self.camera = camera
        self.recorder = recorder  # one per camera, for every connection
        self.motion = motion  # the recording's motion spans, when the camera is recorded
        self.name = camera.name
        self.bus, self.sink = bus, sink
        self.metrics, self.pipeline, self.liveness = metrics, pipeline, liveness
        self.realtime_files = realtime_files
        self.send_images = send_images  # the bus is in this process: no JPEG round trip
        self.stopping = asyncio.Event()
        self._thread_stop = threading.Event()
        self.seq = 0
        self.decoded = 0
        self.sampled = 0
        self.finished = False  # a file source played to its end
        self._reported = (0, 0)
        self.metrics.up.labels(self.name).set(0)
        self.metrics.target_fps.labels(self.name).set(camera.detect_fps)

    def stop(self) -> None:
        self.stopping.set()
        self._thread_stop.set()

    def report_rates(self, elapsed_s: float) -> tuple[float, float]:
        """Set the fps gauges from the counts since the previous call; (decoded, sampled)."""
        decoded = (self.decoded - self._reported[0]) / elapsed_s
        sampled = (self.sampled - self._reported[1]) / elapsed_s
        self._reported = (self.decoded, self.sampled)
        self.metrics.fps.labels(self.name, "decoded").set(decoded)
        self.metrics.fps.labels(self.name, "sampled").set(sampled)
        return decoded, sampled

    async def run(self) -> None:
        backoff = Backoff(self.camera.reconnect_initial_s, self.camera.reconnect_max_s)
        uri = self.camera.source.get_secret_value()
        while not self.stopping.is_set():
            self._beat()
            try:
                source = await to_thread.run_sync(self._open, uri)
            except SourceError as exc:
                delay = backoff.next_delay()
                self.metrics.reconnects.labels(self.name).inc()
                log.warning(
                    "camera %s: %s; retrying in %.1fs",
                    self.name,
                    exc,
                    delay,
                    extra={"camera": self.name},
                )
                await pause(self.stopping, delay)
                continue
            log.info(
                "camera %s connected to %s",
                self.name,
                source.description,
                extra={"camera": self.name},
            )
            try:
                ended = await self._stream(source, backoff)
            finally:
                self.metrics.up.labels(self.name).set(0)
                await to_thread.run_sync(source.close)
            is_file = not uri.startswith(("rtsp://", "rtsps://", "synthetic://"))
            if ended and is_file and self.camera.loop and not self.stopping.is_set():
                log.debug("camera %s: the file ended; looping", self.name)
                continue
            if ended and is_file:
                log.info("camera %s: the file ended", self.name, extra={"camera": self.name})
                self.finished = True
                return
            if not self.stopping.is_set():
                delay = backoff.next_delay()
                self.metrics.reconnects.labels(self.name).inc()
                log.warning(
                    "camera %s lost its stream; reconnecting in %.1fs",
                    self.name,
                    delay,
                    extra={"camera": self.name},
                )
                await pause(self.stopping, delay)

    def _beat(self) -> None:
        """Progress: a connection attempt, or a decoded frame (called from the reader thread
        too; it only stores a timestamp). Silence past a stall, the longest backoff and a
        margin means the camera's loop is stuck."""
        cam = self.camera
        self.liveness.beat(
            f"camera:{self.name}",
            max_silence_s=2 * cam.stall_timeout_s + cam.reconnect_max_s + 60,
        )

    def _open(self, uri: str) -> Source:
        cam = self.camera
        return open_source(
            uri,
            rtsp_transport=cam.rtsp_transport,
            open_timeout_s=cam.stall_timeout_s,
            read_timeout_s=cam.stall_timeout_s,
            # A looped file is a camera that never ends: pace it like one.
            realtime=True if self.realtime_files or cam.loop else None,
            recorder=self.recorder,
        )

    async def _stream(self, source: Source, backoff: Backoff) -> bool:
        """Run one connection; True when the source ended, False when it failed or stalled."""
        loop = asyncio.get_running_loop()
        handoff: asyncio.Queue[object] = asyncio.Queue(maxsize=8)
        outcome: dict[str, object] = {}

        def put(item: object) -> None:
            asyncio.run_coroutine_threadsafe(handoff.put(item), loop).result()

        def read() -> None:
            try:
                self._read(source, put, backoff)
                outcome["ended"] = True
            except (SourceError, OSError) as exc:
                outcome["error"] = exc
            finally:
                if self.motion is not None:  # no frames until the next connection
                    self.motion.flush()
                put(_END)

        reader = threading.Thread(target=read, name=f"capture-{self.name}", daemon=True)
        reader.start()
        while (item := await handoff.get()) is not _END:
            assert isinstance(item, Sampled)
            await self._publish(item)
        await to_thread.run_sync(reader.join)
        if "error" in outcome and not self.stopping.is_set():
            log.warning("camera %s: %s", self.name, outcome["error"], extra={"camera": self.name})
        return bool(outcome.get("ended")) and not self._thread_stop.is_set()

    def _read(self, source: Source, put: Callable[[object], None], backoff: Backoff) -> None:
        sampler = Sampler(self.camera.detect_fps)
        gate: MotionGate | None = None
        for decoded, frame in enumerate(source.frames()):
            if self._thread_stop.is_set():
                return
            if decoded == 0:  # frames flow again: the camera is up, and the backoff resets
                self.metrics.up.labels(self.name).set(1)
                backoff.reset()
            self.decoded += 1
            self._beat()
            self.metrics.decoded.labels(self.name).inc()
            if not sampler.sample(frame.time_s):
                continue
            if gate is None:
                gate = MotionGate(
                    self.camera.motion, self.camera.masks, (frame.width, frame.height)
                )
            sampled = self._sample(frame, gate)
            if self.motion is not None:
                self.motion.frame(sampled.wall_ms, sampled.moving)
            put(sampled)

    def _sample(self, frame: DecodedFrame, gate: MotionGate) -> Sampled:
        self.seq += 1
        self.sampled += 1
        image = frame.image
        if self.camera.motion.enabled:
            result = gate.check(image)
            moving, reason = result.moving, result.reason
        else:
            moving, reason = True, None
        jpeg = None
        if moving and not self.send_images:
            ok, buf = cv2.imencode(
                ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.camera.jpeg_quality]
            )
            jpeg = buf.tobytes() if ok else None
        return Sampled(
            FrameId.make(self.name, frame.wall_ms, self.seq),
            frame.pts,
            frame.width,
            frame.height,
            frame.wall_ms,
            moving,
            reason,
            jpeg,
            image if moving and self.send_images else None,
        )

    async def _publish(self, item: Sampled) -> None:
        await publish_sampled(item, self.camera, self.bus, self.sink, self.pipeline)
