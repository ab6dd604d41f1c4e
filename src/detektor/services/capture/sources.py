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

import abc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

import av
import av.error
import cv2
import numpy as np
from numpy.typing import NDArray

from detektor.kit.redact import mask_url

Image = NDArray[np.uint8]
CATCH_UP_S = 1.0  # a paced source further behind than this skips ahead, as a camera would


class SourceError(OSError):
    """A valid source failed to open or to deliver frames; worth a reconnect."""


class DecodedFrame:
    """One decoded frame. ``image`` (BGR, uint8, HxWx3) is converted on first access."""

    __slots__ = ("_convert", "_image", "height", "pts", "time_s", "wall_ms", "width")

    def __init__(
        self,
        convert: Callable[[], Image],
        *,
        width: int,
        height: int,
        pts: int | None,
        time_s: float,
        wall_ms: int,
    ) -> None:
        self._convert: Callable[[], Image] | None = convert
        self._image: Image | None = None
        self.width, self.height = width, height
        self.pts = pts
        self.time_s = time_s  # stream time, from 0 at connect, monotonic within a connection
        self.wall_ms = wall_ms  # epoch milliseconds when it was decoded

    @property
    def image(self) -> Image:
        image, convert = self._image, self._convert
        if image is None and convert is not None:
            image = self._image = convert()  # set before _convert is dropped: thread-safe
            self._convert = None
        return image if image is not None else cast(Image, self._image)


class Source(abc.ABC):
    """A stream of decoded frames; iterate ``frames()`` once, then ``close()``."""

    description: str  # the URI with credentials masked
    nominal_fps: float | None

    def __init__(self, description: str, nominal_fps: float | None) -> None:
        self.description, self.nominal_fps = description, nominal_fps
        self._closed = threading.Event()

    @abc.abstractmethod
    def frames(self) -> Iterator[DecodedFrame]: ...

    def close(self) -> None:
        self._closed.set()

    def _pace(self, start: float, time_s: float) -> float:
        """Sleep until ``time_s`` after ``start`` (or until closed); how late we are."""
        late = time.monotonic() - (start + time_s)
        if late < 0:
            self._closed.wait(-late)
        return late

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"  # the masked URI only


def open_source(
    uri: str,
    *,
    rtsp_transport: Literal["tcp", "udp"] = "tcp",
    open_timeout_s: float = 10.0,
    read_timeout_s: float | None = None,
    realtime: bool | None = None,
) -> Source:
    """Open ``rtsp://``/``rtsps://``, a file path or ``file://``, or ``synthetic://?…``.

    ``realtime`` paces frames by their timestamps: the default for the synthetic scene, off
    for files (they decode as fast as they can); a camera is live whatever it says.
    ``read_timeout_s`` (default ``open_timeout_s``) bounds how long ``frames()`` waits when no
    data comes. FFmpeg waits twice before it fails (once before it hands out the frame its
    parser still holds, once more), so each of its waits is given half of it.
    """
    if rtsp_transport not in ("tcp", "udp"):
        raise ValueError(f"rtsp_transport must be 'tcp' or 'udp', got {rtsp_transport!r}")
    if not (open_timeout_s > 0 and (read_timeout_s is None or read_timeout_s > 0)):
        raise ValueError("timeouts must be > 0 seconds")
    wait_s = (open_timeout_s if read_timeout_s is None else read_timeout_s) / 2
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme == "synthetic":
        from detektor.services.capture.synthetic import SceneSpec, SyntheticSource  # a cycle

        spec = SceneSpec.parse(uri)
        return SyntheticSource(spec, realtime=True if realtime is None else realtime)
    if scheme in ("rtsp", "rtsps"):
        masked = mask_url(uri)
        if not urlsplit(uri).hostname:
            raise ValueError(f"an RTSP source needs a host (rtsp://host:554/path), got {masked!r}")
        options = rtsp_options(rtsp_transport, wait_s)
        return AvSource(uri, masked, options, open_timeout_s, wait_s, live=True)
    if scheme in ("file", ""):
        path = _file_path(uri)
        if not path.is_file():
            raise ValueError(f"video file not found: {path}")
        return AvSource(str(path), str(path), {}, open_timeout_s, wait_s, realtime=bool(realtime))
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
    skipped and counted in ``corrupt_packets``; it does not end the stream.
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
        self._lock = threading.Lock()  # guards _reading: close() must not free under a read
        self._reading = False
        self._started = False
        self.corrupt_packets = 0

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
            self._release()

    def _decode(self) -> Iterator[av.VideoFrame]:
        for packet in self._container.demux(self._stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                self.corrupt_packets += 1
                continue
            yield from frames

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
