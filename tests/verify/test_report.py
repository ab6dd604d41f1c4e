"""Report rendering, exit codes, option parsing and the no-hang guarantee, with fake results."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detektor.cli import build_parser, main
from detektor.verify import CheckResult, Status, VerifyOptions
from detektor.verify.model import parse_duration
from detektor.verify.report import exit_code, to_json, to_markdown, verdict
from detektor.verify.run import run_checks

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OK = CheckResult("Services", Status.PASS, "3 of 3 ready", ["capture 1.2.3.4:8000: ready"])
SKIPPED = CheckResult("GPU", Status.SKIP, "skipped (--skip gpu)")
BROKEN = CheckResult(
    "Alerts", Status.FAIL, "1 alert(s) firing", ["firing: CameraDown {camera=a|b}"], "curl x"
)


def test_exit_code_is_1_only_when_a_check_fails_and_skip_is_not_a_failure() -> None:
    assert exit_code([OK, SKIPPED]) == 0
    assert exit_code([]) == 3  # nothing checked proves nothing
    assert exit_code([OK, SKIPPED, BROKEN]) == 1
    assert verdict([OK, BROKEN]) == "FAIL: Alerts"


def test_markdown_has_the_table_then_evidence_then_a_command_per_failure() -> None:
    text = to_markdown([OK, SKIPPED, BROKEN], VerifyOptions(), AT)
    table = text.index("| Check | Status | Summary |")
    evidence = text.index("## Evidence")
    commands = text.index("## What to run next")
    assert table < evidence < commands
    assert "| Services | PASS | 3 of 3 ready |" in text
    assert "| GPU | SKIP | skipped (--skip gpu) |" in text
    assert "- `firing: CameraDown {camera=a|b}`" in text  # evidence is code, not a table cell
    assert "```sh\ncurl x\n```" in text[commands:]
    assert "Services" not in text[commands:]  # only failures get a command
    assert "**Verdict: FAIL: Alerts** (exit code 1)" in text


def test_a_clean_report_has_no_commands_section() -> None:
    text = to_markdown([OK], VerifyOptions(), AT)
    assert "What to run next" not in text
    assert "**Verdict: PASS**" in text


def test_json_carries_the_same_content() -> None:
    body = json.loads(to_json([OK, SKIPPED, BROKEN], VerifyOptions(), AT))
    assert body["verdict"] == "FAIL: Alerts"
    assert body["exit_code"] == 1
    assert body["targets"]["prometheus"] == "http://localhost:9090"
    assert body["checks"][2] == {
        "name": "Alerts",
        "status": "FAIL",
        "summary": "1 alert(s) firing",
        "evidence": ["firing: CameraDown {camera=a|b}"],
        "fix": "curl x",
    }


def test_durations() -> None:
    assert parse_duration("15m") == 900
    assert parse_duration("1h30s") == 3630
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("15 minutes")


def test_defaults_match_compose() -> None:
    args = build_parser().parse_args(["verify"])
    assert (args.prometheus, args.jaeger, args.tracking) == (
        "http://localhost:9090",
        "http://localhost:16686",
        "http://localhost:8000",
    )
    assert (args.window, args.min_services, args.format, args.docker) == ("15m", 3, "md", False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_backends_fail_with_their_url_quickly(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    options = VerifyOptions(
        prometheus=dead,
        jaeger=dead,
        tracking=dead,
        docker=True,
        docker_socket=str(tmp_path / "no.sock"),
        timeout_s=1,
    )
    started = time.monotonic()
    results = run_checks(options)
    assert time.monotonic() - started < 10
    assert [r.status for r in results] == [Status.FAIL] * 8
    for result in results:
        where = "no.sock" if result.name == "Restarts" else dead
        assert any(where in line for line in result.evidence), result
        assert result.fix


def test_the_command_writes_the_report_and_exits_1(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    out = tmp_path / "report.json"
    argv = ["verify", "--prometheus", dead, "--jaeger", dead, "--tracking", dead]
    code = main([*argv, "--timeout", "1", "--format", "json", "--output", str(out)])
    assert code == 1
    assert json.loads(out.read_text())["verdict"].startswith("FAIL: Services")


def test_skip_reports_skip_and_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    skip_all = "services,gpu,traces,metrics,restarts,pipeline,recordings,alerts"
    assert main(["verify", "--skip", skip_all]) == 3
    out = capsys.readouterr().out
    assert out.count("| SKIP |") == 8
    assert "INCONCLUSIVE: every check was skipped" in out
    assert main(["verify", "--skip", "gpu,nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err
