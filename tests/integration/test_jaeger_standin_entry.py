"""``python -m support.jaeger_standin`` as the compose stack runs it: configured by
environment variables, healthy on /status, serving both APIs, stopping cleanly on SIGTERM, and
importing nothing the Detektor image lacks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from support.otel_export import spans_tracer
from support.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("OTLP", "QUERY", "HEALTH")}
    env = os.environ | {f"JAEGER_STANDIN_{k}_PORT": str(v) for k, v in ports.items()}
    env |= {"JAEGER_STANDIN_HOST": "127.0.0.1", "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "support.jaeger_standin"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        health = f"http://127.0.0.1:{ports['HEALTH']}/status"

        def healthy() -> httpx.Response | None:
            try:
                return httpx.get(health, timeout=1)
            except httpx.TransportError:
                return None

        reply = wait_for(healthy, 20, "the stand-in's health endpoint")
        assert reply.status_code == 200
        assert list(reply.json()) == ["start_time", "healthy", "status", "status_time"]
        assert reply.json()["status"] == "StatusOK"
        with spans_tracer(f"http://127.0.0.1:{ports['OTLP']}", "capture") as tracer:
            tracer.start_span("create frames").end()
        services = httpx.get(f"http://127.0.0.1:{ports['QUERY']}/api/services", timeout=5)
        assert services.json()["data"] == ["capture"]
        assert httpx.get(f"http://127.0.0.1:{ports['QUERY']}/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "stopped holding 1 traces, 1 spans" in stderr
    assert json.loads(services.content)["total"] == 1


def test_the_module_needs_only_what_the_detektor_image_has() -> None:
    """opentelemetry-proto, protobuf and googleapis-common-protos come with the OTLP exporter,
    a dependency of the package; nothing from the dev extras (pytest, httpx2, hypothesis)."""
    probe = (
        "import sys; import support.jaeger_standin; "
        "print(sorted({m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names}))"
    )
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout.replace("'", '"'))
    outside = {m for m in loaded if not m.startswith(("support", "google.", "opentelemetry."))}
    assert outside <= {"__main__", "google", "opentelemetry", "_distutils_hack"}, outside
    assert not [m for m in loaded if m.startswith("opentelemetry.") and ".proto" not in m]
