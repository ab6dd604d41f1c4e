"""Recording tests' tools: a real video file made with PyAV, and checks of segments on disk.

``make_video`` encodes the synthetic scene (moving shapes, so the encoder has work) with a
fixed GOP (scene cuts off) and, optionally, a sine tone in AAC. ``decode_all`` decodes every
frame of a file with PyAV and fails on any error; ``ffprobe`` reads what FFmpeg's own tool
says of it, as a second opinion to PyAV.
"""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.error
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from detektor.domain.recordings import Segment
from detektor.services.capture.recorder import Recorder
from detektor.services.capture.sources import open_source
from detektor.services.capture.synthetic import Scene, SceneSpec, SyntheticScene
from detektor.services.recordings.indexer import to_domain
from support.services import require_binary


def make_video(
    path: Path,
    *,
    seconds: float,
    fps: int = 25,
    gop: int = 25,
    size: tuple[int, int] = (320, 240),
    audio: bool = True,
    codec: str = "libx264",
    audio_codec: str = "aac",
    container: str = "mp4",
    scene: Scene = "person",
) -> int:
    """Write the clip (of the synthetic ``scene``); the number of video frames in it."""
    width, height = size
    spec = SceneSpec(fps=fps, width=width, height=height, scene=scene, seed=4)
    renderer = SyntheticScene(spec)
    frames = round(seconds * fps)
    with av.open(str(path), "w", format=container) as out:
        video = cast(VideoStream, out.add_stream(codec, rate=Fraction(fps)))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx265":
            video.options = {"x265-params": f"keyint={gop}:min-keyint={gop}:log-level=none"}
        elif codec == "libx264":
            video.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
            video.options |= {"preset": "ultrafast"}
        else:
            video.options = {"g": str(gop)}
        sound = cast(AudioStream, out.add_stream(audio_codec, rate=48_000)) if audio else None
        planar = audio_codec == "aac"  # the others here take interleaved 16-bit samples
        samples = 0
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(renderer.render(i), format="bgr24")
            frame.pts = i
            out.mux(video.encode(frame))
            while sound is not None and samples < (i + 1) * 48_000 // fps:
                tone = np.sin(2 * np.pi * 440 * (samples + np.arange(1024)) / 48_000)
                data = tone.astype(np.float32) if planar else (tone * 8000).astype(np.int16)
                chunk = av.AudioFrame.from_ndarray(
                    data[None, :], format="fltp" if planar else "s16", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 48_000, samples
                out.mux(sound.encode(chunk))
                samples += 1024
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return frames


def decode_all(path: Path) -> int:
    """Every video frame of ``path`` decoded; how many. Raises on any decoding error."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"err_detect": "explode"}  # no silent concealment
        return sum(1 for _ in container.decode(stream))


def ffprobe(path: Path) -> dict[str, Any]:
    """FFprobe's streams (frames counted) and format of ``path``."""
    binary = require_binary("ffprobe", "ffmpeg")
    command = [binary, "-v", "error", "-count_frames", "-show_streams", "-show_format"]
    result = subprocess.run(
        [*command, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def video_probe(path: Path) -> tuple[float, int, str]:
    """(duration s, frames, codec tag) of the video stream, as ffprobe reads them."""
    info = ffprobe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    return float(video["duration"]), int(video["nb_read_frames"]), str(video["codec_tag_string"])


def record_segments(root: Path, video: Path, camera: str, segment_s: float = 2.0) -> list[Segment]:
    """``video`` played through a source into the real Recorder, as fast as it decodes; its
    segments as the index keeps them (paths relative to ``root``)."""
    written: list[Any] = []
    recorder = Recorder(camera, root, segment_s=segment_s, on_segment=written.append, fsync=False)
    with open_source(str(video), recorder=recorder) as source:
        for _ in source.frames():
            pass
    recorder.close()
    return [to_domain(w, root) for w in written]
