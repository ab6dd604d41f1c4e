"""Checking camera sources before anything starts, so a typo fails at start, not at 3 am.

Files and synthetic scenes are opened once (cheap, and it proves the file decodes); an RTSP
camera is only checked for its shape, because a camera that is offline at start is an
outage to reconnect through, not a configuration error.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from detektor.kit.redact import mask_url
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.sources import SourceError, open_source


def preflight(cameras: list[CameraSettings]) -> list[str]:
    """One message per camera whose source cannot work; empty when all are usable."""
    problems = []
    for camera in cameras:
        uri = camera.source.get_secret_value()
        try:
            if uri.startswith(("rtsp://", "rtsps://")):
                if not urlsplit(uri).hostname:
                    raise ValueError("an RTSP source needs a host: rtsp://user:pass@host/path")
            else:
                open_source(uri, realtime=False).close()
        except (ValueError, SourceError) as exc:
            problems.append(f"camera {camera.name} ({mask_url(uri)}): {exc}")
    return problems
