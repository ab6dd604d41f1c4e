"""The web UI in a real headless Chromium (Debian's, driven by Playwright), against the
tracking service run as a process over SQLite, with events posted to its API, snapshots
written where `serve objects` writes them, real recorded segments in its index, and a real
Alertmanager with an alert firing.

Every page loads with no console error and no CSP violation, at desktop and phone widths
(the screenshots in docs/ui.md are written here), the System page with the firing alert;
the review page shows an object and a new one appears without a reload; the object's clip
plays; the frame explorer says why a static frame was skipped and shows a person frame's
detection; login is required with a token, and a wrong token is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import httpx
import pytest
from playwright.sync_api import Browser, expect
from skimage import data as samples

from detektor.adapters.stores import open_recording_index
from detektor.services.objects.snapshot_upkeep import snapshot_store
from detektor.settings import Settings
from support.alertmanager import Alertmanager, post_alerts, quiet_config
from support.browser import DESKTOP, PHONE, chromium, clean_page, screenshot, watched_page
from support.process import ServiceProcess
from support.recordings import make_video, record_segments
from support.services import require_binary
from support.ui_scene import person_frame, person_life, recent, skipped_frame

TOKEN = "browser-test-token"
CAMERA = "porch"


class Scene:
    """What the running service holds: the ids the tests look for."""

    def __init__(self) -> None:
        self.skipped = ""
        self.person = ""
        self.object_id = ""
        self.clip_object = ""
        self.data_dir = Path()


def _post(url: str, events: list[dict[str, Any]], token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = httpx.post(f"{url}/v1/events", json={"events": events}, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert all(r["status"] == "appended" for r in reply.json()["results"]), reply.text


def _pictures(data_dir: Path, object_ids: list[str]) -> None:
    """The camera's latest frame and each object's best picture, as `serve objects` keeps them."""
    store = snapshot_store(Settings(data_dir=data_dir))
    assert store is not None
    image = cv2.resize(cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR), (640, 480))
    box = (180.0, 40.0, 460.0, 470.0)
    store.keep_latest(CAMERA, image, [("person", 0.87, box)])
    for object_id in object_ids:
        store.keep_best(object_id, CAMERA, image, box, "person", 0.87)


def _footage(tmp: Path, database: str, recordings: Path) -> datetime:
    """Six seconds of real footage of CAMERA, recorded and indexed; when it starts."""
    require_binary("ffmpeg", "ffmpeg")
    make_video(tmp / "source.mp4", seconds=6, fps=10, gop=10, audio=False)
    segments = record_segments(recordings, tmp / "source.mp4", CAMERA)
    index = open_recording_index(database)
    try:
        index.migrate()
        for segment in segments:
            assert index.add(segment)
    finally:
        index.close()
    return min(s.start for s in segments)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceProcess, Scene]]:
    tmp = tmp_path_factory.mktemp("ui")
    database = f"sqlite:///{tmp / 'events.db'}"
    recordings = tmp / "recordings"
    footage_start = _footage(tmp, database, recordings)
    env = {
        "DETEKTOR_DATABASE_URL": database,
        "DETEKTOR_TRACKING__CONSUME": "false",
        "DETEKTOR_RECORDINGS__ROOT": str(recordings),
        "DETEKTOR_LINK_SECRET": "a-browser-test-link-secret-long-enough",
    }
    with Alertmanager(tmp, quiet_config()) as alertmanager:
        _firing(alertmanager.url)
        env["DETEKTOR_ALERTMANAGER_URL"] = alertmanager.url
        with ServiceProcess("tracking", tmp, env) as proc:
            yield proc, _scene(proc, tmp, footage_start)


def _firing(url: str) -> None:
    """An alert firing in Alertmanager, for the System page."""
    now = datetime.now(UTC)
    post_alerts(
        url,
        [
            {
                "labels": {"alertname": "DetektorCameraDown", "severity": "critical"},
                "annotations": {"summary": "camera porch sends no frames"},
                "startsAt": (now - timedelta(minutes=4)).isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
            }
        ],
    )


def _scene(proc: ServiceProcess, tmp: Path, footage_start: datetime) -> Scene:
    """The scene the tests look for, posted to the running service."""
    scene = Scene()
    at = recent()
    scene.skipped, skip_events = skipped_frame(CAMERA, at, 1)
    scene.person, person_events = person_frame(CAMERA, at + timedelta(seconds=1), 2)
    scene.object_id, object_events = person_life(CAMERA, at)
    scene.clip_object, clip_events = person_life(
        CAMERA, footage_start + timedelta(seconds=1), track_id=2
    )
    _post(proc.url, skip_events + person_events + object_events + clip_events)
    scene.data_dir = tmp / "data"  # ServiceProcess's DETEKTOR_DATA_DIR
    _pictures(scene.data_dir, [scene.object_id, scene.clip_object])
    return scene


PAGES = [
    ("cameras", "/"),
    ("review", "/review"),
    ("object", "/review/{object}"),
    ("frames", "/frames?camera=porch&frame_id={skipped}"),
    ("frame-person", "/frames?frame_id={person}"),
    ("recordings", "/recordings?camera=porch"),
    ("system", "/system"),
]


@pytest.mark.parametrize(("name", "path"), PAGES)
def test_every_page_loads_clean_at_desktop_and_phone_widths(
    browser: Browser, service: tuple[ServiceProcess, Scene], name: str, path: str
) -> None:
    proc, scene = service
    url = proc.url + path.format(
        object=quote(scene.object_id), skipped=quote(scene.skipped), person=quote(scene.person)
    )
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        with watched_page(browser, viewport) as watched:
            reply = watched.page.goto(url)
            assert reply is not None
            assert reply.status == 200
            watched.page.wait_for_load_state("networkidle")
            assert watched.page.evaluate("typeof htmx") == "object"  # the vendored script ran
            if name == "system":  # the alert firing in the real Alertmanager
                expect(watched.page.locator('[data-alert="DetektorCameraDown"]')).to_be_visible()
            screenshot(watched.page, f"{name}-{width}")
            assert watched.problems() == [], (name, width)


def test_the_cameras_grid_refreshes_by_itself(
    browser: Browser, service: tuple[ServiceProcess, Scene]
) -> None:
    proc, _ = service
    with clean_page(browser, proc.url + "/") as page:
        page.evaluate("window.__kept = true")
        with page.expect_response(lambda r: "/ui/cameras/grid" in r.url, timeout=10_000):
            pass
        expect(page.locator('[data-camera="porch"] img')).to_be_visible()
        assert page.evaluate("window.__kept") is True


def test_review_shows_the_object_and_a_new_one_appears_without_reload(
    browser: Browser, service: tuple[ServiceProcess, Scene]
) -> None:
    proc, scene = service
    with clean_page(browser, proc.url + "/review") as page:
        expect(page.locator(f'[data-object="{scene.object_id}"]')).to_be_visible()
        page.evaluate("window.__kept = true")  # gone if the page reloads
        page.wait_for_timeout(500)  # the stream is open and has seen what is there
        new_id, events = person_life(CAMERA, recent(1), track_id=9)
        _pictures(scene.data_dir, [new_id])
        _post(proc.url, events)
        expect(page.locator(f'[data-object="{new_id}"]')).to_be_visible(timeout=10_000)
        first = page.locator("#objects > li").first
        assert first.get_attribute("data-object") == new_id  # the newest on top
        assert page.evaluate("window.__kept") is True


def test_the_objects_clip_plays(browser: Browser, service: tuple[ServiceProcess, Scene]) -> None:
    proc, scene = service
    with clean_page(browser, f"{proc.url}/review/{quote(scene.clip_object)}") as page:
        video = page.locator("video#clip")
        expect(video).to_be_visible()
        page.evaluate("document.querySelector('video#clip').muted = true")
        page.evaluate("document.querySelector('video#clip').play()")
        # Polled from here: wait_for_function evaluates a string in the page, which the
        # page's CSP (rightly) forbids.
        deadline = time.monotonic() + 15
        played = 0.0
        while played <= 0.5 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            played = page.evaluate("document.querySelector('video#clip').currentTime")
        assert played > 0.5, page.evaluate("document.querySelector('video#clip').error")


def test_the_frame_explorer_says_why_and_shows_the_detection(
    browser: Browser, service: tuple[ServiceProcess, Scene]
) -> None:
    proc, scene = service
    with clean_page(browser, proc.url + "/frames") as page:
        page.fill('input[name="frame_id"]', scene.skipped)
        page.click('form.filters button[type="submit"]')
        expect(page.locator(".outcome")).to_have_text("skipped: no_motion")
        page.fill('input[name="frame_id"]', scene.person)
        page.click('form.filters button[type="submit"]')
        row = page.locator("table.detections tbody tr").first
        expect(row).to_contain_text("person")
        expect(row).to_contain_text("0.87")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    tmp = tmp_path_factory.mktemp("ui-token")
    env = {
        "DETEKTOR_DATABASE_URL": f"sqlite:///{tmp / 'events.db'}",
        "DETEKTOR_TRACKING__CONSUME": "false",
        "DETEKTOR_API_TOKEN": TOKEN,
        "DETEKTOR_LINK_SECRET": "a-browser-test-link-secret-long-enough",
    }
    with ServiceProcess("tracking", tmp, env) as proc:
        yield proc


def test_login_is_required_and_a_wrong_token_is_refused(
    browser: Browser, guarded: ServiceProcess
) -> None:
    with watched_page(browser) as watched:
        page = watched.page
        page.goto(guarded.url + "/system")
        assert page.url.startswith(guarded.url + "/login?next=")
        screenshot(page, "login-desktop")
        page.fill('input[name="token"]', "not-the-token")
        with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
            page.click('form.login button[type="submit"]')
        assert answer.value.status == 401
        expect(page.locator(".refused")).to_have_text("Wrong token: try again.")
        page.fill('input[name="token"]', TOKEN)
        page.click('form.login button[type="submit"]')
        page.wait_for_url(guarded.url + "/system")
        expect(page.locator("h1")).to_have_text("System")
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["detektor_session"]
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Strict"
        page.click('form.logout button[type="submit"]')
        page.wait_for_url(guarded.url + "/login")
        # The 401 of the wrong token is the one console error a browser reports for it.
        assert [p for p in watched.problems() if "401" not in p] == []
