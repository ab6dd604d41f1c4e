"""The stack without Docker: the services as processes, with a real Prometheus and
Alertmanager running the repo's own configuration, and one alert made to fire for real.

Capture reads a real RTSP camera (gst-rtsp-server); the detector and tracking (on a database
of its own) share one isolated Redis namespace. Prometheus runs a copy of
deploy/observability/prometheus/prometheus.yml rewritten for the test:

- scrape and evaluation intervals are 1 s (15 s in the repo);
- each job keeps its name and settings, with its targets replaced by the real addresses of
  the processes; jobs for exporters that do not run here (node, cadvisor, postgres, redis,
  dcgm) are left out;
- the repo's rule files are loaded as they are: no expression or `for:` is changed (the test
  checks that CameraDown's `for:` stays short enough to fire within its time budget);
- alerts go to the test's Alertmanager;
- the external labels stay, and Prometheus starts with compose's feature flags and a
  RUNBOOK_BASE_URL of the test's own, which the alert's runbook link must carry.

Alertmanager runs a copy of deploy/observability/alertmanager/alertmanager.yml whose webhook
URLs point at a receiver in the test and whose `group_wait` is 1 s (30 s in the repo), so
the notification leaves as soon as the alert arrives; routes and inhibitions are unchanged.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.alertmanager import Alertmanager, WebhookReceiver
from support.native_stack import TEST_RUNBOOK_BASE, prometheus_config, prometheus_launch
from support.postgres import temporary_database
from support.process import ServiceProcess
from support.prometheus import Prometheus
from support.redis import redis_namespace
from support.rtsp import RtspServer, require_rtsp_server
from support.services import free_port, require_binary
from support.stack import pipeline_env
from support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
PROMETHEUS_YML = OBSERVABILITY / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = OBSERVABILITY / "alertmanager" / "alertmanager.yml"
CAMERA = "door"
CAMERA_DOWN_FOR_MAX_S = 60  # the budget below assumes CameraDown fires a minute after the loss

pytestmark = pytest.mark.timeout(300)


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d)", duration):
        total += int(number) * units[unit]
    return total


def alertmanager_config(webhook: str) -> dict[str, Any]:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook
    routes = [config["route"]]
    while routes:
        route = routes.pop()
        if "group_wait" in route:
            route["group_wait"] = "1s"
        routes += route.get("routes", [])
    return config


def camera_down_rule(rule_files: list[Path]) -> dict[str, Any]:
    for path in rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == "CameraDown":
                    return dict(rule)
    raise AssertionError("no CameraDown alert in the repo's rules")


def value(prom: Prometheus, promql: str) -> float:
    result = prom.query(promql)
    return float(result[0]["value"][1]) if result else 0.0


def test_the_stack_scrapes_everything_and_camera_down_reaches_alertmanager(
    tmp_path: Path,
) -> None:
    require_binary("prometheus", "prometheus")
    require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    require_rtsp_server()
    camera_server = RtspServer().start()
    camera = {
        "name": CAMERA,
        "source": camera_server.url,
        "detect_fps": 5,
        "stall_timeout_s": 2,
        "reconnect_initial_s": 0.5,
        "reconnect_max_s": 2,
        "motion": {"enabled": False},  # the test pattern barely moves: send every frame on
    }
    config_file = tmp_path / "cameras.yml"
    config_file.write_text(yaml.safe_dump({"cameras": [camera]}))
    try:
        with (
            temporary_database("detektor_stack") as db,
            redis_namespace() as (redis_url, ns),
            WebhookReceiver() as webhook,
        ):
            env = {
                **pipeline_env(redis_url, ns, db),
                "DETEKTOR_CONFIG": str(config_file),
                "DETEKTOR_TRACKING__METRICS_INTERVAL_S": "1",
            }
            with (
                ServiceProcess("tracking", tmp_path, env) as tracking,
                ServiceProcess("detector", tmp_path, env) as detector,
                ServiceProcess("capture", tmp_path, env) as capture,
                Alertmanager(tmp_path, alertmanager_config(webhook.url)) as alertmanager,
            ):
                port = free_port()
                addresses = {
                    "capture": f"127.0.0.1:{capture.port}",
                    "detector": f"127.0.0.1:{detector.port}",
                    "tracking": f"127.0.0.1:{tracking.port}",
                    "alertmanager": alertmanager.address,
                    "prometheus": f"127.0.0.1:{port}",
                }
                config, rule_files = prometheus_config(addresses, alertmanager.address)
                rule = camera_down_rule(rule_files)
                assert seconds(rule.get("for", "0s")) <= CAMERA_DOWN_FOR_MAX_S, (
                    "CameraDown's `for:` grew: shorten it in this test's copy of the rules"
                )
                flags, prometheus_env = prometheus_launch()
                with Prometheus(
                    tmp_path, config=config, port=port, flags=flags, env=prometheus_env
                ) as prom:
                    try:
                        run_scenario(prom, alertmanager, webhook, camera_server, addresses)
                    except AssertionError as exc:
                        logs = f"prometheus:\n{prom.log()[-3000:]}\n"
                        logs += f"alertmanager:\n{alertmanager.log()[-3000:]}"
                        raise AssertionError(f"{exc}\n{logs}") from exc
    finally:
        camera_server.stop()


def run_scenario(
    prom: Prometheus,
    alertmanager: Alertmanager,
    webhook: WebhookReceiver,
    camera_server: RtspServer,
    addresses: dict[str, str],
) -> None:
    # 1. Every target of the rewritten config is up.
    def all_up() -> bool:
        health = {t["labels"]["job"]: t["health"] for t in prom.targets()}
        return health == dict.fromkeys(addresses, "up")

    wait_for(all_up, 30, f"every target up: {addresses}", every=0.5)

    # 2. Custom metrics of each service reach Prometheus, with the repo's job names.
    cam = f'camera="{CAMERA}"'
    wait_for(lambda: value(prom, f'detektor_camera_up{{job="capture",{cam}}}') == 1, 30, "up")
    wait_for(
        lambda: (
            value(prom, f'sum(detektor_frames_total{{job="capture",{cam},outcome="captured"}})')
            >= 10
        ),
        30,
        "captured frames in Prometheus",
        every=0.5,
    )
    wait_for(
        lambda: value(prom, 'sum(detektor_inference_frames_total{job="detector"})') > 0,
        60,
        "inference counted in Prometheus",
        every=0.5,
    )
    wait_for(
        lambda: (
            value(prom, f'detektor_accounting_frames{{job="tracking",{cam},outcome="completed"}}')
            > 0
        ),
        60,
        "tracking's accounting in Prometheus",
        every=0.5,
    )
    assert value(prom, f'detektor_camera_fps{{job="capture",{cam},kind="sampled"}}') > 0
    assert prom.query('ALERTS{alertstate="firing"}') == []

    # 3. The camera dies: CameraDown goes pending, fires, and reaches Alertmanager and the
    #    webhook.
    camera_server.kill()
    lost = time.monotonic()
    wait_for(lambda: value(prom, f"detektor_camera_up{{{cam}}}") == 0, 20, "camera_up 0")
    wait_for(
        lambda: prom.query(f'ALERTS{{alertname="CameraDown",alertstate="pending",{cam}}}'),
        15,
        "CameraDown pending",
        every=0.5,
    )
    firing = wait_for(
        lambda: prom.query(f'ALERTS{{alertname="CameraDown",alertstate="firing",{cam}}}'),
        CAMERA_DOWN_FOR_MAX_S + 30,
        "CameraDown firing in Prometheus",
        every=0.5,
    )
    assert time.monotonic() - lost >= CAMERA_DOWN_FOR_MAX_S - 5  # the `for:` was honoured
    assert firing[0]["metric"]["severity"] == "critical"

    held = wait_for(
        lambda: alertmanager.alerts(alertname="CameraDown", camera=CAMERA),
        30,
        "CameraDown in Alertmanager",
        every=0.5,
    )
    assert held[0]["status"]["state"] == "active"
    runbook_url = f"{TEST_RUNBOOK_BASE}/docs/runbooks.md#cameradown"
    assert held[0]["annotations"]["runbook_url"] == runbook_url
    assert "runbook_base" not in held[0]["labels"]  # dropped by alert relabelling (ADR 15)
    assert held[0]["labels"]["job"] == "capture"

    def notified() -> list[dict[str, Any]]:
        return [
            alert
            for payload in webhook.received()
            for alert in payload["alerts"]
            if alert["labels"]["alertname"] == "CameraDown" and alert["status"] == "firing"
        ]

    sent = wait_for(notified, 30, "the CameraDown notification at the webhook", every=0.5)
    assert sent[0]["labels"]["camera"] == CAMERA
    assert sent[0]["annotations"]["summary"] == f"Camera {CAMERA} delivers no frames"

    # Nothing else broke meanwhile: only the camera is down.
    others = {a["metric"]["alertname"] for a in prom.query("ALERTS")} - {"CameraDown"}
    assert others == set(), others
