"""Cameras for ``detektor run``: from ``--source`` URIs, the config file, or the default."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from detektor.services.capture.settings import CameraSettings

DEFAULT_SOURCE = "synthetic://?fps=10&size=640x480"


def camera_name(uri: str, taken: set[str]) -> str:
    """A valid, unique camera name derived from a source: its host, file name or scheme."""
    if uri.startswith("synthetic://"):
        base = "synthetic"
    elif "://" in uri and not uri.startswith("file://"):
        base = urlsplit(uri).hostname or "camera"
    else:
        base = Path(uri.removeprefix("file://")).stem or "file"
    base = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-_")[:56] or "camera"
    if not base[0].isalnum():
        base = "cam-" + base
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def cameras_for(sources: list[str], configured: list[CameraSettings]) -> list[CameraSettings]:
    """``--source`` wins over configured cameras; with neither, one synthetic camera."""
    if not sources and configured:
        return configured
    taken: set[str] = set()
    return [
        CameraSettings(name=camera_name(uri, taken), source=SecretStr(uri))
        for uri in (sources or [DEFAULT_SOURCE])
    ]
