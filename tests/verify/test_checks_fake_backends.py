"""Check outcomes the native stack cannot produce here (a CUDA detector, a slow canary, a
firing alert), against a fake Prometheus and tracking API answering their documented shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detektor.verify import CheckResult, Status, VerifyOptions
from detektor.verify.checks import GPU_VISIBLE, alerts, custom_metrics, gpu
from detektor.verify.pipeline import pipeline
from detektor.verify.report import exit_code, verdict
from support.verify_fakes import FakeHttp, json_reply


def vector(*series: tuple[dict[str, str], float]) -> Any:
    result = [{"metric": m, "value": [1764252187.0, str(v)]} for m, v in series]
    return json_reply({"status": "success", "data": {"resultType": "vector", "result": result}})


def prometheus(provider: str, cuda_rate: float, gpu_visible: bool = False) -> Any:
    device = {"job": "detector", "instance": "detector:8000", "provider": provider}
    device["device"] = "NVIDIA H100" if provider.startswith("CUDA") else "cpu"

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path != "/api/v1/query":
            return None
        promql = query["query"][0]
        if "detektor_detector_device_info" in promql:
            return vector((device, 1))
        if 'detektor_inference_frames_total{device="cuda"}' in promql:
            return vector(({}, cuda_rate)) if cuda_rate else vector()
        if promql == GPU_VISIBLE:
            return vector(({}, 1)) if gpu_visible else vector()
        return None

    return route


def test_gpu_passes_with_a_cuda_device_and_a_growing_rate() -> None:
    with FakeHttp(prometheus("CUDAExecutionProvider", 4.8)) as prom:
        result = gpu(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.PASS, result
    assert result.summary == "CUDA inference at 4.80 frames/s"
    assert result.evidence == [
        "detector detector:8000: provider=CUDAExecutionProvider device=NVIDIA H100",
        "inference rate on cuda over 15m: 4.80 frames/s",
    ]


def test_gpu_fails_when_cuda_is_loaded_but_idle() -> None:
    with FakeHttp(prometheus("CUDAExecutionProvider", 0)) as prom:
        result = gpu(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.FAIL
    assert result.summary == "a CUDA device is loaded but runs no inference"


def test_gpu_is_skipped_on_a_host_without_a_gpu_unless_required() -> None:
    with FakeHttp(prometheus("CPUExecutionProvider", 0)) as prom:
        skipped = gpu(VerifyOptions(prometheus=prom.url))
        required = gpu(VerifyOptions(prometheus=prom.url, require_gpu=True))
    assert skipped.status is Status.SKIP
    assert skipped.summary == "no GPU on this host: the detectors run on CPU"
    assert required.status is Status.FAIL


def test_gpu_fails_when_the_host_has_a_gpu_the_detector_does_not_use() -> None:
    with FakeHttp(prometheus("CPUExecutionProvider", 0, gpu_visible=True)) as prom:
        result = gpu(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.FAIL
    assert result.summary == "no service uses the GPU: every detector runs on CPU"


def tracking_and_prometheus(total_ms: float, imbalance: int, stale: int = 0) -> Any:
    done = (datetime.now(UTC) - timedelta(seconds=3)).isoformat()
    frame = {
        "frame_id": "canary:1764252187000:000042",
        "state": "completed",
        "terminal_at": done,
        "total_ms": total_ms,
        "events": [{"type": "frame.captured"}, {"type": "frame.completed"}],
        "stages": [{"name": "processing", "duration_ms": total_ms}],
    }
    accounting = {
        "captured": 10,
        "completed": 10 - imbalance - stale,
        "skipped": 0,
        "dropped": 0,
        "failed": 0,
        "in_flight": stale,
        "stale": stale,
        "imbalance": imbalance,
        "balanced": imbalance == 0 and stale == 0,
    }

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/v1/frames":
            return json_reply({"frames": [frame], "next_cursor": None})
        if path == f"/v1/frames/{frame['frame_id']}":
            return json_reply(frame)
        if path == "/v1/cameras/canary/accounting":
            return json_reply(accounting)
        if path == "/api/v1/query":
            return vector(({"camera": "canary"}, 1))
        return None

    return route


def test_pipeline_fails_a_slow_canary_and_an_unbalanced_camera() -> None:
    with FakeHttp(tracking_and_prometheus(7250, 2)) as fake:
        result = pipeline(VerifyOptions(prometheus=fake.url, tracking=fake.url))
    assert result.status is Status.FAIL
    assert result.summary == (
        "the canary took 7.25 s > 5 s; camera canary's accounting is off by 2"
    )
    assert "stages: processing 7250 ms" in result.evidence


def test_stale_frames_are_named_as_such_not_as_an_imbalance() -> None:
    with FakeHttp(tracking_and_prometheus(120, 0, stale=3)) as fake:
        result = pipeline(VerifyOptions(prometheus=fake.url, tracking=fake.url))
    assert result.status is Status.FAIL
    assert result.summary == "camera canary has 3 stale frames"


def test_pipeline_passes_in_budget() -> None:
    with FakeHttp(tracking_and_prometheus(120, 0)) as fake:
        result = pipeline(VerifyOptions(prometheus=fake.url, tracking=fake.url))
    assert result.status is Status.PASS, result


def test_alerts_lists_the_firing_ones() -> None:
    firing = {
        "labels": {"alertname": "CameraDown", "camera": "door", "severity": "critical"},
        "state": "firing",
        "activeAt": "2026-11-27T10:00:00Z",
    }
    pending = {**firing, "state": "pending", "labels": {"alertname": "DiskFilling"}}

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/v1/rules":
            return rules("detektor-availability", "detektor-pipeline")
        body = {"status": "success", "data": {"alerts": [firing, pending]}}
        return json_reply(body) if path == "/api/v1/alerts" else None

    with FakeHttp(route) as prom:
        result = alerts(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.FAIL
    assert result.summary == "1 alert(s) firing"
    assert result.evidence == [
        "rule groups: detektor-availability, detektor-pipeline",
        "firing: CameraDown {camera=door, severity=critical} since 2026-11-27T10:00:00Z",
        "pending: DiskFilling {} since 2026-11-27T10:00:00Z",
    ]


def rules(*groups: str) -> Any:
    """Prometheus's /api/v1/rules answer with these (empty) alerting rule groups."""
    body = [
        {"name": g, "file": "/etc/prometheus/rules/detektor.yml", "rules": [], "interval": 15}
        for g in groups
    ]
    return json_reply({"status": "success", "data": {"groups": body}})


@pytest.mark.parametrize("groups", [(), ("node-exporter",)])
def test_alerts_fail_when_no_detektor_rule_group_is_loaded(groups: tuple[str, ...]) -> None:
    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/v1/rules":
            return rules(*groups)
        body = {"status": "success", "data": {"alerts": []}}
        return json_reply(body) if path == "/api/v1/alerts" else None

    with FakeHttp(route) as prom:
        result = alerts(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.FAIL
    assert result.summary == "no Detektor alerting rule group is loaded"
    assert result.evidence == [f"rule groups: {', '.join(groups) or 'none'}"]


def test_every_check_skipped_is_inconclusive_not_pass() -> None:
    skipped = [CheckResult(n, Status.SKIP, "skipped") for n in ("GPU", "Traces")]
    assert exit_code(skipped) == 3
    assert verdict(skipped) == "INCONCLUSIVE: every check was skipped"
    some = [*skipped, CheckResult("Alerts", Status.PASS, "no alert firing")]
    assert (exit_code(some), verdict(some)) == (0, "PASS")


def metrics_prometheus(stale: tuple[str, ...] = ()) -> tuple[Any, list[str]]:
    """A Prometheus whose app targets are scraped every 5 s; every job has recent detektor_*
    series, and every pipeline metric but those in ``stale`` has a recent sample."""
    queries: list[str] = []
    jobs = ("capture", "detector", "tracking")
    targets = [
        {"labels": {"job": j, "instance": f"{j}:8000"}, "scrapeInterval": "5s", "health": "up"}
        for j in jobs
    ]

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/v1/targets":
            body = {"activeTargets": targets, "droppedTargets": []}
            return json_reply({"status": "success", "data": body})
        if path != "/api/v1/query":
            return None
        promql = query["query"][0]
        queries.append(promql)
        if promql.startswith("count by (job)"):
            return vector(*(({"job": j}, 12) for j in jobs))
        if promql.startswith("up{"):
            return vector(*(({"job": j, "instance": f"{j}:8000"}, 1) for j in jobs))
        if any(m in promql for m in stale):
            return vector()
        return vector(({}, 3))

    return route, queries


def test_custom_metrics_pass_with_fresh_pipeline_metrics() -> None:
    route, queries = metrics_prometheus()
    with FakeHttp(route) as prom:
        result = custom_metrics(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.PASS, result
    # Fresh means newer than 3 scrape intervals of the application jobs.
    assert all("[15s]" in q for q in queries if "last_over_time" in q)
    assert "detektor_frames_total: 3 series sampled in the last 15s" in result.evidence


def test_custom_metrics_fail_when_the_pipeline_metrics_stopped() -> None:
    route, _ = metrics_prometheus(stale=("detektor_frames_total", "detektor_accounting_frames"))
    with FakeHttp(route) as prom:
        result = custom_metrics(VerifyOptions(prometheus=prom.url))
    assert result.status is Status.FAIL
    assert result.summary == (
        "no recent sample of detektor_frames_total, detektor_accounting_frames"
    )
