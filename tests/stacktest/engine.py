"""The Docker engine the stack test runs on: a private ``dockerd`` (data root, exec root and
socket in a directory of the test's own, torn down with everything in it), or an engine that
is already there (``--docker-host``) on a real host; and the few Engine API calls the test
makes itself (inspect, one-shot stats), over the unix socket."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

DOCKER = "/usr/bin/docker"  # Debian's client: it builds with BuildKit without a buildx plugin
DOCKERD = "/usr/sbin/dockerd"


class EngineError(RuntimeError):
    """The engine could not start, or answered something the test cannot use."""


class Engine:
    """A Docker engine reachable on ``socket``; ``env`` is what docker and compose need."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.host = f"unix://{socket}"
        self.api = httpx.Client(
            base_url="http://docker", transport=httpx.HTTPTransport(uds=str(socket)), timeout=30
        )

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def get(self, path: str, **params: Any) -> Any:
        reply = self.api.get(path, params=params)
        if reply.status_code >= 400:
            raise EngineError(f"GET {path}: HTTP {reply.status_code}: {reply.text[:300]}")
        return reply.json()

    def inspect(self, container: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/containers/{container}/json")
        return result

    def stats(self, container: str) -> dict[str, Any]:
        """One sample, without the second read that a CPU percentage would wait a second for."""
        result: dict[str, Any] = self.get(
            f"/containers/{container}/stats", stream="false", **{"one-shot": "true"}
        )
        return result

    def docker(self, *args: str, check: bool = True, quiet: bool = False) -> str:
        """Run Debian's docker client against this engine; its output, or EngineError."""
        done = subprocess.run(
            [DOCKER, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise EngineError(f"docker {' '.join(args)}: {done.stderr.strip()[-2000:]}")
        if not quiet and done.stderr.strip() and done.returncode != 0:
            print(done.stderr.strip())
        return done.stdout

    def close(self) -> None:
        self.api.close()


class PrivateEngine(Engine):
    """``dockerd`` with every path under ``root``; ``stop()`` ends it and deletes ``root``."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root / "docker.sock")
        self.root = root
        self.log = root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> PrivateEngine:
        for tool in (DOCKER, DOCKERD):
            if not Path(tool).exists():
                raise EngineError(f"{tool} is missing: apt-get install docker.io (setup --dev)")
        if os.geteuid() != 0:
            raise EngineError("a private dockerd needs root; or pass --docker-host for an engine")
        command = [
            DOCKERD,
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'dockerd.pid'}",
            f"--host={self.host}",
            "--log-level=warn",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineError(f"dockerd exited ({self.proc.returncode}): {self._log_tail()}")
            try:
                if self.api.get("/_ping").text == "OK":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise EngineError(f"dockerd did not answer in {timeout_s:.0f} s: {self._log_tail()}")

    def bridge_gateway(self) -> str:
        """The host's address on the default bridge: what ``host-gateway`` resolves to."""
        config = self.get("/networks/bridge")["IPAM"]["Config"][0]
        # the default bridge's inspect omits Gateway when dockerd chose it: the subnet's first
        return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))

    def stop(self) -> None:
        """Stop every container, then the engine; then delete its directory."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                ids = self.docker("ps", "-aq", check=False, quiet=True).split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, quiet=True)
            finally:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        self.close()
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"


def _unmount_below(root: Path) -> None:
    """A killed dockerd can leave overlay and netns mounts behind; they block rmtree."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(str(root))]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
