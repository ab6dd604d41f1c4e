"""Packet timestamps made safe for the MP4 muxer: present, and with a strictly rising dts.

FFmpeg's MP4 muxer refuses a packet without a dts, or whose dts does not rise, and a camera
sends both: RTSP's first packets may have no pts before RTCP sync, and a camera that resets
its clock sends timestamps that jump back. ``PacketTimes`` (one per input stream) fixes what
it can and says to drop the rest, so the muxer never sees a packet it would refuse.
``track_of(stream)`` sets one up for an input stream, with the step of a frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from av.audio.stream import AudioStream
from av.stream import Stream
from av.video.stream import VideoStream

REBASE_S = 1.0  # a jump back further than this, at a keyframe, is a new clock, not a stray
DEFAULT_FPS = 25.0  # the frame step assumed for a stream that states no rate


class PacketTimes:
    """One stream's (pts, dts) in its own time base, continuing across clock jumps.

    - No dts (Matroska's first packets, RTP): the lowest legal one, one tick after the last,
      so frames that B-frames reorder still fit before their pts; no pts: the dts. Neither:
      one ``step`` after the last packet (dropped when there is none yet).
    - A dts that does not rise is raised to one tick after the last when its pts allows it;
      else the packet is dropped (a duplicate or a stray), unless it is a keyframe more than
      ``rebase_ticks`` back, where the camera's clock restarted: from then on the stream is
      shifted to carry on one ``step`` after the last packet.
    - pts below dts: raised to dts.
    """

    def __init__(self, step: int, rebase_ticks: int) -> None:
        self.step = max(1, step)
        self.rebase_ticks = rebase_ticks
        self.shift = 0
        self.last_dts: int | None = None
        self.dropped = 0
        self.rebased = 0

    def fix(self, pts: int | None, dts: int | None, keyframe: bool) -> tuple[int, int] | None:
        """(pts, dts) to mux, or None: drop the packet."""
        last = self.last_dts
        if dts is not None:
            new_dts = dts + self.shift
            new_pts = new_dts if pts is None else pts + self.shift
        elif pts is not None:
            new_pts = pts + self.shift
            new_dts = new_pts if last is None else min(new_pts, last + 1)
        elif last is None:
            self.dropped += 1
            return None
        else:
            self.last_dts = last + self.step
            return self.last_dts, self.last_dts
        if last is not None and new_dts <= last:
            if keyframe and last - new_dts > self.rebase_ticks:
                jump = last + self.step - new_dts
                self.shift += jump
                self.rebased += 1
                new_dts, new_pts = new_dts + jump, new_pts + jump
            elif new_pts > last:
                new_dts = last + 1
            else:
                self.dropped += 1
                return None
        self.last_dts = new_dts
        return max(new_pts, new_dts), new_dts


@dataclass(slots=True)
class Track:
    """An input stream being recorded, and its timestamps. ``template`` is what each segment's
    output stream is made from: the input stream, or a copy of it that outlives its input."""

    index: int
    audio: bool
    codec: str  # as FFmpeg's decoder names it: h264, hevc, aac…
    time_base: Fraction
    seconds: float  # the time base as a float: Fraction arithmetic per packet is slow
    times: PacketTimes
    template: Stream
    config: bytes | None = None  # extradata the template lacks (ADTS AAC: see adts.py)


def track_of(stream: VideoStream | AudioStream) -> Track:
    time_base = stream.time_base or Fraction(1, 90_000)
    if isinstance(stream, AudioStream):
        frame = stream.codec_context.frame_size or 1024
        step_s = frame / (stream.sample_rate or 48_000)
    else:
        rate = stream.average_rate or stream.guessed_rate
        step_s = 1 / float(rate) if rate else 1 / DEFAULT_FPS
    step = max(1, round(step_s / time_base))
    times = PacketTimes(step, round(REBASE_S / time_base))
    audio = isinstance(stream, AudioStream)
    codec = stream.codec_context.name
    return Track(stream.index, audio, codec, time_base, float(time_base), times, stream)
