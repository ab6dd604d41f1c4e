"""The recorder's state machine: packets cut and muxed into segment files.

``SegmentWriter`` is what ``Recorder`` (the public API and its lock) runs, one caller at a
time: ``begin(tracks, wall)`` for a new input (a new segment at its first keyframe, after a
``reconnect`` gap when there was footage before), ``packet(p)`` for each demuxed packet (its
timestamps are rewritten), ``end()`` and ``close()``, which wait (at most ``wait_s``) for the
disk thread so that a closed segment is reported when they return. The bytes, fsync and
rename go through a ``DiskThread``; what it finished is collected on the next call, and only
then is a segment reported (``on_segment``, after its ``on_gap``). A finish that failed gives
the segment up, reports its time as a ``stalled`` gap and stalls.

A segment is cut at the first video keyframe at least ``segment_s`` after its start. Wall
time is the first video packet's clock (or the end of the last segment, if later: a file read
faster than real time must not overlap itself) plus the packet's pts offset from it. A write
that fails deletes the segment, stalls (logged once, ``on_stall(True)``) and retries at a
keyframe every ``retry_s``; the first segment that closes ends the stall. A single packet the
muxer refuses is dropped. While ``paused`` (set by retention from any thread), the segment is
closed and packets are dropped; recording resumes at a keyframe after a ``stalled`` gap.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.error
from av.container import OutputContainer
from av.stream import Stream

from detektor.services.capture.disk_thread import DiskThread, SegmentFile
from detektor.services.capture.packet_times import Track
from detektor.services.capture.recorder_reports import Reports
from detektor.services.capture.segments import (
    CODEC_TAGS,
    MP4_OPTIONS,
    Gap,
    Segment,
    start_tag,
)

WRITE_BUFFER = 256 << 10  # bytes FFmpeg gathers before each write(): fewer calls into Python

GapReason = Literal["reconnect", "stalled"]


@dataclass(slots=True)
class _Open:
    """The segment being written."""

    file: SegmentFile
    container: OutputContainer
    mux: Callable[[av.Packet[Any]], None]  # the container's, looked up once
    # input stream index -> (its output stream, the dts in its ticks that is 0 in the file)
    outputs: dict[int, tuple[Stream, int]]
    start_t: float  # stream seconds of the first keyframe
    start: datetime
    gap: GapReason | None
    codec: str
    end_t: float = 0.0
    keyframes: int = 0
    muxed: int = 0  # packets accepted by the muxer
    audio: bool = False


class SegmentWriter:
    """See the module docstring."""

    def __init__(
        self,
        camera: str,
        root: Path,
        segment_s: float,
        retry_s: float,
        reports: Reports,
        *,
        fsync: bool,
        wait_s: float = 10.0,
        disk: DiskThread | None = None,
    ) -> None:
        self.camera, self.root, self.segment_s, self.retry_s = camera, root, segment_s, retry_s
        self._reports, self._fsync, self.wait_s = reports, fsync, wait_s
        self._disk = disk or DiskThread(f"recorder-{camera}")
        self._tracks: dict[int, Track] = {}
        self._seg: _Open | None = None
        self._wall0: float | None = None  # wall clock at the input's first video packet
        self._wall: Callable[[], float] = time.time
        self._t0 = 0.0  # its stream seconds
        self._last_end: datetime | None = None
        self._gap: GapReason | None = None
        self._retry_at = 0.0
        self.stalled = False
        self.paused = False
        self.segments = 0  # closed and kept
        self.failures = 0  # segments abandoned on a write error
        self.dropped_before = 0  # packets PacketTimes dropped on earlier inputs

    @property
    def dropped(self) -> int:
        return self.dropped_before + sum(t.times.dropped for t in list(self._tracks.values()))

    # --- inputs -----------------------------------------------------------------------

    def begin(self, tracks: dict[int, Track], wall: Callable[[], float]) -> None:
        self.end()
        if self._last_end is not None:
            self._gap = self._gap or "reconnect"
        self._tracks, self._wall = tracks, wall

    def end(self) -> None:
        self._finish()
        self.dropped_before = self.dropped
        self._tracks, self._wall0 = {}, None
        if not self._disk.drain(self.wait_s):
            self._reports.log(
                logging.WARNING, "the disk is slow: segment still closing after %gs", self.wait_s
            )
        self._collect()

    def close(self) -> None:
        self.end()

    # --- packets ----------------------------------------------------------------------

    def packet(self, packet: av.Packet[Any]) -> None:
        # Runs for every packet of every camera: lookups are kept few (one dict per packet).
        if self._disk.has_results:
            self._collect()
        if self.paused:
            if self._seg is not None:
                self._finish()
                self._gap = "stalled"
            return
        track = self._tracks.get(packet.stream_index)
        if track is None:
            return
        pts, dts, times = packet.pts, packet.dts, track.times
        # Nearly every packet comes in order, and PacketTimes.fix would return it as is: that
        # check is inlined, as the call alone costs a tenth of the recorder's time a packet.
        last = times.last_dts
        if (
            pts is not None
            and dts is not None
            and last is not None
            and not times.shift
            and last < dts <= pts
        ):
            times.last_dts = dts
        elif packet.size == 0:  # the demuxer's end-of-stream flush
            return
        else:
            fixed = times.fix(pts, dts, track.audio or packet.is_keyframe)
            if fixed is None:
                return
            pts, dts = fixed
        seg = self._seg
        if not track.audio:
            t = pts * track.seconds
            if self._wall0 is None:  # never before the last segment: no overlaps
                before = self._last_end.timestamp() if self._last_end else 0.0
                self._wall0, self._t0 = max(self._wall(), before), t
            keyframe = packet.is_keyframe
            if keyframe and (seg is None or t - seg.start_t >= self.segment_s):
                self._finish()
                seg = self._open(t, dts)
            if seg is None:
                return
            end_t = t + (packet.duration or track.times.step) * track.seconds
            if end_t > seg.end_t:
                seg.end_t = end_t
            seg.keyframes += keyframe
        elif seg is None:
            return
        output = seg.outputs.get(track.index)
        if output is None:  # an input stream the segment was opened without
            return
        stream, base = output
        if dts < base:  # audio from before the segment's first keyframe
            return
        packet.pts, packet.dts = pts - base, dts - base
        packet.stream = stream
        try:
            seg.mux(packet)
            seg.muxed += 1
        except OSError as exc:
            self._fail(exc)
        except (av.error.FFmpegError, ValueError) as exc:
            if not seg.muxed:  # the header was refused: this segment cannot be written
                self._fail(exc)
            else:  # one packet refused: drop it
                self._reports.log(logging.DEBUG, "muxer refused a packet: %s", exc)

    # --- segments ---------------------------------------------------------------------

    def _open(self, t: float, dts: int) -> _Open | None:
        if self.stalled and time.monotonic() < self._retry_at:
            return None
        assert self._wall0 is not None
        start = datetime.fromtimestamp(self._wall0 + (t - self._t0), UTC)
        file = SegmentFile(self._disk, self.root, self.camera, start)
        try:
            container = av.open(
                file, "w", format="mp4", options=MP4_OPTIONS, buffer_size=WRITE_BUFFER
            )
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            file.abandon()
            self._fail(exc)
            return None
        container.metadata["comment"] = start_tag(start)
        gap = self._gap if self._last_end else None
        seg = _Open(file, container, container.mux, {}, t, start, gap, "")
        video = Fraction(0)  # the keyframe's time: each stream's 0 in the file
        for track in self._tracks.values():
            if not track.audio:
                video = dts * track.time_base
        for track in self._tracks.values():
            # opaque: the template's own (decoder) codec, not a new encoder context for it,
            # which costs more than the rest of opening a segment (the muxer needs neither)
            out = container.add_stream_from_template(track.template, opaque=True)
            if track.config is not None:
                out.codec_context.extradata = track.config
            if track.audio:
                seg.audio = True
                base = math.floor(video / track.time_base)
            else:
                seg.codec, base = track.codec, dts
                out.codec_context.codec_tag = CODEC_TAGS[track.codec]
            seg.outputs[track.index] = (out, base)
        self._seg = seg
        return seg

    def _finish(self) -> None:
        seg, self._seg = self._seg, None
        if seg is None:
            return
        assert self._wall0 is not None
        end = datetime.fromtimestamp(self._wall0 + (seg.end_t - self._t0), UTC)
        gap = None
        if seg.gap is not None and self._last_end is not None:
            gap = Gap(self.camera, self._last_end, seg.start, seg.gap)
        try:
            seg.container.close()  # the last fragment and the trailer: queued writes
            seg.file.finish((seg, end, gap), fsync=self._fsync)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            self._seg = seg
            self._fail(exc)
            return
        self._last_end, self._gap = end, None

    def _collect(self) -> None:
        """Report what the disk thread finished: segments kept, or given up."""
        for (seg, end, gap), outcome in self._disk.results():
            if isinstance(outcome, OSError):  # its footage is lost: a gap, from the one before
                start = gap.start if gap is not None else seg.start
                self._reports.gap(Gap(self.camera, start, end, "stalled"))
                self.failures += 1
                self._stall(outcome)
                continue
            path = seg.file.path
            assert path is not None  # the file was created, or its outcome is an error
            segment = Segment(
                self.camera, seg.start, end, path, outcome, seg.codec, seg.keyframes, seg.audio
            )
            self.segments += 1
            if gap is not None:
                self._reports.gap(gap)
            if self.stalled:
                self.stalled = False
                self._reports.log(logging.INFO, "recording again")
                self._reports.stall(False)
            self._reports.segment(segment)

    def _fail(self, exc: BaseException) -> None:
        """Give up the segment being written; stall until a segment can be written again."""
        seg, self._seg = self._seg, None
        if seg is not None:
            with contextlib.suppress(Exception):  # closing writes the rest, which fails too
                seg.container.close()
            seg.file.abandon()
        self.failures += 1
        self._stall(exc)

    def _stall(self, exc: BaseException) -> None:
        self._gap = "stalled"
        self._retry_at = time.monotonic() + self.retry_s
        if not self.stalled:
            self.stalled = True
            message = "recording stalled, cannot write to %s: %s"
            self._reports.log(logging.WARNING, message, self.root, exc)
            self._reports.stall(True)
