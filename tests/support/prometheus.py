"""A real Prometheus (Debian's package) started in a temp dir, scraping given targets."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.services import free_port, require_binary


class Prometheus:
    """Scrapes ``targets`` (job name: addresses) every ``interval``. A test that needs more (a
    rewritten copy of the repo's config, with rule files and Alertmanager) passes the whole
    ``config`` instead, with the ``port`` it put in it for Prometheus itself, and may add
    command-line ``flags`` and ``env`` variables (the stack's feature flags, say)."""

    def __init__(
        self,
        tmp: Path,
        targets: dict[str, list[str]] | None = None,
        interval: str = "1s",
        *,
        config: dict[str, Any] | None = None,
        port: int | None = None,
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = require_binary("prometheus", "prometheus")
        self.flags = list(flags)
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tmp / f"prometheus-{self.port}"
        self.dir.mkdir()
        if config is None:
            config = {
                "global": {"scrape_interval": interval, "evaluation_interval": interval},
                "scrape_configs": [
                    {"job_name": job, "static_configs": [{"targets": addrs}]}
                    for job, addrs in (targets or {}).items()
                ],
            }
        self.config_path = self.dir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        self._log = (self.dir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *self.flags,
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError((self.dir / "prometheus.log").read_text())

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(20)
        self._log.close()

    def query(self, promql: str) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        reply.raise_for_status()
        result: list[dict[str, Any]] = reply.json()["data"]["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=5)
        reply.raise_for_status()
        active: list[dict[str, Any]] = reply.json()["data"]["activeTargets"]
        return active

    def log(self) -> str:
        return (self.dir / "prometheus.log").read_text(errors="replace")

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"Prometheus never returned data for {promql!r}")
