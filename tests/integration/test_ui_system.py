"""The Cameras page's capture state (up, fps, reconnects from the camera workers' metrics
where they run in process, a pointer to capture's /metrics where not); the System page's
recording disk use (from the recording index and the recordings root's file system) and its
recent alerts, read from a real Alertmanager (Debian's package) with alerts posted to it; an
Alertmanager that does not answer, or answers something else, is a sentence on the page,
never a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from detektor.domain.recordings import Segment
from detektor.kit.metrics import Metrics
from detektor.ports import RecordingTotals
from detektor.services.capture.metrics import CaptureMetrics
from detektor.settings import Settings
from detektor.ui.alerts import parse_alerts
from detektor.ui.capture_state import CaptureState, capture_states
from detektor.ui.system_page import disk_use
from support.alertmanager import Alertmanager, post_alerts, quiet_config
from support.services import free_port
from support.tracking_app import tracking_client
from support.ui_scene import recent, skipped_frame

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def segment(camera: str, start: datetime, size: int) -> Segment:
    path = f"{camera}/{start:%Y%m%dT%H%M%S}.mp4"
    return Segment(camera, start, start + timedelta(seconds=10), path, size, "h264", 1, False)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with tracking_client(f"sqlite:///{tmp_path / 'events.db'}", data_dir=tmp_path / "data") as c:
        yield c


def test_no_recordings_says_so(client: TestClient) -> None:
    page = client.get("/system").text
    assert "Nothing recorded yet." in page
    assert "The recordings folder does not exist yet." in page
    assert "No Alertmanager configured" in page


def test_disk_use_per_camera_and_free_space_of_the_root(client: TestClient, tmp_path: Path) -> None:
    index = client.app.state.recordings.index  # type: ignore[attr-defined]
    for i in range(3):
        assert index.add(segment("yard", NOW - timedelta(minutes=10 - i), 3 * 2**20))
    assert index.add(segment("porch", NOW - timedelta(minutes=5), 2**19))
    (tmp_path / "data" / "recordings").mkdir(parents=True)
    page = client.get("/system").text
    assert "<tr><td>porch</td><td>1</td><td>0.5</td></tr>" in page
    assert "<tr><td>yard</td><td>3</td><td>9.0</td></tr>" in page
    assert "<tr><td>all</td><td>4</td><td>9.5</td></tr>" in page
    assert "GiB free of" in page
    assert str(tmp_path / "data" / "recordings") in page
    assert "Nothing recorded yet." not in page


def test_disk_use_of_a_root_that_cannot_be_read(tmp_path: Path) -> None:
    totals = {"yard": RecordingTotals(segments=2, bytes=2**21, largest=2**20)}
    gone = disk_use(totals, tmp_path / "nowhere")
    assert gone["free"] is None
    assert gone["cameras"] == [{"camera": "yard", "segments": 2, "mib": 2.0}]
    here = disk_use({}, tmp_path)
    assert here["free"] is not None
    assert here["free"]["total_gib"] > 0
    assert here["segments"] == 0
    assert here["cameras"] == []


def firing(name: str, severity: str, summary: str, started: datetime) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "job": "capture"},
        "annotations": {"summary": summary},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
        "endsAt": (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus.invalid/graph",
    }


def test_system_page_shows_the_alerts_firing_in_a_real_alertmanager(tmp_path: Path) -> None:
    with Alertmanager(tmp_path, quiet_config()) as am:
        post_alerts(
            am.url,
            [
                firing(
                    "CameraDown",
                    "critical",
                    "camera yard sends no frames",
                    NOW - timedelta(minutes=3),
                ),
                firing(
                    "<b>Odd</b>", "warning", "a <script> in a summary", NOW - timedelta(minutes=1)
                ),
            ],
        )
        # A silenced alert is not firing at anyone: not shown.
        post_alerts(am.url, [firing("Hushed", "warning", "silenced", NOW - timedelta(minutes=2))])
        silence = {
            "matchers": [{"name": "alertname", "value": "Hushed", "isRegex": False}],
            "startsAt": NOW.isoformat().replace("+00:00", "Z"),
            "endsAt": (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "createdBy": "test",
            "comment": "quiet",
        }
        assert httpx.post(f"{am.url}/api/v2/silences", json=silence, timeout=5).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = {a["labels"]["alertname"]: a["status"]["state"] for a in am.alerts()}
            if states.get("Hushed") == "suppressed" and len(states) == 3:
                break
            time.sleep(0.2)
        with tracking_client(
            f"sqlite:///{tmp_path / 'events.db'}",
            data_dir=tmp_path / "data",
            alertmanager_url=am.url + "/",
        ) as client:
            reply = client.get("/system")
    assert reply.status_code == 200
    page = reply.text
    assert '<tr data-alert="CameraDown"><td>CameraDown</td><td class="down">critical</td>' in page
    assert "camera yard sends no frames" in page
    assert (NOW - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S") in page
    assert "&lt;b&gt;Odd&lt;/b&gt;" in page
    assert "a &lt;script&gt; in a summary" in page
    assert page.index("Odd") < page.index("CameraDown")  # newest first
    assert "Hushed" not in page
    assert "did not answer" not in page


def test_no_firing_alert_says_so(tmp_path: Path) -> None:
    with (
        Alertmanager(tmp_path, quiet_config()) as am,
        tracking_client(
            f"sqlite:///{tmp_path / 'events.db'}", data_dir=tmp_path / "d", alertmanager_url=am.url
        ) as client,
    ):
        assert "No alert is firing." in client.get("/system").text


class Impostor:
    """An HTTP server at the Alertmanager URL answering ``status`` and ``body`` (after
    ``delay_s``): what a wrong URL, a proxy's error page or a hung process looks like."""

    def __init__(self, status: int, body: bytes, delay_s: float = 0.0) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(delay_s)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Impostor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "delay_s", "said"),
    [
        (500, b"boom", 0.0, "HTTP 500"),
        (200, b"<html>login</html>", 0.0, "not JSON"),
        (200, b'{"alerts": []}', 0.0, "not a list"),
        (200, b'[{"labels": "x"}]', 0.0, "without labels"),
        (200, b"[1, 2]", 0.0, "without labels"),
        (200, b"[]", 3.0, "ReadTimeout"),
        (200, b"[" + b" " * 1_100_000 + b"]", 0.0, "too big"),
    ],
)
def test_a_bad_answer_is_said_on_the_page(
    tmp_path: Path, status: int, body: bytes, delay_s: float, said: str
) -> None:
    with (
        Impostor(status, body, delay_s) as impostor,
        tracking_client(
            f"sqlite:///{tmp_path / 'events.db'}",
            data_dir=tmp_path / "d",
            alertmanager_url=impostor.url,
        ) as client,
    ):
        started = time.monotonic()
        reply = client.get("/system")
        assert time.monotonic() - started < 2.9  # the short timeout, not the impostor's pace
    assert reply.status_code == 200
    assert "Alertmanager did not answer:" in reply.text
    assert said in reply.text


def test_an_alertmanager_that_is_not_there_is_said_on_the_page(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with tracking_client(
        f"sqlite:///{tmp_path / 'events.db'}", data_dir=tmp_path / "d", alertmanager_url=url
    ) as client:
        reply = client.get("/system")
    assert reply.status_code == 200
    assert "Alertmanager did not answer: ConnectError" in reply.text


@pytest.mark.parametrize("url", ["ftp://alertmanager:9093", "alertmanager:9093", ""])
def test_the_alertmanager_url_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError, match="alertmanager_url"):
        Settings(alertmanager_url=url)


def test_alerts_of_other_states_and_odd_fields_are_parsed_safely() -> None:
    body = [
        {
            "labels": {"alertname": "A", "severity": 3},
            "annotations": {"description": "d" * 1000},
            "startsAt": "2026-01-01T00:00:00Z",
            "status": {"state": "active"},
        },
        {
            "labels": {},
            "annotations": {},
            "startsAt": "2026-01-01T00:00:01Z",
            "status": {"state": "suppressed", "silencedBy": ["x"], "inhibitedBy": []},
        },
    ]
    alerts = parse_alerts(body)
    assert alerts.problem is None
    assert [a.name for a in alerts.firing] == ["A"]
    assert alerts.firing[0].severity == ""
    assert len(alerts.firing[0].summary) == 300
    many = parse_alerts([body[0]] * 60)
    assert len(many.firing) == 50
    assert many.more == 10


def test_capture_states_come_from_the_camera_workers_metrics() -> None:
    metrics = Metrics("run", "0")
    assert capture_states(metrics.registry) is None  # no camera worker in this process
    assert capture_states(None) is None
    capture = CaptureMetrics(metrics)
    capture.up.labels("yard").set(1)
    capture.fps.labels("yard", "sampled").set(4.96)
    capture.fps.labels("yard", "decoded").set(25)
    capture.up.labels("gate").set(0)
    capture.reconnects.labels("gate").inc(3)
    states = capture_states(metrics.registry)
    assert states == {
        "yard": CaptureState(up=True, fps=5.0, reconnects=0),
        "gate": CaptureState(up=False, fps=0.0, reconnects=3),
    }


def test_the_tracking_services_cameras_page_says_where_reconnects_are(
    client: TestClient,
) -> None:
    reply = client.post(
        "/v1/events",
        json={"events": skipped_frame("porch-cam", recent(), 1)[1]},
    )
    assert reply.status_code == 200, reply.text
    page = client.get("/ui/cameras/grid").text
    assert 'data-camera="porch-cam"' in page
    assert "capture runs in another process" in page
    assert "reconnect" not in page.split('class="hint"')[0]  # no count it cannot know
