"""The Prometheus and Alertmanager configuration in deploy/: valid for the real tools, every
alert unit-tested and documented, and every name they refer to existing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from support.services import require_binary

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "observability" / "prometheus"
PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
ALERTMANAGER_YML = ROOT / "deploy" / "observability" / "alertmanager" / "alertmanager.yml"
COMPOSE_YML = ROOT / "deploy" / "compose.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
# Every runbook_url: the external label runbook_base (ADR 15), then the runbook's anchor.
RUNBOOK_URL = re.compile(r"\{\{ \$externalLabels\.runbook_base \}\}/docs/runbooks\.md#(.+)")

APP_JOBS = {"capture", "detector", "tracking"}


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def alerts() -> list[dict[str, Any]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [rule for rule in group["rules"] if "alert" in rule]
    return found


def scrape_jobs() -> set[str]:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_YML.read_text())["services"]
    return services


def compose_default(value: str) -> str:
    """The default of a compose `${NAME:-default}` value."""
    found = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    assert found, f"{value!r} is not ${{NAME:-default}}"
    return found.group(1)


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub generates for the headings of a Markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


# --- the real tools -------------------------------------------------------------------------


def test_promtool_check_config() -> None:
    promtool = require_binary("promtool", "prometheus")
    # rule_files are relative to the config (rules/*.yml), as they are in the container at
    # /etc/prometheus, so the repo file is checked as it is, with its rule files.
    output = run(promtool, "check", "config", str(PROMETHEUS_YML))
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output, output


def test_promtool_check_rules() -> None:
    promtool = require_binary("promtool", "prometheus")
    assert RULE_FILES
    run(promtool, "check", "rules", *map(str, RULE_FILES))


def test_promtool_test_rules() -> None:
    promtool = require_binary("promtool", "prometheus")
    assert RULE_TESTS
    output = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert "SUCCESS" in output


def test_amtool_check_config() -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    output = run(amtool, "check-config", str(ALERTMANAGER_YML))
    assert "SUCCESS" in output


# --- consistency ----------------------------------------------------------------------------


def test_every_alert_is_unit_tested_firing() -> None:
    fired = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts with no promtool test that sees them fire"
    assert fired - names == set(), "tests for alerts that do not exist"


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alert_has_severity_summary_and_runbook(rule: dict[str, Any]) -> None:
    assert rule.get("labels", {}).get("severity") in ("critical", "warning")
    annotations = rule.get("annotations", {})
    assert annotations.get("summary"), "no summary"
    url = annotations.get("runbook_url", "")
    found = RUNBOOK_URL.fullmatch(url)
    assert found, f"{url} is not {RUNBOOK_URL.pattern}"
    anchor = found.group(1)
    assert anchor == rule["alert"].lower(), url
    assert anchor in github_anchors(RUNBOOKS.read_text()), f"no section #{anchor} in {RUNBOOKS}"


def test_every_runbook_section_is_an_alert() -> None:
    sections = re.findall(r"^## (\S+)\s*$", RUNBOOKS.read_text(), flags=re.M)
    assert sorted(sections) == sorted(rule["alert"] for rule in alerts())


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))


def test_jobs_named_by_rules_are_scraped() -> None:
    jobs = scrape_jobs()
    expected = APP_JOBS | {"prometheus", "alertmanager", "node", "cadvisor", "postgres", "redis"}
    assert jobs >= expected | {"dcgm"}
    for rule in alerts():
        for values in re.findall(r'\bjob\s*=~?\s*"([^"]*)"', rule["expr"]):
            unknown = set(values.split("|")) - jobs
            assert not unknown, f"{rule['alert']} selects jobs with no scrape config: {unknown}"


def test_runbook_base_comes_from_compose_and_stays_out_of_alerts() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert config["global"]["external_labels"] == {"runbook_base": "${RUNBOOK_BASE_URL}"}
    # Alertmanager gets the annotation, not the label: alert identities do not depend on it.
    assert {"action": "labeldrop", "regex": "runbook_base"} in config["alerting"][
        "alert_relabel_configs"
    ]
    prometheus = compose_services()["prometheus"]
    features = {
        feature
        for arg in prometheus["command"]
        if arg.startswith("--enable-feature=")
        for feature in arg.partition("=")[2].split(",")
    }
    assert "expand-external-labels" in features, "${RUNBOOK_BASE_URL} would stay as it is"
    default = compose_default(prometheus["environment"]["RUNBOOK_BASE_URL"])
    assert urlparse(default).scheme == "https", default
    assert not default.endswith("/"), "the rules add /docs/runbooks.md"
    # The unit tests render the URLs with that same default.
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            assert case.get("external_labels") == {"runbook_base": default}, path.name


def test_jobs_outside_the_core_are_discovered_by_dns() -> None:
    """A static target is down whenever its container is absent, and ExporterDown or
    ObservabilityServiceDown fires: only the core (no compose profile) may be static."""
    services = compose_services()
    core = {name for name, svc in services.items() if not svc.get("profiles")}
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    static = {
        job["job_name"]: target.rsplit(":", 1)[0]
        for job in config["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
    }
    assert static.pop("prometheus") == "localhost"
    outside = {job: host for job, host in static.items() if host not in core}
    assert not outside, f"static targets that are not core services: {outside}"
    discovered = {
        name
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    # ...and every service of a profile is watched when it runs.
    assert {name for name, svc in services.items() if svc.get("profiles")} <= discovered


def test_prometheus_sends_to_alertmanager_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    targets = [
        target
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    app_targets = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in config["scrape_configs"]
        if job["job_name"] in APP_JOBS
    }
    assert app_targets == {job: [f"{job}:8000"] for job in APP_JOBS}


def test_alertmanager_names_only_existing_alerts() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    names = {rule["alert"] for rule in alerts()}
    matchers = [
        matcher
        for rule in config.get("inhibit_rules", [])
        for matcher in rule.get("source_matchers", []) + rule.get("target_matchers", [])
    ]
    assert matchers
    for matcher in matchers:
        found = re.fullmatch(r'alertname\s*(=~|=)\s*"([^"]*)"', matcher)
        if found:
            unknown = set(found.group(2).split("|")) - names
            assert not unknown, f"{matcher}: no such alert {unknown}"


def test_alertmanager_commits_no_secret() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    for receiver in config["receivers"]:
        kinds = {key for key in receiver if key.endswith("_configs")}
        assert kinds <= {"webhook_configs"}, f"{receiver['name']}: {kinds}"
        for hook in receiver.get("webhook_configs", []):
            host = urlparse(hook["url"]).hostname or ""
            assert host.endswith(".invalid"), f"a real endpoint is committed: {hook['url']}"
            assert "http_config" not in hook
