"""The recorder: a camera's demuxed packets remuxed, not re-encoded, into MP4 segments.

``Recorder.start(video, audio)`` is told the streams of a new input (a connection, or a
reconnect: a new segment starts, and the time between the last segment and the next is
reported as a ``Gap``); ``packet(p)`` gets every packet of those streams as demuxed, in the
thread that demuxes; ``stop()`` ends the input and closes its segment; ``close()`` ends all.
It owns each packet it is given (it rewrites its timestamps), so the caller decodes it first.

The demuxing thread only remuxes: the bytes go to the disk through a ``DiskThread`` (writes,
fsync, rename), so a slow or hung disk never holds up capture (see there). Cutting,
timestamps, stalls and ``paused`` are ``SegmentWriter``'s (see there). ``on_segment``,
``on_gap`` and ``on_stall`` run in the thread that calls the recorder: they must be quick and
thread-safe, and must not call the recorder. AAC audio in ADTS (MPEG-TS, HLS) is given its
config and stripped of its headers on the way (``adts.py``); audio that cannot be recorded is
left out, never the video with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from detektor.services.capture.adts import AdtsToMp4, aac_config
from detektor.services.capture.disk_thread import DiskThread
from detektor.services.capture.packet_times import Track, track_of
from detektor.services.capture.recorder_reports import Reports
from detektor.services.capture.segment_writer import SegmentWriter
from detektor.services.capture.segments import (
    AUDIO_CODECS,
    AUDIO_NEEDS_CONFIG,
    VIDEO_CODECS,
    Gap,
    Segment,
)


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
        disk: DiskThread | None = None,
        wait_s: float = 10.0,
    ) -> None:
        if not segment_s > 0:
            raise ValueError("segment_s must be > 0")
        self.camera, self.root, self._wall = camera, root, wall
        self._reports = reports = Reports(camera, on_segment, on_gap, on_stall)
        self._writer = SegmentWriter(
            camera, root, segment_s, retry_s, reports, fsync=fsync, wait_s=wait_s, disk=disk
        )
        self._lock = threading.Lock()  # close() may come from another thread than packet()
        self._adts: AdtsToMp4 | None = None  # the connection's ADTS audio, if any
        self._closed = False

    @property
    def paused(self) -> bool:
        return self._writer.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        """Set by retention when the disk cannot take more (any thread)."""
        self._writer.paused = value

    @property
    def stalled(self) -> bool:
        return self._writer.stalled

    @property
    def segments(self) -> int:
        """Segments closed and kept."""
        return self._writer.segments

    @property
    def failures(self) -> int:
        """Segments abandoned on a write error."""
        return self._writer.failures

    @property
    def dropped(self) -> int:
        """Packets dropped because their timestamps could not be fixed, on every input."""
        return self._writer.dropped

    def start(self, video: VideoStream, audio: AudioStream | None = None) -> None:
        tracks: dict[int, Track] = {}
        name = video.codec_context.name
        if name not in VIDEO_CODECS:
            self._reports.log(logging.WARNING, "%s video is not recorded (not H.264/H.265)", name)
        else:
            tracks[video.index] = track_of(video)
        adts = None
        if tracks and audio is not None:
            track, adts = self._audio(audio)
            if track is not None:
                tracks[audio.index] = track
        with self._lock:
            if not self._closed:
                self._adts = adts
                self._writer.begin(tracks, self._wall)

    def _audio(self, audio: AudioStream) -> tuple[Track | None, AdtsToMp4 | None]:
        """The audio's track, if it can be recorded, and the filter its packets need."""
        name = audio.codec_context.name
        if name not in AUDIO_CODECS:
            self._reports.log(logging.INFO, "%s audio is left out of recordings", name)
            return None, None
        track = track_of(audio)
        if name not in AUDIO_NEEDS_CONFIG or audio.codec_context.extradata:
            return track, None
        track.config = aac_config(audio) if name == "aac" else None
        if track.config is None:
            message = "%s %s audio without its config is left out of recordings"
            self._reports.log(logging.WARNING, message, name, audio.codec_context.profile)
            return None, None
        return track, AdtsToMp4(audio)  # AAC-LC in ADTS, as in MPEG-TS

    def packet(self, packet: av.Packet[Any]) -> None:
        lock = self._lock  # not `with`: this runs for every packet, and `with` costs more
        lock.acquire()
        try:
            adts = self._adts
            if adts is not None and packet.stream_index == adts.index:
                for stripped in adts.packets(packet):
                    self._writer.packet(stripped)
            else:
                self._writer.packet(packet)
        finally:
            lock.release()

    def stop(self) -> None:
        """The input ended: close its segment."""
        with self._lock:
            self._writer.end()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._writer.close()
