"""The web UI of ``detektor run`` on a synthetic one-person scene, with the real detector:
while the run goes on, Review lists the person's object (from the real tracker), the Cameras
page shows the camera's kept frame, and the frame explorer says why a static frame was
skipped and shows the person in a frame the object was seen in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from support.services import free_port

CONFIG = """\
cameras:
  - name: yard
    source: "synthetic://?fps=5&size=640x480&scene=crossing&stop=8"
"""


@pytest.fixture
def run(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "detektor.yml").write_text(CONFIG)
    port = free_port()
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "detektor.cli", "run", "--duration", "40", "--port", str(port)],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DETEKTOR_CONFIG": str(tmp_path / "detektor.yml"),
            "DETEKTOR_LOG__FORMAT": "json",
            # The code under test, where a checkout runs it without installing it.
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def eventually(ask: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = ask()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}")


def test_the_ui_of_a_run_shows_its_object_and_why_frames_were_skipped(run: str) -> None:
    def ended_person() -> dict[str, Any] | None:
        objects = httpx.get(f"{run}/v1/objects?label=person&state=ended", timeout=5).json()
        return objects["objects"][0] if objects["objects"] else None

    person = eventually(ended_person, "the person's object ended")
    review = httpx.get(f"{run}/review?camera=yard", timeout=5)
    assert review.status_code == 200
    assert f'data-object="{person["object_id"]}"' in review.text
    cameras = httpx.get(f"{run}/", timeout=5).text
    assert "/v1/cameras/yard/latest.jpg?boxes=1" in cameras  # a frame is kept

    skipped = httpx.get(f"{run}/v1/frames?camera=yard&state=skipped&limit=1", timeout=5).json()
    assert skipped["frames"], "the scene's static frames are skipped by the motion gate"
    frame_id = skipped["frames"][0]["frame_id"]
    page = httpx.get(f"{run}/frames?frame_id={quote(frame_id)}", timeout=5).text
    assert '<p class="outcome">skipped: no_motion</p>' in page

    seen = httpx.get(f"{run}/v1/objects/{person['object_id']}", timeout=5).json()["frame_ids"]
    page = httpx.get(f"{run}/frames?frame_id={quote(seen[0])}", timeout=5).text
    assert "<td>person</td>" in page
