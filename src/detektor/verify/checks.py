"""The checks that need only Prometheus, the services and the tracking API.

Each function takes the options and returns one ``CheckResult``; a backend that does not
answer raises ``Unreachable``, which ``http.guarded`` turns into a FAIL naming the URL.
"""

from __future__ import annotations

from typing import Any

import httpx

from detektor.verify.http import Unreachable, client, get_json, prom_query, prom_targets
from detektor.verify.model import (
    APP_JOBS,
    CORE_SERVICES,
    CheckResult,
    Status,
    VerifyOptions,
    parse_duration,
)

APP_JOB_RE = "|".join(APP_JOBS)


def services(options: VerifyOptions) -> CheckResult:
    """At least ``min_services`` application services answer /readyz, and every one found
    does (a scraped target that does not answer is code that is not running). They are the
    application targets of Prometheus, or the ``--service`` URLs when given."""
    name = "Services"
    evidence: list[str] = []
    failing: list[str] = []
    ready = 0
    with client(options) as http:
        found = _given(options) if options.service_urls else _discovered(http, options)
        for job, address in found:
            base = address if "://" in address else f"http://{address}"
            try:
                readyz = http.get(f"{base}/readyz")
                body = readyz.json()
                job = job or str(body.get("service", base))
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                failing.append(job or address)
                what = job or "service"
                evidence.append(f"{what} {address}: /readyz unreachable ({type(exc).__name__})")
                continue
            if readyz.status_code != 200:
                failing.append(job)
                evidence.append(f"{job} {address}: /readyz {readyz.status_code} {body}")
                continue
            ready += 1
            evidence.append(f"{job} {address}: ready, version {_version(http, base, options)}")
    fix = (
        f"curl -s '{options.prometheus}/api/v1/targets?state=active' | "
        "jq '.data.activeTargets[] | {job: .labels.job, health, lastError}'"
    )
    if not found:
        return CheckResult(name, Status.FAIL, "Prometheus has no application targets", [], fix)
    summary = f"{ready} of {len(found)} application services ready (need {options.min_services})"
    if failing:
        summary += "; not answering: " + ", ".join(failing)
    ok = ready >= options.min_services and not failing
    return CheckResult(name, Status.PASS if ok else Status.FAIL, summary, evidence, fix)


def _discovered(http: httpx.Client, options: VerifyOptions) -> list[tuple[str, str]]:
    """(job, address) of every application target, by its ``__address__`` (or instance)."""
    found = []
    for target in prom_targets(http, options.prometheus):
        job = target["labels"].get("job")
        if job in APP_JOBS:
            discovered = target.get("discoveredLabels", {})
            found.append((job, discovered.get("__address__") or target["labels"]["instance"]))
    return sorted(found)


def _given(options: VerifyOptions) -> list[tuple[str, str]]:
    """The ``--service`` URLs; each one's name comes from its /readyz answer."""
    return [("", url.rstrip("/")) for url in options.service_urls]


def _version(http: httpx.Client, base: str, options: VerifyOptions) -> str:
    try:
        info = get_json(http, f"{base}/info", headers=options.headers())
    except (Unreachable, AttributeError):  # /info needs the token; the version is a detail
        return "unknown (/info needs --api-token)"
    return str(info.get("version", "unknown"))


# A GPU the host has, whether or not a detector uses it (as DetectorOnCpuOnGpuHost reads it).
GPU_VISIBLE = "count(DCGM_FI_DEV_GPU_UTIL) > 0 or count(detektor_gpu_utilization_ratio) > 0"


def gpu(options: VerifyOptions) -> CheckResult:
    """A detector reports a CUDA device and its inference count on CUDA grows. On a host
    with no GPU at all (every detector on CPU, and no GPU seen by dcgm-exporter or by the
    detectors' NVML gauges) there is nothing to check: SKIP, unless ``require_gpu``."""
    name = "GPU"
    fix = (
        f"curl -s '{options.prometheus}/api/v1/query' --data-urlencode "
        "'query=detektor_detector_device_info' | jq '.data.result[].metric'"
    )
    with client(options) as http:
        devices = prom_query(
            http,
            options.prometheus,
            f"last_over_time(detektor_detector_device_info[{options.recent}]) == 1",
        )
        rate = prom_query(
            http,
            options.prometheus,
            f'sum(rate(detektor_inference_frames_total{{device="cuda"}}[{options.window}]))',
        )
    evidence = [
        f"{d['metric'].get('job', '?')} {d['metric'].get('instance', '?')}: "
        f"provider={d['metric'].get('provider')} device={d['metric'].get('device')}"
        for d in devices
    ]
    cuda_rate = float(rate[0]["value"][1]) if rate else 0.0
    evidence.append(f"inference rate on cuda over {options.window}: {cuda_rate:.2f} frames/s")
    if not devices:
        return CheckResult(name, Status.FAIL, "no detector reports its device", evidence, fix)
    on_cuda = [d for d in devices if d["metric"].get("provider") == "CUDAExecutionProvider"]
    if not on_cuda and not options.require_gpu:
        with client(options) as http:
            visible = prom_query(http, options.prometheus, GPU_VISIBLE)
        if not visible:
            evidence.append(f"no GPU visible: {GPU_VISIBLE} is empty")
            return CheckResult(
                name, Status.SKIP, "no GPU on this host: the detectors run on CPU", evidence
            )
    if not on_cuda:
        return CheckResult(
            name, Status.FAIL, "no service uses the GPU: every detector runs on CPU", evidence, fix
        )
    if cuda_rate <= 0:
        return CheckResult(
            name, Status.FAIL, "a CUDA device is loaded but runs no inference", evidence, fix
        )
    return CheckResult(name, Status.PASS, f"CUDA inference at {cuda_rate:.2f} frames/s", evidence)


# The pipeline's own metrics, one per kind of service: frames counted (capture, detector),
# stage latencies (capture, detector), accounting from the event store (tracking).
PIPELINE_METRICS = (
    "detektor_frames_total",
    "detektor_stage_duration_seconds_count",
    "detektor_accounting_frames",
)
DEFAULT_SCRAPE_INTERVAL_S = 15.0


def custom_metrics(options: VerifyOptions) -> CheckResult:
    """Prometheus has ``detektor_*`` series from capture, detector, tracking and every other
    application job it scrapes, and the pipeline's own metrics (``PIPELINE_METRICS``), each
    with a sample newer than 3 times the longest scrape interval of those jobs: the build info
    of a process that processes nothing does not pass."""
    name = "Custom metrics"
    base = options.prometheus
    with client(options) as http:
        targets = prom_targets(http, base)
        fresh = f"{int(3 * _scrape_interval_s(targets))}s"
        counts = prom_query(
            http, base, f'count by (job)(last_over_time({{__name__=~"detektor_.+"}}[{fresh}]))'
        )
        scraped = prom_query(http, base, f'up{{job=~"{APP_JOB_RE}"}}')
        pipeline = {
            m: prom_query(http, base, f"count(last_over_time({m}[{fresh}]))")
            for m in PIPELINE_METRICS
        }
    by_job = {c["metric"].get("job", ""): int(float(c["value"][1])) for c in counts}
    expected = set(CORE_SERVICES) | {s["metric"]["job"] for s in scraped}
    evidence = [
        f"{job}: {by_job.get(job, 0)} detektor_* series sampled in the last {fresh}"
        for job in sorted(expected)
    ]
    evidence += [
        f"{m}: {_count(r)} series sampled in the last {fresh}" for m, r in pipeline.items()
    ]
    missing = sorted(job for job in expected if not by_job.get(job))
    stale = [m for m, r in pipeline.items() if not _count(r)]
    fix = (
        f"curl -s '{base}/api/v1/query' --data-urlencode "
        f"'query=count by (job)(last_over_time({{__name__=~\"detektor_.+\"}}[{fresh}]))'"
        " | jq .data.result"
    )
    problems = []
    if missing:
        problems.append("no recent detektor_* series from " + ", ".join(missing))
    if stale:
        problems.append("no recent sample of " + ", ".join(stale))
    if problems:
        return CheckResult(name, Status.FAIL, "; ".join(problems), evidence, fix)
    return CheckResult(
        name,
        Status.PASS,
        f"detektor_* series from {len(expected)} jobs and the pipeline's metrics, "
        f"newer than {fresh}",
        evidence,
    )


def _scrape_interval_s(targets: list[dict[str, Any]]) -> float:
    """The longest scrape interval of the application jobs (Prometheus's targets API gives it
    per target, e.g. "15s"); the deployment's 15 s when none says."""
    intervals = [
        parse_duration(t["scrapeInterval"])
        for t in targets
        if t.get("scrapeInterval") and t.get("labels", {}).get("job") in APP_JOBS
    ]
    return max(intervals, default=DEFAULT_SCRAPE_INTERVAL_S)


def _count(result: list[dict[str, Any]]) -> int:
    return int(float(result[0]["value"][1])) if result else 0


def alerts(options: VerifyOptions) -> CheckResult:
    """Prometheus has Detektor's rule groups loaded (``/api/v1/rules``, groups named
    ``detektor-*``), and none of their alerts is firing; those that are are listed."""
    name = "Alerts"
    prometheus = options.prometheus.rstrip("/")
    with client(options) as http:
        rules = get_json(http, f"{prometheus}/api/v1/rules", {"type": "alert"})
        body = get_json(http, f"{prometheus}/api/v1/alerts")
    groups = [g.get("name", "") for g in rules["data"]["groups"]]
    ours = [g for g in groups if g.startswith("detektor")]
    if not ours:
        loaded = ", ".join(groups) or "none"
        fix = f"curl -s {prometheus}/api/v1/rules | jq '.data.groups[].name'  # rule_files?"
        summary = "no Detektor alerting rule group is loaded"
        return CheckResult(name, Status.FAIL, summary, [f"rule groups: {loaded}"], fix)
    firing = [a for a in body["data"]["alerts"] if a.get("state") == "firing"]
    pending = [a for a in body["data"]["alerts"] if a.get("state") == "pending"]
    evidence = [f"rule groups: {', '.join(ours)}"]
    evidence += [f"firing: {_alert_line(a)}" for a in firing]
    evidence += [f"pending: {_alert_line(a)}" for a in pending]
    if firing:
        fix = (
            f"curl -s {options.prometheus}/api/v1/alerts | jq '.data.alerts[]'  # docs/runbooks.md"
        )
        return CheckResult(name, Status.FAIL, f"{len(firing)} alert(s) firing", evidence, fix)
    return CheckResult(name, Status.PASS, "no alert firing", evidence)


def _alert_line(alert: dict[str, Any]) -> str:
    labels = dict(alert.get("labels", {}))
    alertname = labels.pop("alertname", "?")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{alertname} {{{rest}}} since {alert.get('activeAt', '?')}"
