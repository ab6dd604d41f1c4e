"""What every video source is: the ``Source`` interface, ``DecodedFrame`` and ``SourceError``.

Kept apart from ``sources`` (which opens RTSP and files) so that ``synthetic`` can implement
the interface without importing the module that constructs it: ``sources`` imports
``synthetic`` and ``synthetic`` imports only this module, so there is no import cycle.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import av
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

Image = NDArray[np.uint8]
CATCH_UP_S = 1.0  # a paced source further behind than this skips ahead, as a camera would


class PacketSink(Protocol):
    """Gets a source's demuxed packets as well as its decoder (the recorder): ``start`` at
    each connection, ``packet`` for each video and audio packet once the decoder has had
    it (the sink may then change it), ``stop`` when the connection ends."""

    def start(self, video: VideoStream, audio: AudioStream | None) -> None: ...

    def packet(self, packet: av.Packet[Any]) -> None: ...

    def stop(self) -> None: ...


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
