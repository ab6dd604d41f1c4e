"""The example service as a real process: OTLP export, logs, metrics, shutdown and access."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from support.otlp import OtlpReceiver
from support.process import ServiceProcess
from support.prometheus import Prometheus
from support.services import require_binary


def test_trace_reaches_otlp_receiver_and_matches_response_and_log(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with ServiceProcess("example", tmp_path, env) as svc:
            reply = httpx.post(f"{svc.url}/v1/work", json={"items": 4}, timeout=10)
            assert reply.status_code == 200
            body = reply.json()
            assert body["items"] == 4
            trace_id = body["trace_id"]
            assert len(trace_id) == 32
            int(trace_id, 16)

            spans = receiver.wait_for(
                lambda ss: sum(s.name == "example.step" and s.trace_id == trace_id for s in ss) == 4
            )
        in_trace = [s for s in spans if s.trace_id == trace_id]
        assert {s.service for s in in_trace} == {"example"}
        assert sum(s.name == "example.step" for s in in_trace) == 4
        # Exactly one trace came from the one work request; health checks are not traced.
        assert {s.trace_id for s in spans if s.name.startswith("example.")} == {trace_id}
        assert not any("healthz" in s.name for s in spans)
        work = next(s for s in in_trace if s.name == "example.work")
        steps = [s for s in in_trace if s.name == "example.step"]
        assert all(s.parent_span_id == work.span_id for s in steps)

        logged = [line for line in svc.log_lines() if line.get("message") == "POST /v1/work -> 200"]
        assert len(logged) == 1
        assert logged[0]["trace_id"] == trace_id
        assert logged[0]["service"] == "example"


def test_no_endpoint_means_no_export_and_no_errors(tmp_path: Path) -> None:
    with ServiceProcess("example", tmp_path) as svc:
        assert httpx.post(f"{svc.url}/v1/work", json={"items": 1}, timeout=10).status_code == 200
    levels = {line["level"] for line in svc.log_lines()}
    assert levels <= {"info", "warning"}, svc.output()
    assert "Traceback" not in svc.output()


def test_metrics_pass_promtool_and_reach_prometheus(tmp_path: Path) -> None:
    promtool = require_binary("promtool", "prometheus")
    with ServiceProcess("example", tmp_path) as svc:
        for _ in range(3):
            httpx.post(f"{svc.url}/v1/work", json={"items": 5}, timeout=10).raise_for_status()
        text = httpx.get(f"{svc.url}/metrics", timeout=5).text
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
        )
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

        with Prometheus(tmp_path, {"example": [f"127.0.0.1:{svc.port}"]}) as prom:
            result = prom.wait_for('detektor_example_items_total{job="example"}')
            assert float(result[0]["value"][1]) == 15.0
            rate = prom.wait_for('detektor_http_requests_total{route="/v1/work",status="200"}')
            assert float(rate[0]["value"][1]) == 3.0


def test_bad_port_exits_2_with_one_line_naming_the_field(tmp_path: Path) -> None:
    env = {"DETEKTOR_HTTP_PORT": "abc", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "serve", "example"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "http_port" in lines[0]
    assert "DETEKTOR_HTTP_PORT" in lines[0]
    assert "Traceback" not in done.stderr


def test_sigterm_lets_in_flight_requests_finish_and_exits_0(tmp_path: Path) -> None:
    # ~1 MiB hashed per step, 1000 steps: each request runs long enough to be in flight.
    env = {"DETEKTOR_EXAMPLE__STEP_BYTES": "1048576", "DETEKTOR_SHUTDOWN_TIMEOUT_S": "30"}
    svc = ServiceProcess("example", tmp_path, env).start()
    results: list[httpx.Response | Exception] = []

    def call() -> None:
        try:
            results.append(httpx.post(f"{svc.url}/v1/work", json={"items": 1000}, timeout=60))
        except Exception as exc:
            results.append(exc)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    _wait_until_in_flight(svc, 3)
    code = svc.stop(signal.SIGTERM, timeout=60)
    for t in callers:
        t.join(60)
    assert code == 0, svc.output()
    assert len(results) == 3
    for r in results:
        assert isinstance(r, httpx.Response), r
        assert r.status_code == 200
        assert r.json()["items"] == 1000
    assert "stopped cleanly" in svc.output()


def _wait_until_in_flight(svc: ServiceProcess, n: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = httpx.get(f"{svc.url}/metrics", timeout=5).text
        for line in text.splitlines():
            if (
                line.startswith("detektor_http_requests_in_flight{")
                and float(line.split()[-1]) >= n
            ):
                return
        time.sleep(0.05)
    raise AssertionError(f"never saw {n} requests in flight")


def test_api_token_guards_work_but_not_health(tmp_path: Path) -> None:
    with ServiceProcess("example", tmp_path, {"DETEKTOR_API_TOKEN": "s3cret"}) as svc:
        work = f"{svc.url}/v1/work"
        missing = httpx.post(work, json={"items": 1}, timeout=10)
        assert missing.status_code == 401
        assert "missing bearer token" in missing.json()["error"]["message"]
        wrong = httpx.post(work, json={"items": 1}, headers={"authorization": "Bearer no"})
        assert wrong.status_code == 401
        right = httpx.post(work, json={"items": 1}, headers={"authorization": "Bearer s3cret"})
        assert right.status_code == 200
        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{svc.url}{open_path}", timeout=5).status_code == 200
        assert httpx.get(f"{svc.url}/info", timeout=5).status_code == 401
    assert "DETEKTOR_API_TOKEN is unset" not in svc.output()
