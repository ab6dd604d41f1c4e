"""The AudioSpecificConfig made for ADTS AAC, against what FFmpeg's own MP4 muxer writes for
the same audio (which it reads from the encoder, not from ADTS headers)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from detektor.services.capture.adts import aac_config
from support.services import require_binary


def encode(path: Path, *options: str) -> None:
    ffmpeg = require_binary("ffmpeg", "ffmpeg")
    lavfi = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=0.5")
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *lavfi, *options, str(path)]
    subprocess.run(command, check=True)


@pytest.mark.parametrize(("rate", "channels"), [(48_000, 1), (44_100, 2), (16_000, 1), (8_000, 6)])
def test_the_config_is_the_one_ffmpeg_writes_for_the_same_audio(
    tmp_path: Path, rate: int, channels: int
) -> None:
    codec = ("-ar", str(rate), "-ac", str(channels), "-c:a", "aac")
    encode(tmp_path / "a.ts", *codec)  # ADTS: no config in the stream
    encode(tmp_path / "a.mp4", *codec)  # the config FFmpeg's encoder gives the MP4 muxer
    with av.open(str(tmp_path / "a.ts")) as ts, av.open(str(tmp_path / "a.mp4")) as mp4:
        adts, reference = ts.streams.audio[0], mp4.streams.audio[0]
        assert not adts.codec_context.extradata
        assert aac_config(adts) == reference.codec_context.extradata[:2]


def test_audio_that_is_not_aac_lc_gets_no_config(tmp_path: Path) -> None:
    encode(tmp_path / "a.ts", "-c:a", "mp2")
    with av.open(str(tmp_path / "a.ts")) as ts:
        assert aac_config(ts.streams.audio[0]) is None
