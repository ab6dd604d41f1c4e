"""Alert rules and dashboards use only metrics that exist.

The services run for real (capture on a synthetic camera, the detector, tracking on its own
PostgreSQL database, all on one isolated Redis namespace, plus the example service); their
/metrics pages give the set of `detektor_*` names the code really emits. Every expression in
the rules and in the Grafana dashboards must stay within that set; any other name must be an
exporter metric listed in deploy/observability/exporter-metrics.txt, a series recorded by a
rule, or one of Prometheus's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from support.postgres import temporary_database
from support.process import ServiceProcess
from support.promql import (
    dashboard_expressions,
    exporter_metrics,
    exposed_names,
    metric_names,
    recorded_names,
    rule_expressions,
    template_expression,
)
from support.redis import redis_namespace
from support.stack import pipeline_env
from support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
RULE_FILES = sorted((OBSERVABILITY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((OBSERVABILITY / "grafana" / "dashboards").glob("*.json"))
EXPORTER_METRICS = OBSERVABILITY / "exporter-metrics.txt"

# Metrics that exist only on a host with an NVIDIA GPU: the detector registers them when NVML
# answers (detektor/detection/device.py), so this CPU-only test run cannot scrape them. They
# must still be registered somewhere in src/ (checked below).
GPU_ONLY = frozenset({"detektor_gpu_utilization_ratio", "detektor_gpu_memory_used_bytes"})

# Series Prometheus makes itself: per-target scrape series and the alert state.
PROMETHEUS_BUILTINS = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)


# --- the checker itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        ('detektor_camera_up{camera="a b", kind=~"x|y"} == 0', {"detektor_camera_up"}),
        (
            'histogram_quantile(0.95, sum by (le, job) (rate(detektor_x_bucket{a="1"}[5m])))',
            {"detektor_x_bucket"},
        ),
        ("sum(rate(a_total[5m] offset 1h)) by (job) / on (job) group_left b", {"a_total", "b"}),
        ("max_over_time(c[1h:5m]) and ignoring (kind) d unless e or f", {"c", "d", "e", "f"}),
        ("predict_linear(g[6h], 24 * 3600) < 1e3 and h > bool 0.5", {"g", "h"}),
        ('rate(i[$__rate_interval]) * ${factor} > $threshold  # "j" in a comment', {"i"}),
        ('label_replace(k, "dst", "$1", "src", "(.*)") @ start()', {"k"}),
        ("vector(1) + time() + scalar(l) + Inf + NaN", {"l"}),
        ("job:detektor_frames:rate5m", {"job:detektor_frames:rate5m"}),
    ],
)
def test_metric_names_finds_every_selected_metric(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_misspelled_metric_is_caught() -> None:
    exposed = {"detektor_frames_total", "detektor_camera_up"}
    expr = 'sum by (camera) (rate(detektor_frame_total{outcome="captured"}[5m]))'
    assert unknown_detektor_names(expr, exposed) == {"detektor_frame_total"}
    assert unknown_detektor_names("detektor_camera_up == 0", exposed) == set()


def test_grafana_queries_are_found_and_loki_is_left_out(tmp_path: Path) -> None:
    dashboard = {
        "panels": [
            {
                "title": "row",
                "type": "row",
                "panels": [
                    {"title": "fps", "targets": [{"expr": "detektor_camera_fps"}]},
                ],
            },
            {
                "title": "logs",
                "datasource": {"type": "loki", "uid": "loki"},
                "targets": [{"expr": 'sum(count_over_time({service="capture"} | json [5m]))'}],
            },
            {
                "title": "mixed",
                "targets": [
                    {"datasource": {"uid": "prometheus"}, "expr": "detektor_camera_up"},
                    {"datasource": "Loki", "expr": '{job="x"} |= "error"'},
                ],
            },
        ],
        "templating": {
            "list": [
                {"name": "camera", "type": "query", "query": "label_values(detektor_x, camera)"},
                {"name": "job", "type": "query", "query": {"query": "label_values(job)"}},
                {"name": "interval", "type": "interval", "query": "1m,5m"},
            ]
        },
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dashboard))
    found = {expr for _, expr in dashboard_expressions(path)}
    assert found == {"detektor_camera_fps", "detektor_camera_up", "detektor_x"}
    assert template_expression("label_values(up{job=~'a,b'}, instance)") == "up{job=~'a,b'}"
    assert template_expression("metrics(detektor_.*)") is None


def test_exposed_names_expand_declared_families() -> None:
    page = "\n".join(
        [
            "# TYPE detektor_frames_total counter",
            "# TYPE detektor_lat_seconds histogram",
            'detektor_lat_seconds_bucket{le="+Inf"} 1.0',
            "# TYPE detektor_up gauge",
            "detektor_up 1.0",
        ]
    )
    assert exposed_names(page) == {
        "detektor_frames_total",
        "detektor_lat_seconds",
        "detektor_lat_seconds_bucket",
        "detektor_lat_seconds_sum",
        "detektor_lat_seconds_count",
        "detektor_up",
    }


# --- the real services ----------------------------------------------------------------------


def unknown_detektor_names(expr: str, exposed: set[str]) -> set[str]:
    return {n for n in metric_names(expr) if n.startswith("detektor_")} - exposed - GPU_ONLY


def metric_value(url: str, sample: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(sample):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every series name the running services expose."""
    tmp = tmp_path_factory.mktemp("exposed")
    camera = {"name": "yard", "source": "synthetic://?fps=10&size=320x240", "detect_fps": 5}
    config = tmp / "cameras.yml"
    config.write_text(yaml.safe_dump({"cameras": [camera]}))
    with temporary_database("detektor_metrics") as db, redis_namespace() as (redis_url, ns):
        env = {
            **pipeline_env(redis_url, ns, db),
            "DETEKTOR_TRACKING__METRICS_INTERVAL_S": "1",
            "DETEKTOR_CONFIG": str(config),
        }
        # Own topics and client id: the broker is shared with other tests.
        root = f"test-metrics-{ns.rsplit(':', 1)[-1]}"
        notifier_env = {
            **env,
            "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
            "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
            "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
            "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
        }
        with (
            ServiceProcess("tracking", tmp, env) as tracking,
            ServiceProcess("detector", tmp, env) as detector,
            ServiceProcess("capture", tmp, env) as capture,
            ServiceProcess("objects", tmp, env) as objects,
            ServiceProcess("example", tmp) as example,
            # The local broker (tests/support): the notifier's gauges are read by rules/panels.
            ServiceProcess("notifier", tmp, notifier_env) as notifier,
        ):
            httpx.post(f"{example.url}/v1/work", json={"items": 2}, timeout=10).raise_for_status()
            wait_for(
                lambda: metric_value(detector.url, "detektor_inference_frames_total{") > 0,
                60,
                "the detector to run the model",
            )
            wait_for(
                lambda: metric_value(tracking.url, 'detektor_accounting_frames{camera="yard"') > 0,
                60,
                "tracking to publish the accounting gauges",
            )
            wait_for(
                lambda: metric_value(capture.url, "detektor_camera_fps{") > 0,
                30,
                "capture to publish its fps gauges",
            )
            names: set[str] = set()
            wait_for(
                lambda: metric_value(notifier.url, "detektor_notifier_connected") == 1,
                30,
                "the notifier to connect to the broker",
            )
            for service in (tracking, detector, capture, objects, example, notifier):
                names |= exposed_names(httpx.get(f"{service.url}/metrics", timeout=5).text)
            yield names


def test_the_services_expose_the_core_metrics(exposed: set[str]) -> None:
    # A sanity check of the collection itself: one metric of each service, and expansion.
    for name in (
        "detektor_camera_up",
        "detektor_inference_frames_total",
        "detektor_inference_duration_seconds_bucket",
        "detektor_accounting_imbalance_frames",
        "detektor_example_items_total",
        "detektor_bus_dead_letters_total",
        "detektor_notifier_connected",
    ):
        assert name in exposed, name


def test_gpu_only_metrics_are_registered_in_the_code() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    for name in GPU_ONLY:
        assert f'"{name}"' in sources, f"{name} is allowed as GPU-only but no code registers it"


def expressions() -> list[tuple[str, str]]:
    found = [pair for path in RULE_FILES for pair in rule_expressions(path)]
    found += [pair for path in DASHBOARDS for pair in dashboard_expressions(path)]
    return found


def test_rules_and_dashboards_were_found() -> None:
    assert RULE_FILES, "no rule files under deploy/observability/prometheus/rules"
    assert any(where.startswith("detektor.yml") for where, _ in expressions())


def test_rules_and_dashboards_use_only_emitted_detektor_metrics(exposed: set[str]) -> None:
    problems = [
        f"{where}: {sorted(unknown)}"
        for where, expr in expressions()
        if (unknown := unknown_detektor_names(expr, exposed))
    ]
    assert not problems, "metrics that no running service exposes:\n" + "\n".join(problems)


def test_other_metrics_are_listed_exporter_metrics(exposed: set[str]) -> None:
    listed = exporter_metrics(EXPORTER_METRICS)
    recorded = set().union(*(recorded_names(path) for path in RULE_FILES))
    known = set(listed) | recorded | PROMETHEUS_BUILTINS | exposed
    problems = [
        f"{where}: {sorted(unknown)}"
        for where, expr in expressions()
        if (unknown := {n for n in metric_names(expr) if not n.startswith("detektor_")} - known)
    ]
    assert not problems, (
        f"metrics neither exposed by the services nor listed in {EXPORTER_METRICS.name}:\n"
        + "\n".join(problems)
    )
    wrong = sorted(name for name in listed if name.startswith("detektor_"))
    assert not wrong, f"detektor_* metrics come from the code, not an exporter: {wrong}"
    bad = sorted(n for n in listed if not re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", n))
    assert not bad, f"not metric names: {bad}"
