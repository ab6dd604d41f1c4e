"""The stack's cameras, real enough: the synthetic canary of deploy/cameras.yml, a video file
(H.264 in MP4, written here from the synthetic scene) played in a loop, and an RTSP camera
(gst-rtsp-server on the host, on the engine's bridge address, which capture reaches as
``host.docker.internal``)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import yaml

from detektor.services.capture.synthetic import SceneSpec, SyntheticScene
from support.rtsp import RtspServer

CAMERAS = ("canary", "video", "rtsp")
CLIP_S, CLIP_FPS = 20, 10
RECORD = {"mode": "continuous", "segment_s": 10}  # the synthetic canary cannot be recorded


def write_clip(path: Path) -> None:
    """20 s of the synthetic scene (the person walking) at 10 fps, 640x480."""
    scene = SyntheticScene(SceneSpec(fps=CLIP_FPS, width=640, height=480, seed=11))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(CLIP_FPS))
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(CLIP_S * CLIP_FPS):
            image = scene.render(i)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))


def write_cameras(workdir: Path, rtsp_port: int) -> Path:
    """The cameras file the stack mounts (CAMERAS_FILE) and the media directory it reads."""
    media = workdir / "media"
    media.mkdir(parents=True, exist_ok=True)
    write_clip(media / "walk.mp4")
    for path in (workdir, media, media / "walk.mp4"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the services run as uid 10001
    cameras = {
        "cameras": [
            {"name": "canary", "source": "synthetic://?fps=10&size=640x480", "detect_fps": 5},
            {
                "name": "video",
                "source": "/media/walk.mp4",
                "loop": True,
                "detect_fps": 2,
                "record": RECORD,
            },
            {
                "name": "rtsp",
                "source": f"rtsp://host.docker.internal:{rtsp_port}/test",
                "detect_fps": 2,
                "record": RECORD,
            },
        ]
    }
    path = workdir / "cameras.yml"
    path.write_text(yaml.safe_dump(cameras, sort_keys=False))
    path.chmod(0o644)
    return path


def rtsp_camera(bind: str) -> RtspServer:
    """The RTSP camera, listening on ``bind`` (the bridge gateway) only."""
    return RtspServer(host=bind)
