"""``detektor verify --docker`` as a user runs it inside the stack: a container of the project's
image on the stack's network (so Prometheus's targets resolve), the engine's socket mounted
read-only, the stand-in's Jaeger query API as ``--jaeger``. Its JSON report is kept in the
work directory and its table printed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from stacktest.engine import DOCKER
from stacktest.output import say
from stacktest.stack import Stack


def run_verify(stack: Stack, label: str, window: str = "5m") -> dict[str, Any]:
    """The report of one run (``exit_code``, ``checks`` ...); printed as a table."""
    socket = stack.engine.socket
    token = stack.secrets["DETEKTOR_API_TOKEN"]
    command = [
        DOCKER, "run", "--rm", f"--network={stack.network}",
        f"--group-add={socket.stat().st_gid}",
        "-v", f"{socket}:/var/run/docker.sock:ro",
        "-e", f"DETEKTOR_API_TOKEN={token}",
        stack.images["APP_IMAGE"], "verify", "--docker", "--format=json",
        "--prometheus=http://prometheus:9090", "--jaeger=http://otlp:16686",
        "--tracking=http://tracking:8000", f"--window={window}",
    ]  # fmt: skip
    done = subprocess.run(
        command, env=stack.engine.env, capture_output=True, text=True, timeout=180, check=False
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"verify printed no report ({done.returncode}): {done.stderr}") from None
    path = Path(stack.workdir) / f"verify-{label}.json"
    path.write_text(done.stdout)
    say(f"    verify exit code {done.returncode}, verdict {report['verdict']} ({path.name})")
    for check in report["checks"]:
        say(f"      {check['name']:<15} {check['status']:<5} {check['summary']}")
    return report


def check_named(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)
