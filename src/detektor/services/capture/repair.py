"""Startup repair: segments left as ``.mp4.part`` by a crash are kept if they play, else deleted.

A fragmented MP4 cut short by a SIGKILL or a power cut is whole up to its last complete
fragment. ``repair(root)`` cuts each ``.part`` back to that point (reading only box headers),
then decodes every frame with PyAV: a file in which at least one frame decodes is renamed to
``.mp4`` and returned as a ``Segment`` for the index (a packet the decoder rejects, as the
camera's own loss over UDP, is logged and kept); anything else (no header, no whole
fragment, garbage) is deleted. So the index is never given a file that does not play. Run it
before any recorder starts under ``root``: a ``.part`` being written looks like a leftover.
"""

from __future__ import annotations

import logging
import os
import struct
from datetime import timedelta
from pathlib import Path

import av
import av.error

from detektor.services.capture.segments import (
    PART,
    Segment,
    parse_start_tag,
    start_from_path,
)

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


def repair(root: Path) -> list[Segment]:
    """Repair or delete every ``<root>/<camera>/<day>/*.mp4.part``; the segments kept."""
    kept: list[Segment] = []
    for part in sorted(root.glob(f"*/*/*.mp4{PART}")):
        segment = repair_one(part)
        if segment is None:
            log.warning("deleted an unplayable leftover segment %s", part)
        else:
            log.info("kept a leftover segment %s (%.1f s)", segment.path, segment.duration_s)
            kept.append(segment)
    return kept


def repair_one(part: Path) -> Segment | None:
    final = part.with_name(part.name.removesuffix(PART))
    try:
        whole = whole_fragments(part)
        if whole is not None:
            with part.open("r+b") as file:
                file.truncate(whole)
                os.fsync(file.fileno())
        segment = probe(part, final) if whole else None
        if segment is None:
            part.unlink(missing_ok=True)
            return None
        os.replace(part, final)
    except OSError:
        log.exception("cannot repair %s", part)
        part.unlink(missing_ok=True)  # may raise again: better than indexing it later
        return None
    return segment


def whole_fragments(path: Path) -> int | None:
    """Bytes up to the end of the last whole top-level box, not counting a ``moof`` whose
    ``mdat`` is missing; None when the file has no ``ftyp``+``moov`` header."""
    size = path.stat().st_size
    boxes: list[tuple[bytes, int]] = []  # (type, end offset)
    with path.open("rb") as file:
        offset = 0
        while offset + _HEADER.size <= size:
            file.seek(offset)
            length, kind = _HEADER.unpack(file.read(_HEADER.size))
            header = _HEADER.size
            if length == 1:
                if offset + 16 > size:
                    break
                (length,) = _LARGE.unpack(file.read(_LARGE.size))
                header = 16
            elif length == 0:  # "to the end of the file": only whole if the file is
                length = size - offset
            if length < header or offset + length > size:
                break
            offset += length
            boxes.append((kind, offset))
    kinds = [kind for kind, _ in boxes]
    if kinds[:2] != [b"ftyp", b"moov"]:
        return None
    while boxes and boxes[-1][0] == b"moof":  # a fragment's header without its data
        boxes.pop()
    return boxes[-1][1]


def probe(path: Path, final: Path) -> Segment | None:
    """Decode every video frame; a Segment described from the file, or None."""
    try:
        with av.open(str(path), format="mp4") as container:
            if not container.streams.video:
                return None
            video = container.streams.video[0]
            time_base = video.time_base
            start = parse_start_tag(container.metadata.get("comment")) or start_from_path(path)
            codec = video.codec_context.name
            audio = bool(container.streams.audio)
            frames = keyframes = errors = 0
            first: int | None = None
            last = 0
            for packet in container.demux(video):
                if packet.size == 0 or packet.pts is None:
                    continue
                keyframes += packet.is_keyframe
                first = packet.pts if first is None else min(first, packet.pts)
                last = max(last, packet.pts + (packet.duration or 0))
                try:
                    frames += len(packet.decode())
                except av.error.InvalidDataError:  # the camera's own loss: keep the rest
                    errors += 1
            frames += len(video.decode(None))  # the decoder's delayed frames
    except (av.error.FFmpegError, ValueError):
        return None
    if frames == 0 or first is None or start is None or time_base is None:
        return None
    if errors:
        log.warning("%s: %d packets did not decode, %d frames did", path, errors, frames)
    duration = float((last - first) * time_base)
    return Segment(
        camera=final.parent.parent.name,
        start=start,
        end=start + timedelta(seconds=duration),
        path=final,
        bytes=path.stat().st_size,
        codec=codec,
        keyframes=keyframes,
        audio=audio,
    )
