"""``detektor run`` as a subprocess in a temporary directory, and what its API lists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from support.services import free_port

RUN = [sys.executable, "-m", "detektor.cli", "run"]


def run_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """A clean environment for ``detektor run`` at home in ``tmp_path``, JSON logs, and
    ``env``: more variables (``DETEKTOR_CONFIG``, ``DETEKTOR_MQTT_URL``, ...)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DETEKTOR_LOG__FORMAT": "json",
        # The code under test, when it is not the installed one (a worktree's src).
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        **env,
    }


def start_run(
    tmp_path: Path, port: int, *args: str, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """``detektor run --port PORT ARGS`` with a clean environment (and ``env``), its data in
    ``tmp_path``."""
    return subprocess.Popen(
        [*RUN, "--port", str(port), *args],
        cwd=tmp_path,
        env=run_env(tmp_path, **(env or {})),
        text=True,
        **popen,
    )


def run_to_end(
    tmp_path: Path, config: Path, duration: float, **env: str
) -> subprocess.CompletedProcess[str]:
    """``detektor run --duration DURATION`` with ``config``, its data in ``tmp_path``, to its
    end; ``env``: more variables (``DETEKTOR_MQTT_URL``, ...)."""
    return subprocess.run(
        [*RUN, "--duration", str(duration), "--port", str(free_port())],
        cwd=tmp_path,
        env=run_env(tmp_path, DETEKTOR_CONFIG=str(config), **env),
        capture_output=True,
        text=True,
        timeout=duration + 90,
        check=False,
    )


def wait_for_frames(port: int, timeout: float) -> list[dict[str, object]]:
    """The first page of ``/v1/frames`` once it lists a frame; empty if none by ``timeout``."""
    frames: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not frames:
        time.sleep(0.5)
        try:
            frames = httpx.get(f"http://127.0.0.1:{port}/v1/frames", timeout=2).json()["frames"]
        except httpx.HTTPError:
            continue
    return frames
