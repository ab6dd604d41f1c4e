"""AAC in ADTS, as MPEG-TS and HLS cameras send it, made fit for an MP4 segment.

An MP4 header needs the AAC stream's AudioSpecificConfig, and each packet without the ADTS
header before it; a demuxed ADTS stream has neither, and FFmpeg's MP4 muxer then refuses
every packet of the file, the video's too. ``aac_config`` builds the two-byte config of an
AAC-LC stream from what the demuxer read of its headers (profile, sample rate, channels);
``AdtsToMp4`` strips the headers with FFmpeg's ``aac_adtstoasc`` filter, packet by packet,
keeping their timestamps. Other AAC profiles in ADTS (HE-AAC signals itself differently) are
not handled: the recorder leaves their audio out.
"""

from __future__ import annotations

from typing import Any

import av
import av.error
from av.audio.stream import AudioStream
from av.bitstream import BitStreamFilterContext

# The sampling frequency indexes of ISO/IEC 14496-3, 1.6.3.4.
SAMPLE_RATES: tuple[int, ...] = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050)
SAMPLE_RATES += (16000, 12000, 11025, 8000, 7350)
AAC_LC = 2  # the audio object type


def aac_config(audio: AudioStream) -> bytes | None:
    """The AudioSpecificConfig of an AAC-LC stream (None for another profile, an unusual
    sample rate or channel layout)."""
    context = audio.codec_context
    channels = context.layout.nb_channels
    if context.profile != "LC" or audio.sample_rate not in SAMPLE_RATES or not 0 < channels < 8:
        return None
    rate = SAMPLE_RATES.index(audio.sample_rate)
    # 5 bits object type, 4 bits rate index, 4 bits channel configuration, 3 bits of zeros.
    return bytes([AAC_LC << 3 | rate >> 1, (rate & 1) << 7 | channels << 3])


class AdtsToMp4:
    """One connection's ADTS stream (input stream ``index``), its packets stripped."""

    def __init__(self, audio: AudioStream) -> None:
        self.index = audio.index
        self._filter = BitStreamFilterContext("aac_adtstoasc", in_stream=audio)

    def packets(self, packet: av.Packet[Any]) -> list[av.Packet[Any]]:
        """The packet without its ADTS header (consumed: use what is returned); none for the
        demuxer's end-of-stream flush or a packet that is not ADTS."""
        if packet.size == 0:
            return []
        try:
            return self._filter.filter(packet)
        except (av.error.FFmpegError, ValueError):
            return []
