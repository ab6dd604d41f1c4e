"""The recorder: a camera's demuxed packets remuxed, not re-encoded, into MP4 segments.

``Recorder.start(video, audio)`` is told the streams of a new input (a connection, or a
reconnect: it starts a new segment, and the time between the last segment and the next is
reported as a ``Gap``); ``packet(p)`` gets every packet of those streams as demuxed, in the
thread that demuxes; ``stop()`` ends the input and closes its segment; ``close()`` ends all.

A segment is cut at the first video keyframe at least ``segment_s`` after its start, so
segments last ``segment_s`` rounded up to a GOP. Wall time is the clock at the input's first
video packet (or the end of the last segment, if later: a file read faster than real time
must not overlap itself) plus the packet's pts offset from it. Packets the muxer would
refuse are fixed or dropped by ``PacketTimes``. Each closed segment goes to ``on_segment``;
callbacks run in the demuxing thread and must be quick (and must not call the recorder). It
owns each packet it is given (it rewrites its timestamps), so the caller decodes it first.

A write that fails (disk full, permissions, a root that is not a folder, a header the muxer
refuses) never reaches the caller: the segment being written is deleted, the recorder logs
once, reports ``stalled`` through ``on_stall(True)``, drops packets and tries a new segment
at a keyframe every ``retry_s``; the first segment that closes ends the stall
(``on_stall(False)``). A single packet the muxer refuses is dropped.

``paused`` (set by retention when the disk cannot take more, from any thread): the segment
being written is closed and packets are dropped until it is cleared; recording then resumes
at the next keyframe, after a ``stalled`` gap.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import av
import av.error
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.stream import Stream
from av.video.stream import VideoStream

from detektor.services.capture.packet_times import Track, track_of
from detektor.services.capture.segments import (
    AUDIO_CODECS,
    CODEC_TAGS,
    MP4_OPTIONS,
    VIDEO_CODECS,
    Gap,
    PartFile,
    Segment,
    part_of,
    segment_path,
    start_tag,
)

log = logging.getLogger(__name__)
WRITE_BUFFER = 256 << 10  # bytes FFmpeg gathers before each write(): fewer calls into Python

_T = TypeVar("_T")


@dataclass(slots=True)
class _Open:
    """The segment being written."""

    path: Path
    file: PartFile
    container: OutputContainer
    streams: dict[int, Stream]  # input stream index -> its output stream
    base: dict[int, int]  # input stream index -> the dts (its ticks) that is 0 in the file
    start_t: float  # stream seconds of the first keyframe
    start: datetime
    gap: Literal["reconnect", "stalled"] | None
    end_t: float = 0.0
    keyframes: int = 0
    muxed: int = 0  # packets accepted by the muxer
    codec: str = ""
    audio: bool = False


class Recorder:
    """Segments of one camera under ``root/<camera>/``; see the module docstring."""

    def __init__(
        self,
        camera: str,
        root: Path,
        *,
        segment_s: float = 10.0,
        retry_s: float = 5.0,
        on_segment: Callable[[Segment], None] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
        on_stall: Callable[[bool], None] | None = None,
        fsync: bool = True,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not segment_s > 0:
            raise ValueError("segment_s must be > 0")
        self.camera, self.root, self.segment_s, self.retry_s = camera, root, segment_s, retry_s
        self._on_segment, self._on_gap, self._on_stall = on_segment, on_gap, on_stall
        self._fsync, self._wall = fsync, wall
        self._lock = threading.Lock()  # close() may come from another thread than packet()
        self._tracks: dict[int, Track] = {}
        self._seg: _Open | None = None
        self._wall0: float | None = None  # wall clock at the input's first video packet
        self._t0 = 0.0  # its stream seconds
        self._last_end: datetime | None = None
        self._gap: Literal["reconnect", "stalled"] | None = None
        self._retry_at = 0.0
        self._closed = False
        self.stalled = False
        self.paused = False
        self.segments = 0  # closed and kept
        self.failures = 0  # segments abandoned on a write error
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Packets dropped because their timestamps could not be fixed, on every input."""
        return self._dropped + sum(track.times.dropped for track in self._tracks.values())

    def _forget_input(self) -> None:
        self._dropped += sum(track.times.dropped for track in self._tracks.values())
        self._tracks, self._wall0 = {}, None

    def start(self, video: VideoStream, audio: AudioStream | None = None) -> None:
        with self._lock:
            self._finish()
            self._forget_input()
            if self._closed:
                return
            if self._last_end is not None:
                self._gap = self._gap or "reconnect"
            codec = video.codec_context.name
            if codec not in VIDEO_CODECS:
                self._log(logging.WARNING, "%s video is not recorded (not H.264/H.265)", codec)
                return
            self._tracks[video.index] = track_of(video)
            if audio is not None:
                if audio.codec_context.name in AUDIO_CODECS:
                    self._tracks[audio.index] = track_of(audio)
                else:
                    name = audio.codec_context.name
                    self._log(logging.INFO, "%s audio is left out of recordings", name)

    def packet(self, packet: av.Packet[Any]) -> None:
        with self._lock:
            if packet.size == 0 or not self._tracks:  # the demuxer's end-of-stream flush
                return
            if self.paused:
                if self._seg is not None:
                    self._finish()
                    self._gap = "stalled"
                return
            track = self._tracks.get(packet.stream.index)
            if track is None:
                return
            keyframe = packet.is_keyframe
            fixed = track.times.fix(packet.pts, packet.dts, keyframe or track.audio)
            if fixed is None:
                return
            pts, dts = fixed
            if track.audio:
                seg = self._seg
                if seg is None or track.index not in seg.streams:
                    return
            else:
                t = pts * track.seconds
                if self._wall0 is None:  # never before the last segment: no overlaps
                    last = self._last_end.timestamp() if self._last_end else 0.0
                    self._wall0, self._t0 = max(self._wall(), last), t
                seg = self._seg
                if keyframe and (seg is None or t - seg.start_t >= self.segment_s):
                    self._finish()
                    seg = self._open(t, dts)
                if seg is None:
                    return
                step = packet.duration or track.times.step
                seg.end_t = max(seg.end_t, t + step * track.seconds)
                seg.keyframes += keyframe
            base = seg.base[track.index]
            if dts - base < 0:  # audio from before the segment's first keyframe
                return
            packet.pts, packet.dts = pts - base, dts - base
            packet.stream = seg.streams[track.index]
            try:
                seg.container.mux(packet)
                seg.muxed += 1
            except OSError as exc:
                self._fail(exc)
            except (av.error.FFmpegError, ValueError) as exc:
                if not seg.muxed:  # the header was refused: this segment cannot be written
                    self._fail(exc)
                else:  # one packet refused: drop it
                    self._log(logging.DEBUG, "muxer refused a packet: %s", exc)

    def stop(self) -> None:
        """The input ended: close its segment."""
        with self._lock:
            self._finish()
            self._forget_input()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._finish()
            self._forget_input()

    # --- segments ---------------------------------------------------------------------

    def _open(self, t: float, dts: int) -> _Open | None:
        if self.stalled and time.monotonic() < self._retry_at:
            return None
        assert self._wall0 is not None
        start = datetime.fromtimestamp(self._wall0 + (t - self._t0), UTC)
        path = segment_path(self.root, self.camera, start)
        file: PartFile | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = PartFile(part_of(path))
            container = av.open(
                file, "w", format="mp4", options=MP4_OPTIONS, buffer_size=WRITE_BUFFER
            )
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            if file is not None:
                file.close()
                part_of(path).unlink(missing_ok=True)
            self._fail(exc)
            return None
        container.metadata["comment"] = start_tag(start)
        video_s = 0.0
        gap = self._gap if self._last_end else None
        seg = _Open(path, file, container, {}, {}, t, start, gap)
        for track in self._tracks.values():
            out = container.add_stream_from_template(track.template)
            if not track.audio:
                seg.codec = track.template.codec_context.name
                out.codec_context.codec_tag = CODEC_TAGS[seg.codec]
                video_s = float(dts * track.time_base)
            seg.streams[track.index] = out
            seg.audio = seg.audio or track.audio
        for track in self._tracks.values():
            seg.base[track.index] = math.floor(video_s / track.time_base) if track.audio else dts
        self._seg = seg
        return seg

    def _finish(self) -> None:
        seg, self._seg = self._seg, None
        if seg is None:
            return
        try:
            seg.container.close()
            seg.file.close(fsync=self._fsync)
            os.replace(part_of(seg.path), seg.path)
            size = seg.path.stat().st_size
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            self._seg = seg
            self._fail(exc)
            return
        assert self._wall0 is not None
        end = datetime.fromtimestamp(self._wall0 + (seg.end_t - self._t0), UTC)
        segment = Segment(
            self.camera, seg.start, end, seg.path, size, seg.codec, seg.keyframes, seg.audio
        )
        self.segments += 1
        if seg.gap is not None and self._last_end is not None:
            self._notify(self._on_gap, Gap(self.camera, self._last_end, seg.start, seg.gap))
        self._last_end, self._gap = end, None
        if self.stalled:
            self.stalled = False
            self._log(logging.INFO, "recording again")
            self._notify(self._on_stall, False)
        self._notify(self._on_segment, segment)

    def _fail(self, exc: BaseException) -> None:
        """Give up the segment being written; stall until a segment can be written again."""
        seg, self._seg = self._seg, None
        if seg is not None:
            with contextlib.suppress(Exception):  # closing writes the rest, which fails too
                seg.container.close()
            with contextlib.suppress(OSError):
                seg.file.close()
            with contextlib.suppress(OSError):
                part_of(seg.path).unlink(missing_ok=True)
        self.failures += 1
        self._gap = "stalled"
        self._retry_at = time.monotonic() + self.retry_s
        if not self.stalled:
            self.stalled = True
            self._log(logging.WARNING, "recording stalled, cannot write to %s: %s", self.root, exc)
            self._notify(self._on_stall, True)

    def _notify(self, callback: Callable[[_T], None] | None, value: _T) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:  # a consumer's bug must not stop recording or capture
            log.exception("camera %s: recording callback failed", self.camera)

    def _log(self, level: int, message: str, *args: object) -> None:
        log.log(level, "camera %s: " + message, self.camera, *args, extra={"camera": self.camera})
