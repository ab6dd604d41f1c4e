"""The web UI of ``detektor run`` on a synthetic one-person scene, with the real detector:
while the run goes on, Review lists the person's object (from the real tracker), also in a
real headless Chromium, the Cameras page shows the camera's kept frame and, for a second
camera whose RTSP server is not there, that it is down and how often it reconnected, and
the frame explorer says why a static frame was skipped and shows the person in a frame the
object was seen in. One run serves every test here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from support.browser import chromium, clean_page
from support.services import free_port

CONFIG = """\
cameras:
  - name: yard
    source: "synthetic://?fps=5&size=640x480&scene=crossing&stop=8"
  - name: gate
    source: "rtsp://127.0.0.1:{port}/nobody-serves-this"
    reconnect_initial_s: 0.2
    reconnect_max_s: 0.5
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("run")
    (tmp_path / "detektor.yml").write_text(CONFIG.format(port=free_port()))
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


def ended_person(run: str) -> dict[str, Any]:
    def ask() -> dict[str, Any] | None:
        objects = httpx.get(f"{run}/v1/objects?label=person&state=ended", timeout=5).json()
        return objects["objects"][0] if objects["objects"] else None

    found: dict[str, Any] = eventually(ask, "the person's object ended")
    return found


def test_the_ui_of_a_run_shows_its_object_and_why_frames_were_skipped(run: str) -> None:
    person = ended_person(run)
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


def test_the_cameras_page_of_a_run_shows_reconnects_of_a_camera_that_is_not_there(
    run: str,
) -> None:
    def gate_card() -> str | None:
        page = httpx.get(f"{run}/ui/cameras/grid", timeout=5).text
        card = page.split('data-camera="gate"', 1)[-1].split("</article>", 1)[0]
        counts = re.search(r"· (\d+) reconnects?", card)
        return card if 'data-camera="gate"' in page and counts and int(counts[1]) >= 2 else None

    card = eventually(gate_card, "the gate camera's reconnects counted")
    assert '<span class="state down">down</span>' in card
    assert "0.0 fps" in card
    page = httpx.get(f"{run}/", timeout=5).text
    yard = page.split('data-camera="yard"', 1)[1].split("</article>", 1)[0]
    assert re.search(r"fps · \d+ reconnects?", yard)
    assert "capture runs in another process" not in page


def test_the_review_page_shows_the_runs_object_in_a_browser(run: str) -> None:
    person = ended_person(run)
    with chromium() as browser, clean_page(browser, f"{run}/review?camera=yard") as page:
        card = page.locator(f'[data-object="{person["object_id"]}"]')
        expect(card).to_be_visible()
        expect(card).to_contain_text("person")
        card.locator("a").first.click()
        page.wait_for_url(f"**/review/{quote(person['object_id'], safe='')}")
        expect(page.locator("body")).to_contain_text("object.ended")
