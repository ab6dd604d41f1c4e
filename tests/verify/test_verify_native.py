"""``detektor verify`` against the native stack (support/native_stack.py): real capture on an
RTSP camera, detector, tracking and a real Prometheus running the repo's configuration.

The stack starts once for the module; the tests run in file order: first every check that
can run here passes, then the stack is broken one way at a time and the right check FAILs
with the right evidence. GPU (no CUDA here) and Traces (no Jaeger here) cannot pass on this
machine: their FAILs are asserted separately, and the passing run skips them.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from detektor.cli import main
from support.native_stack import NativeStack, native_stack
from support.waiting import wait_for

CAMERA = "door"
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    with native_stack(tmp_path_factory.mktemp("verify-stack"), CAMERA) as running:
        prom = running.prometheus
        wait_for(
            lambda: prom.query('sum(detektor_inference_frames_total{job="detector"}) > 0'),
            60,
            "inference counted in Prometheus",
            every=0.5,
        )
        wait_for(
            lambda: prom.query(
                f'detektor_accounting_frames{{camera="{CAMERA}",outcome="completed"}} > 0'
            ),
            60,
            "completed frames in tracking's accounting",
            every=0.5,
        )
        wait_for(  # capture's first scrape can come late on a loaded machine
            lambda: len(prom.query('count by (job)({__name__=~"detektor_.+"})')) == 3,
            60,
            "detektor_* series from capture, detector and tracking",
            every=0.5,
        )
        yield running


def verify(stack: NativeStack, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run ``detektor verify --format json`` and return its exit code and report."""
    out = tmp_path / "report.json"
    code = main([*_argv(stack, out), "--format=json", *extra])
    return code, json.loads(out.read_text())


def _argv(stack: NativeStack, out: Path) -> list[str]:
    return [
        "verify",
        f"--prometheus={stack.prometheus.url}",
        f"--tracking={stack.tracking_url}",
        "--jaeger=http://127.0.0.1:9",  # nothing listens: no Jaeger here
        f"--canary={CAMERA}",
        "--window=5m",
        f"--output={out}",
    ]


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["name"] == name)
    return found


def test_every_check_that_can_run_here_passes(stack: NativeStack, tmp_path: Path) -> None:
    code, report = verify(stack, tmp_path, "--skip=gpu,traces")
    assert code == 0, json.dumps(report, indent=2)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == {
        "Services": "PASS",
        "GPU": "SKIP",
        "Traces": "SKIP",
        "Custom metrics": "PASS",
        "Restarts": "PASS",
        "Pipeline": "PASS",
        "Recordings": "SKIP",  # the native stack's synthetic camera is not recorded
        "Alerts": "PASS",
    }
    services = check(report, "Services")["evidence"]
    assert {line.split()[0] for line in services} == {"capture", "detector", "tracking"}
    assert all(", version " in line for line in services)
    markdown = tmp_path / "report.md"  # the sample in docs/verify.md comes from here
    assert main([*_argv(stack, markdown), "--skip=gpu,traces", "--format=md"]) == 0
    assert "**Verdict: PASS** (exit code 0)" in markdown.read_text()
    restarts = check(report, "Restarts")["evidence"]
    assert "source: process_start_time_seconds of every scraped process" in restarts


def test_services_given_by_url_instead_of_discovered(stack: NativeStack, tmp_path: Path) -> None:
    urls = [f"--service={proc.url}" for proc in stack.services.values()]
    code, report = verify(stack, tmp_path, "--skip=gpu,traces", *urls)
    assert code == 0, json.dumps(report, indent=2)
    evidence = check(report, "Services")["evidence"]
    assert sorted(line.split()[0] for line in evidence) == ["capture", "detector", "tracking"]


def test_gpu_is_skipped_on_this_cpu_only_machine_unless_required(
    stack: NativeStack, tmp_path: Path
) -> None:
    code, report = verify(stack, tmp_path)
    assert code == 1  # Traces: no Jaeger here
    gpu = check(report, "GPU")
    assert gpu["status"] == "SKIP"
    assert gpu["summary"] == "no GPU on this host: the detectors run on CPU"
    assert any("provider=CPUExecutionProvider" in line for line in gpu["evidence"])
    _, required = verify(stack, tmp_path, "--require-gpu")
    gpu = check(required, "GPU")
    assert gpu["status"] == "FAIL"
    assert gpu["summary"] == "no service uses the GPU: every detector runs on CPU"
    full = tmp_path / "report.md"  # the failing sample in docs/verify.md comes from here
    assert main([*_argv(stack, full), "--require-gpu", "--format=md"]) == 1
    assert "## What to run next" in full.read_text()
    traces = check(report, "Traces")
    assert traces["status"] == "FAIL"
    assert any("http://127.0.0.1:9/api/services" in line for line in traces["evidence"])


def _reload(stack: NativeStack, config: dict[str, Any]) -> None:
    prom = stack.prometheus
    prom.config_path.write_text(yaml.safe_dump(config))
    assert prom.proc is not None
    prom.proc.send_signal(signal.SIGHUP)


def test_a_dropped_scrape_target_fails_custom_metrics_and_services(
    stack: NativeStack, tmp_path: Path
) -> None:
    prom = stack.prometheus
    # The job stays with no target: Prometheus writes staleness markers for a dropped target
    # (not for a whole job removed on reload, whose series linger for the lookback delta).
    dropped = {
        **stack.config,
        "scrape_configs": [
            {**job, "static_configs": []} if job["job_name"] == "detector" else job
            for job in stack.config["scrape_configs"]
        ],
    }
    _reload(stack, dropped)
    try:
        wait_for(
            lambda: (
                not prom.query(
                    'count(last_over_time({job="detector",__name__=~"detektor_.+"}[20s]))'
                )
            ),
            45,
            "the detector's series gone stale",
            every=0.5,
        )
        code, report = verify(stack, tmp_path, "--skip=gpu,traces", "--window=20s")
        assert code == 1
        metrics = check(report, "Custom metrics")
        assert metrics["status"] == "FAIL"
        assert metrics["summary"] == "no recent detektor_* series from detector"
        assert "detector: 0 detektor_* series sampled in the last 3s" in metrics["evidence"]
        services = check(report, "Services")
        assert services["status"] == "FAIL"
        assert services["summary"] == "2 of 2 application services ready (need 3)"
    finally:
        _reload(stack, stack.config)
        wait_for(lambda: prom.query('up{job="detector"} == 1'), 30, "detector scraped again")


def test_a_process_restarting_in_a_loop_fails_restarts(stack: NativeStack, tmp_path: Path) -> None:
    tracking = stack.services["tracking"]
    for _ in range(2):
        tracking.stop()
        tracking.start()
        wait_for(lambda: stack.prometheus.query('up{job="tracking"} == 1'), 30, "tracking scraped")
    wait_for(
        lambda: stack.prometheus.query(
            'changes(process_start_time_seconds{job="tracking"}[5m]) >= 2'
        ),
        30,
        "both restarts seen by Prometheus",
        every=0.5,
    )
    code, report = verify(stack, tmp_path, "--skip=gpu,traces")
    assert code == 1
    restarts = check(report, "Restarts")
    assert restarts["status"] == "FAIL"
    who = f"tracking 127.0.0.1:{tracking.port}"
    assert restarts["summary"] == f"1 restarted within 5m: {who}"
    assert f"{who}: restarted 2 time(s) in the last 5m" in restarts["evidence"]


def test_a_stopped_service_fails_services_naming_it(stack: NativeStack, tmp_path: Path) -> None:
    detector = stack.services["detector"]
    detector.stop()
    try:
        wait_for(lambda: stack.prometheus.query('up{job="detector"} == 0'), 30, "detector down")
        code, report = verify(stack, tmp_path, "--skip=gpu,traces")
        assert code == 1
        services = check(report, "Services")
        assert services["status"] == "FAIL"
        assert services["summary"].endswith("(need 3); not answering: detector")
        assert (
            f"detector 127.0.0.1:{detector.port}: /readyz unreachable (ConnectError)"
            in (services["evidence"])
        )
    finally:
        detector.start()


def test_a_camera_whose_frames_stop_fails_pipeline(stack: NativeStack, tmp_path: Path) -> None:
    stack.camera_server.kill()
    wait_for(
        lambda: stack.prometheus.query(f'detektor_camera_up{{camera="{CAMERA}"}} == 0'),
        20,
        "camera_up 0",
        every=0.5,
    )
    code, report = verify(stack, tmp_path, "--skip=gpu,traces")
    assert code == 1
    pipeline = check(report, "Pipeline")
    assert pipeline["status"] == "FAIL"
    assert f"camera {CAMERA} delivers no frames" in pipeline["summary"]
    assert f"camera {CAMERA}: detektor_camera_up=0" in pipeline["evidence"]
    assert any(line.startswith(f"camera {CAMERA}: captured ") for line in pipeline["evidence"])
