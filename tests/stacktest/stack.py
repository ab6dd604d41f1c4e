"""The compose stack under test: deploy/compose.yml (core profile) plus the test's override,
driven by Debian's ``docker-compose``; its containers by service name, their health, and the
addresses the test reaches them on (published on 127.0.0.1, on free ports)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stacktest.engine import DOCKER, Engine, EngineError
from stacktest.images import REPO
from support.services import free_port

# Debian's docker-compose 1.29 here; the Compose v2 plugin on a host that has only that.
COMPOSE = (
    ["/usr/bin/docker-compose"] if Path("/usr/bin/docker-compose").exists() else [DOCKER, "compose"]
)
FILES = [REPO / "deploy" / "compose.yml", REPO / "tests" / "stacktest" / "compose.stack.yml"]
APP_SERVICES = ("capture", "detector", "tracking", "objects", "notifier")
SECRETS = ("DETEKTOR_API_TOKEN", "POSTGRES_PASSWORD", "MQTT_PASSWORD")


@dataclass
class Stack:
    engine: Engine
    images: dict[str, str]
    workdir: Path
    project: str = "dkstack"
    ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("TRACKING_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT"):
            self.ports[name] = free_port()
        self.ports["STACK_REDIS_PORT"] = free_port()
        self.ports["STACK_JAEGER_PORT"] = free_port()
        # compose interpolates every service, the full profile's too: Grafana's password too
        for name in (*SECRETS, "GRAFANA_ADMIN_PASSWORD"):
            self.secrets[name] = secrets.token_urlsafe(18)

    # --- addresses ---------------------------------------------------------------------------
    @property
    def tracking(self) -> str:
        return f"http://127.0.0.1:{self.ports['TRACKING_PORT']}"

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.ports['PROMETHEUS_PORT']}"

    @property
    def jaeger(self) -> str:
        return f"http://127.0.0.1:{self.ports['STACK_JAEGER_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['STACK_REDIS_PORT']}/0"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def api(self) -> httpx.Client:
        token = self.secrets["DETEKTOR_API_TOKEN"]
        return httpx.Client(
            base_url=self.tracking, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )

    # --- compose -----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(self.engine.env)
        env |= self.images | self.secrets | {k: str(v) for k, v in self.ports.items()}
        env |= {
            "BIND_ADDRESS": "127.0.0.1",
            "CAMERAS_FILE": str(self.workdir / "cameras.yml"),
            "STACK_MEDIA_DIR": str(self.workdir / "media"),
            "OTLP_ENDPOINT": "http://otlp:4318",
            "COMPOSE_PROFILES": "",
        }
        return env

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        command = [*COMPOSE, "-p", self.project]
        for path in FILES:
            command += ["-f", str(path)]
        done = subprocess.run(
            [*command, *args],
            env=self.env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise EngineError(f"docker-compose {' '.join(args)}: {done.stderr.strip()[-3000:]}")
        return done.stdout

    def containers(self) -> dict[str, dict[str, Any]]:
        """service -> the Engine API's summary of its container (all states)."""
        label = f"com.docker.compose.project={self.project}"
        listing = self.engine.get("/containers/json", all="1", filters=f'{{"label":["{label}"]}}')
        return {c["Labels"]["com.docker.compose.service"]: c for c in listing}

    def health(self) -> dict[str, str]:
        """service -> healthy, unhealthy, starting, or the state of one without a check."""
        out = {}
        for service, summary in self.containers().items():
            state = self.engine.inspect(summary["Id"])["State"]
            health = state.get("Health")
            out[service] = health["Status"] if health else state["Status"]
        return out

    def wait_healthy(self, timeout_s: float, services: list[str] | None = None) -> float:
        """Seconds until every (given) container is healthy; EngineError naming the others."""
        started = time.monotonic()
        while True:
            health = self.health()
            waiting = {
                s: h
                for s, h in health.items()
                if (services is None or s in services) and h not in ("healthy",)
            }
            if not waiting:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise EngineError(f"not healthy after {timeout_s:.0f} s: {waiting}")
            time.sleep(2)

    def crash(self, service: str) -> None:
        """SIGKILL the container's process tree from the host, as the kernel's OOM killer
        would: Docker sees a crash and its restart policy applies. (``docker kill`` counts as
        stopping it by hand, and a container stopped by hand is not restarted.)"""
        container = self.containers()[service]["Id"]
        before = self.engine.inspect(container)
        pid = int(before["State"]["Pid"])
        if pid <= 0:
            raise EngineError(f"{service} is not running")
        os.kill(pid, signal.SIGKILL)
        # Until Docker has restarted it, the container still looks healthy.
        deadline = time.monotonic() + 60
        while self.engine.inspect(container)["RestartCount"] <= before["RestartCount"]:
            if time.monotonic() > deadline:
                raise EngineError(f"Docker did not restart {service} within 60 s of a crash")
            time.sleep(0.5)

    def logs(self, service: str, tail: int = 40) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", service, check=False)
