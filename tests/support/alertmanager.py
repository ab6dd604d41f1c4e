"""A real Alertmanager (Debian's package) in a temp dir, and a webhook receiver to notify.

``Alertmanager(tmp, config)`` writes ``config`` (a dict, usually a rewritten copy of the repo's
``alertmanager.yml``) and runs ``prometheus-alertmanager`` on a free loopback port with no
cluster port. ``WebhookReceiver`` is a small HTTP server that keeps every JSON body posted to
it, standing in for the chat service a real receiver would notify.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.services import free_port, require_binary


class Alertmanager:
    def __init__(self, tmp: Path, config: dict[str, Any]) -> None:
        self.binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.dir = tmp / f"alertmanager-{self.port}"
        self.dir.mkdir()
        self.config_path = self.dir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Alertmanager:
        self._log = (self.dir / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.path={self.dir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",  # no gossip port: a single, private instance
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise AssertionError(f"Alertmanager did not start:\n{self.log()}")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log(self) -> str:
        return (self.dir / "alertmanager.log").read_text(errors="replace")

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds now (API v2), filtered by exact label values."""
        matchers = [f'{name}="{value}"' for name, value in labels.items()]
        reply = httpx.get(f"{self.url}/api/v2/alerts", params={"filter": matchers}, timeout=5)
        reply.raise_for_status()
        alerts: list[dict[str, Any]] = reply.json()
        return alerts


def quiet_config() -> dict[str, Any]:
    """A configuration that notifies nobody: for tests that only read the alerts back."""
    return {"route": {"receiver": "nobody", "group_wait": "1h"}, "receivers": [{"name": "nobody"}]}


def post_alerts(url: str, alerts: list[dict[str, Any]]) -> None:
    """Fire ``alerts`` (API v2 postable alerts) as Prometheus would."""
    reply = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5)
    reply.raise_for_status()


class WebhookReceiver:
    """Collects the JSON notifications Alertmanager posts to ``url``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.payloads: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.payloads.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.payloads)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
