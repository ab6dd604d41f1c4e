"""Video sources: an RTSP camera, a file, or the synthetic scene, behind one small interface.

``open_source(uri)`` checks the URI (``ValueError`` with what to write instead), opens it and
returns a ``Source`` whose ``frames()`` yields ``DecodedFrame``s. A frame's pixels are
converted to BGR only when ``frame.image`` is first read: sampling passes over most decoded
frames, and the conversion is the costly part of capture.

Failures of a source that was valid (a refused connection, a dead server, a broken stream)
raise ``SourceError``, whose message carries the masked URI only: FFmpeg's own errors embed
the full URL, credentials included, so they are never chained. A read that gets no data for
``read_timeout_s`` fails, so a dead server cannot hang ``frames()``; ``close()`` may be called
from another thread and takes effect when the current read returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

import av
import av.error
import cv2

from detektor.kit.redact import mask_url
from detektor.services.capture.source_base import (
    CATCH_UP_S,
    DecodedFrame,
    Image,
    PacketSink,
    Source,
    SourceError,
)
from detektor.services.capture.synthetic import SceneSpec, SyntheticSource

# The interface is defined in source_base; importers of this module keep these names.
__all__ = [
    "DecodedFrame",
    "Image",
    "PacketSink",
    "Source",
    "SourceError",
    "open_source",
    "rtsp_options",
]


def open_source(
    uri: str,
    *,
    rtsp_transport: Literal["tcp", "udp"] = "tcp",
    open_timeout_s: float = 10.0,
    read_timeout_s: float | None = None,
    realtime: bool | None = None,
    recorder: PacketSink | None = None,
) -> Source:
    """Open ``rtsp://``/``rtsps://``, a file path or ``file://``, or ``synthetic://?…``.

    ``realtime`` paces frames by their timestamps: the default for the synthetic scene, off
    for files (they decode as fast as they can); a camera is live whatever it says.
    ``read_timeout_s`` (default ``open_timeout_s``) bounds how long ``frames()`` waits when no
    data comes. FFmpeg waits twice before it fails (once before it hands out the frame its
    parser still holds, once more), so each of its waits is given half of it.

    ``recorder`` gets every packet demuxed from an RTSP stream or a file (video, and audio
    when there is some) as well as the decoder: the stream is demuxed once for both. The
    synthetic scene has no packets and ignores it: synthetic cameras are not recorded.
    """
    if rtsp_transport not in ("tcp", "udp"):
        raise ValueError(f"rtsp_transport must be 'tcp' or 'udp', got {rtsp_transport!r}")
    if not (open_timeout_s > 0 and (read_timeout_s is None or read_timeout_s > 0)):
        raise ValueError("timeouts must be > 0 seconds")
    wait_s = (open_timeout_s if read_timeout_s is None else read_timeout_s) / 2
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme == "synthetic":
        spec = SceneSpec.parse(uri)
        return SyntheticSource(spec, realtime=True if realtime is None else realtime)
    if scheme in ("rtsp", "rtsps"):
        masked = mask_url(uri)
        if not urlsplit(uri).hostname:
            raise ValueError(f"an RTSP source needs a host (rtsp://host:554/path), got {masked!r}")
        options = rtsp_options(rtsp_transport, wait_s)
        return AvSource(uri, masked, options, open_timeout_s, wait_s, live=True, recorder=recorder)
    if scheme in ("file", ""):
        path = _file_path(uri)
        if not path.is_file():
            raise ValueError(f"video file not found: {path}")
        return AvSource(
            str(path),
            str(path),
            {},
            open_timeout_s,
            wait_s,
            realtime=bool(realtime),
            recorder=recorder,
        )
    raise ValueError(
        f"unknown source scheme {scheme + '://'!r}: use rtsp://…, file://…, a file path, "
        "or synthetic://?fps=10&size=640x480"
    )


def rtsp_options(transport: Literal["tcp", "udp"], timeout_s: float) -> dict[str, str]:
    """FFmpeg's RTSP options: since FFmpeg 5 (PyAV 18 has 8) ``timeout`` is the socket I/O
    timeout in microseconds; the older ``stimeout`` is gone, and would be ignored."""
    return {"rtsp_transport": transport, "timeout": str(round(timeout_s * 1_000_000))}


def _file_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.scheme.lower() != "file":
        return Path(uri).expanduser()
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise ValueError(f"a file URI looks like file:///path/to/video.mp4, got {uri!r}")
    return Path(unquote(parts.path))


class AvSource(Source):
    """An RTSP stream or a file decoded by PyAV/FFmpeg (its first video stream, threaded).

    A file decodes on every core; a live stream on two threads, as frame threading delays
    each frame by one per extra thread. A packet the decoder rejects (a loss over UDP) is
    skipped; it does not end the stream. With a ``recorder``, the audio stream is demuxed too
    and every packet goes to it after the decoder (the recorder sees rejected ones as well).
    """

    def __init__(
        self,
        target: str,
        description: str,
        options: dict[str, str],
        open_timeout_s: float,
        read_timeout_s: float,
        *,
        realtime: bool = False,
        live: bool = False,
        recorder: PacketSink | None = None,
    ) -> None:
        try:
            container = av.open(target, options=options, timeout=(open_timeout_s, read_timeout_s))
        except av.error.FFmpegError as exc:
            raise SourceError(f"cannot open {description}: {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"{description} has no video stream")
        self._container = container
        self._stream = container.streams.video[0]
        self._stream.thread_type = "AUTO"
        if live:
            self._stream.codec_context.thread_count = 2
        rate = self._stream.average_rate or self._stream.guessed_rate
        super().__init__(description, float(rate) if rate else None)
        self._realtime = realtime
        self._recorder = recorder
        self._lock = threading.Lock()  # guards _reading: close() must not free under a read
        self._reading = False
        self._started = False

    def frames(self) -> Iterator[DecodedFrame]:
        if self._started:
            raise RuntimeError("frames() can be iterated once per open_source()")
        self._started = True
        decoded = self._decode()
        start = time.monotonic()
        clock = StreamClock(1.0 / (self.nominal_fps or 25.0))
        try:
            while True:
                with self._lock:
                    if self._closed.is_set():
                        return
                    self._reading = True
                try:
                    frame = next(decoded, None)
                except av.error.FFmpegError as exc:
                    raise SourceError(f"{self.description}: {_reason(exc)}") from None
                finally:
                    with self._lock:
                        self._reading = False
                if frame is None or self._closed.is_set():
                    return
                time_s = clock.time_of(frame.time)
                if self._realtime and self._pace(start, time_s) > CATCH_UP_S:
                    start = time.monotonic() - time_s
                yield DecodedFrame(
                    _bgr_converter(frame),
                    width=frame.width,
                    height=frame.height,
                    pts=frame.pts,
                    time_s=time_s,
                    wall_ms=time.time_ns() // 1_000_000,
                )
        finally:
            decoded.close()  # the recorder's stop() runs here, in the reading thread
            self._release()

    def _decode(self) -> Generator[av.VideoFrame]:
        if self._recorder is not None:
            yield from self._decode_and_record(self._recorder)
            return
        for packet in self._container.demux(self._stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            yield from frames

    def _decode_and_record(self, recorder: PacketSink) -> Iterator[av.VideoFrame]:
        audio = self._container.streams.audio[0] if self._container.streams.audio else None
        video = self._stream.index
        recorder.start(self._stream, audio)
        try:
            demuxed = self._container.demux(self._stream, *([audio] if audio else []))
            for packet in demuxed:
                if packet.stream.index != video:
                    recorder.packet(packet)
                    continue
                try:
                    frames = cast(list[av.VideoFrame], packet.decode())
                except av.error.InvalidDataError:
                    frames = []
                recorder.packet(packet)  # after decoding: the recorder rewrites the packet
                yield from frames
        finally:
            recorder.stop()

    def close(self) -> None:
        super().close()
        with self._lock:
            if self._reading:
                return  # the reading thread releases the container when its read returns
        self._release()

    def _release(self) -> None:
        with self._lock:
            if not self._reading:
                self._container.close()


class StreamClock:
    """A connection's stream time: 0 at its first frame, never going backwards.

    A frame without a timestamp (RTSP's first, before RTCP sync), or one whose timestamp goes
    back (a camera resetting its clock), is placed one ``step_s`` after the previous one.
    """

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s
        self._offset: float | None = None
        self._last: float | None = None

    def time_of(self, raw: float | None) -> float:
        last = self._last
        if raw is None:
            now = 0.0 if last is None else last + self.step_s
        else:
            if self._offset is None or (last is not None and raw - self._offset < last):
                self._offset = raw - (0.0 if last is None else last + self.step_s)
            now = raw - self._offset
        self._last = now
        return now


def _bgr_converter(frame: av.VideoFrame) -> Callable[[], Image]:
    i420 = frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0

    def convert() -> Image:
        if i420:  # OpenCV's I420 conversion is about 1.5x as fast as swscale's here
            return cast(Image, cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420))
        return cast(Image, frame.to_ndarray(format="bgr24"))

    return convert


def _reason(exc: av.error.FFmpegError) -> str:
    """FFmpeg's reason without the file name, which may hold credentials."""
    if isinstance(exc, av.error.ExitError):  # PyAV's own timeout interrupted FFmpeg
        return "timed out waiting for data"
    return str(exc.strerror or type(exc).__name__)
