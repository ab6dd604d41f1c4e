"""Clips: a camera's recorded segments over a time range, remuxed into one MP4 file.

The segments that overlap ``[start, end)`` (from the recording index, in start order) are read
packet by packet and written, without re-encoding, into one MP4 whose index is at the front
(``faststart``), so a browser's ``<video>`` plays it and seeks in it by HTTP Range requests.
A decoder needs a keyframe first: the clip begins at the last video keyframe at or before
``start`` (at most one GOP early) and ends with the last packet before ``end``. Time between
segments (a reconnect) stays a jump in the clip's timestamps, not a freeze.

A segment that is missing, unreadable, or whose video differs from the first one's (another
codec or size, after the camera was reconfigured) ends the clip there; the clip says so in
``Clip.cut_short``. Segment files are read, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from detektor.domain.recordings import Segment

log = logging.getLogger(__name__)
CLIP_OPTIONS = {"movflags": "+faststart"}


class NoFootage(LookupError):
    """Nothing recorded in the range (or none of it readable)."""


@dataclass
class Clip:
    path: Path
    start: datetime  # wall time of its first frame (a keyframe at or before the asked start)
    end: datetime  # wall time just after its last video packet
    segments: int  # how many segments it has footage of
    cut_short: str | None = None  # why it stops before the asked end, if it does

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class _Track:
    out: Stream
    time_base: Fraction
    last_dts: int | None = None


@dataclass
class _Writer:
    """The output file, its streams made from the first segment's."""

    container: OutputContainer
    origin: datetime | None = None  # wall time of the clip's first keyframe: its time 0
    tracks: dict[str, _Track] = field(default_factory=dict)  # "video" / "audio"
    shape: tuple[str, int, int] | None = None  # codec, width, height of the video
    end: datetime | None = None
    packets: int = 0


def export_clip(
    root: Path, segments: Sequence[Segment], start: datetime, end: datetime, out: Path
) -> Clip:
    """Write the clip of ``[start, end)`` cut from ``segments`` to ``out``; ``NoFootage`` when
    none of them has a frame in the range."""
    if not end > start:
        raise ValueError("a clip's end must be after its start")
    writer = _Writer(av.open(str(out), "w", format="mp4", options=CLIP_OPTIONS))
    used, cut_short = 0, None
    try:
        for segment in segments:
            before = writer.packets
            problem = _copy(writer, root / segment.path, segment, start, end)
            if problem is not None:
                cut_short = f"{segment.path}: {problem}"
                log.warning("clip of %s cut short at %s", segment.camera, cut_short)
                break
            used += writer.packets > before
    finally:
        writer.container.close()
    if writer.origin is None or writer.end is None:
        out.unlink(missing_ok=True)
        raise NoFootage(cut_short or "no recorded frame in the range")
    return Clip(out, writer.origin, writer.end, used, cut_short)


def _copy(
    writer: _Writer, path: Path, segment: Segment, start: datetime, end: datetime
) -> str | None:
    """Copy the segment's packets in the range; why the clip must stop here, or None."""
    try:
        source = av.open(str(path), "r")
    except (OSError, av.error.FFmpegError) as exc:
        return f"cannot open ({exc})"
    try:
        return _copy_open(writer, source, segment, start, end)
    except av.error.FFmpegError as exc:
        return f"unreadable ({exc})"
    finally:
        source.close()


def _copy_open(
    writer: _Writer, source: InputContainer, segment: Segment, start: datetime, end: datetime
) -> str | None:
    if not source.streams.video:
        return "no video stream"
    video = source.streams.video[0]
    shape = (video.codec_context.name, video.codec_context.width, video.codec_context.height)
    if writer.shape is None:
        writer.shape = shape
        writer.tracks["video"] = _Track(
            writer.container.add_stream_from_template(video), _tb(video)
        )
        if source.streams.audio:
            audio = source.streams.audio[0]
            writer.tracks["audio"] = _Track(
                writer.container.add_stream_from_template(audio), _tb(audio)
            )
    elif shape != writer.shape:
        return f"video changed from {writer.shape} to {shape}"
    inputs = [video, *source.streams.audio[:1]]
    waiting: list[
        tuple[str, Packet[Any], datetime]
    ] = []  # from the last keyframe at or before start
    for kind, packet, at in _packets(source, inputs, segment.start):
        if at >= end:
            if kind == "video":
                break
            continue
        if writer.origin is not None:
            _write(writer, kind, packet, at)
            continue
        if kind == "video" and packet.is_keyframe and (at <= start or not waiting):
            waiting = [(kind, packet, at)]  # a later keyframe still at or before start wins
        elif waiting:
            waiting.append((kind, packet, at))
        if at >= start and waiting:
            writer.origin = waiting[0][2]
            for item in waiting:
                _write(writer, *item)
            waiting = []
    return None


def _packets(
    source: InputContainer, streams: list[Any], wall_start: datetime
) -> Iterator[tuple[str, Packet[Any], datetime]]:
    """Each packet with a timestamp, as (kind, packet, its wall time)."""
    for packet in source.demux(streams):
        if packet.dts is None or packet.pts is None or packet.size == 0:
            continue
        kind = "video" if packet.stream.type == "video" else "audio"
        seconds = float(packet.pts * _tb(packet.stream))
        yield kind, packet, wall_start + timedelta(seconds=seconds)


def _write(writer: _Writer, kind: str, packet: Packet[Any], at: datetime) -> None:
    track = writer.tracks.get(kind)
    if track is None or writer.origin is None:
        return
    shift = round((at - writer.origin).total_seconds() / track.time_base) - (packet.pts or 0)
    pts, dts = (packet.pts or 0) + shift, (packet.dts or 0) + shift
    if track.last_dts is not None and dts <= track.last_dts:
        return  # overlaps what an earlier segment gave: the muxer would refuse it
    track.last_dts = dts
    packet.pts, packet.dts = pts, dts
    packet.stream = track.out
    writer.container.mux(packet)
    writer.packets += 1
    if kind == "video":
        duration = float((packet.duration or 0) * track.time_base)
        writer.end = max(writer.end or at, at + timedelta(seconds=duration))


def _tb(stream: Stream) -> Fraction:
    if stream.time_base is None:
        raise av.error.InvalidDataError(0, "stream has no time base")
    return Fraction(stream.time_base)
