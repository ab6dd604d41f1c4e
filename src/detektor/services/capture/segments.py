"""What a recording is on disk: the ``Segment`` and ``Gap`` records, file names, the MP4 format.

A camera's segments live at ``<root>/<camera>/<YYYY-MM-DD>/<HH-MM-SS>.mp4`` (the UTC start;
``_1``, ``_2``… when two start in the same second, as after a quick reconnect). A segment is
written as ``<name>.mp4.part`` and renamed when it is closed, so a ``.mp4`` is always whole;
a ``.part`` left by a crash is for ``repair`` to keep or delete at start.

The MP4 is fragmented (``frag_keyframe+empty_moov+default_base_moof``): the header is written
first and each GOP is appended as its own fragment, so a file cut short at any byte still
plays up to its last whole fragment. The exact start (microseconds) is kept in the file's
``comment`` tag; the file name only has seconds.

FFmpeg's own file writer keeps a failed write to itself (the muxer goes on and the file is
cut short without a word), so segments are written through ``disk_thread.SegmentFile``, whose
failed writes raise: PyAV passes the ``OSError`` on from ``mux()``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
PART = ".part"
# What browsers play in MP4. Other video codecs are not recorded; other audio is left out.
VIDEO_CODECS = frozenset({"h264", "hevc"})
AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "flac"})
# Audio whose MP4 header needs the codec's config, which a stream may not carry: AAC in ADTS
# (MPEG-TS, HLS) has none (adts.py makes it), and without it the muxer refuses every packet,
# the video's included.
AUDIO_NEEDS_CONFIG = frozenset({"aac", "opus", "flac"})
# hvc1 (parameter sets in the header) is the tag Safari requires; FFmpeg's default is hev1.
CODEC_TAGS = {"h264": "avc1", "hevc": "hvc1"}

_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})(?:_\d+)?\.mp4(?:\.part)?$")


@dataclass(frozen=True, slots=True)
class Segment:
    """One closed segment, ready for the recordings index."""

    camera: str
    start: datetime  # UTC, wall time of its first keyframe
    end: datetime  # UTC, wall time just after its last video frame
    path: Path
    bytes: int
    codec: str  # the video codec as FFmpeg names it: h264 or hevc (kept as is, not re-encoded)
    keyframes: int
    audio: bool

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Gap:
    """Time not recorded between two segments of a camera."""

    camera: str
    start: datetime  # end of the last segment before the gap
    end: datetime  # start of the first segment after it
    reason: Literal["reconnect", "stalled"]

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def segment_path(root: Path, camera: str, start: datetime) -> Path:
    """A free ``.mp4`` path for a segment of ``camera`` starting at ``start`` (neither the
    ``.mp4`` nor its ``.part`` exists yet)."""
    utc = start.astimezone(UTC)
    # Strings and os.path, not pathlib: this runs in the demuxing thread at every cut.
    stem = os.path.join(root, camera, f"{utc:%Y-%m-%d}", f"{utc:%H-%M-%S}")
    path, n = f"{stem}.mp4", 0
    while os.path.exists(path) or os.path.exists(path + PART):
        n += 1
        path = f"{stem}_{n}.mp4"
    return Path(path)


def part_of(path: Path) -> Path:
    return path.with_name(path.name + PART)


def start_from_path(path: Path) -> datetime | None:
    """The start to the second, read back from ``…/<YYYY-MM-DD>/<HH-MM-SS>.mp4[.part]``."""
    match = _NAME.match(path.name)
    if match is None:
        return None
    try:
        day = datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
        return day.replace(hour=int(match[1]), minute=int(match[2]), second=int(match[3]))
    except ValueError:
        return None


def start_tag(start: datetime) -> str:
    return start.astimezone(UTC).isoformat()


def parse_start_tag(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
