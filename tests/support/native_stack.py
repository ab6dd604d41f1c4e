"""The native stack (no Docker) shared by tests/deploy/test_native_stack.py and
tests/verify/test_verify_native.py: capture reading a real RTSP camera, the detector and
tracking as real processes on one isolated Redis namespace and database, and a real
Prometheus running a copy of the repo's prometheus.yml rewritten for the test (1 s
intervals, the test's targets, the repo's rule files and external labels unchanged),
started with compose's feature flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.postgres import temporary_database
from support.process import ServiceProcess
from support.prometheus import Prometheus
from support.redis import redis_namespace
from support.rtsp import RtspServer, require_rtsp_server
from support.services import free_port, require_binary
from support.stack import pipeline_env

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_YML = ROOT / "deploy" / "observability" / "prometheus" / "prometheus.yml"
COMPOSE_YML = ROOT / "deploy" / "compose.yml"
# The runbook links' base in the tests' alerts: not the stack's default, so that a test sees
# it come from the environment (ADR 15).
TEST_RUNBOOK_BASE = "http://runbooks.test/detektor"


def prometheus_launch() -> tuple[list[str], dict[str, str]]:
    """The feature flags compose starts Prometheus with, and the environment that fills the
    repo's external labels."""
    command = yaml.safe_load(COMPOSE_YML.read_text())["services"]["prometheus"]["command"]
    flags = [arg for arg in command if arg.startswith("--enable-feature=")]
    return flags, {"RUNBOOK_BASE_URL": TEST_RUNBOOK_BASE}


def prometheus_config(
    addresses: dict[str, str], alertmanager: str
) -> tuple[dict[str, Any], list[Path]]:
    """The repo's prometheus.yml with the test's targets, intervals, rules and Alertmanager."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"] = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
        "external_labels": config["global"].get("external_labels", {}),
    }
    jobs = []
    for job in config["scrape_configs"]:
        address = addresses.get(job["job_name"])
        if address is None:
            continue  # an exporter that does not run here
        for key in [k for k in job if k.endswith("_sd_configs")]:
            del job[key]
        job["static_configs"] = [{"targets": [address]}]
        jobs.append(job)
    assert {job["job_name"] for job in jobs} == set(addresses), "a job is missing from the repo"
    config["scrape_configs"] = jobs
    rule_files = sorted(p for g in config["rule_files"] for p in PROMETHEUS_YML.parent.glob(g))
    assert rule_files, config["rule_files"]
    config["rule_files"] = [str(path) for path in rule_files]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    return config, rule_files


def rtsp_camera(name: str, server: RtspServer) -> dict[str, Any]:
    """A camera on the RTSP server that reconnects fast and sends every frame on."""
    return {
        "name": name,
        "source": server.url,
        "detect_fps": 5,
        "stall_timeout_s": 2,
        "reconnect_initial_s": 0.5,
        "reconnect_max_s": 2,
        "motion": {"enabled": False},  # the test pattern barely moves: send every frame on
    }


@dataclass
class NativeStack:
    """The running stack: its processes by job name, Prometheus and the camera server."""

    services: dict[str, ServiceProcess]
    prometheus: Prometheus
    camera_server: RtspServer
    config: dict[str, Any]

    @property
    def tracking_url(self) -> str:
        return self.services["tracking"].url


@contextmanager
def native_stack(tmp: Path, camera: str) -> Iterator[NativeStack]:
    """Start camera server, tracking, detector, capture and Prometheus (no Alertmanager: the
    alerting target is a closed port); stop them all on exit."""
    require_binary("prometheus", "prometheus")
    require_rtsp_server()
    with ExitStack() as stack:
        camera_server = RtspServer().start()
        stack.callback(camera_server.stop)
        config_file = tmp / "cameras.yml"
        config_file.write_text(yaml.safe_dump({"cameras": [rtsp_camera(camera, camera_server)]}))
        db = stack.enter_context(temporary_database("detektor_verify"))
        redis_url, ns = stack.enter_context(redis_namespace())
        env = {
            **pipeline_env(redis_url, ns, db),
            "DETEKTOR_CONFIG": str(config_file),
            "DETEKTOR_TRACKING__METRICS_INTERVAL_S": "1",
        }
        services = {
            name: stack.enter_context(ServiceProcess(name, tmp, env))
            for name in ("tracking", "detector", "capture")
        }
        port = free_port()
        addresses = {name: f"127.0.0.1:{proc.port}" for name, proc in services.items()}
        addresses["prometheus"] = f"127.0.0.1:{port}"
        config, _ = prometheus_config(addresses, f"127.0.0.1:{free_port()}")
        flags, prometheus_env = prometheus_launch()
        prom = stack.enter_context(
            Prometheus(tmp, config=config, port=port, flags=flags, env=prometheus_env)
        )
        yield NativeStack(services, prom, camera_server, config)
