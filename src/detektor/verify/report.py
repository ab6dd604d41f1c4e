"""Rendering the results: Markdown (summary table, evidence per check, a command to run for
each failure) or JSON with the same content; and the exit code."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from detektor.verify.model import CheckResult, Status, VerifyOptions


def exit_code(results: Sequence[CheckResult]) -> int:
    """1 when any check FAILed; 3 when every check was skipped (nothing was proven);
    otherwise 0: a SKIP is not a failure (the check was asked not to run)."""
    if any(r.status is Status.FAIL for r in results):
        return 1
    return 3 if all(r.status is Status.SKIP for r in results) else 0


def verdict(results: Sequence[CheckResult]) -> str:
    failed = [r.name for r in results if r.status is Status.FAIL]
    if failed:
        return "FAIL: " + ", ".join(failed)
    if all(r.status is Status.SKIP for r in results):
        return "INCONCLUSIVE: every check was skipped"
    return "PASS"


def _targets(options: VerifyOptions) -> dict[str, str]:
    return {
        "prometheus": options.prometheus,
        "jaeger": options.jaeger,
        "tracking": options.tracking,
        "docker": options.docker_socket if options.docker else "off (cAdvisor via Prometheus)",
        "window": options.window,
    }


def to_json(results: Sequence[CheckResult], options: VerifyOptions, at: datetime) -> str:
    body = {
        "verdict": verdict(results),
        "exit_code": exit_code(results),
        "generated_at": at.isoformat(timespec="seconds"),
        "targets": _targets(options),
        "checks": [r.to_dict() for r in results],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(results: Sequence[CheckResult], options: VerifyOptions, at: datetime) -> str:
    lines = [
        "# Detektor verify report",
        "",
        f"**Verdict: {verdict(results)}** (exit code {exit_code(results)}), "
        f"generated {at.isoformat(timespec='seconds')}.",
        "",
        "Targets: " + ", ".join(f"{k} `{v}`" for k, v in _targets(options).items()) + ".",
        "",
        "| Check | Status | Summary |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.status.value} | {_cell(r.summary)} |" for r in results]
    lines += ["", "## Evidence", ""]
    for r in results:
        lines += [f"### {r.name}: {r.status.value}", "", r.summary, ""]
        lines += [f"- `{_code(item)}`" for item in r.evidence] or ["- (no evidence)"]
        lines.append("")
    failed = [r for r in results if r.status is Status.FAIL]
    if failed:
        lines += ["## What to run next", ""]
        for r in failed:
            lines += [f"### {r.name}", "", "```sh", r.fix or "# no command: see the evidence"]
            lines += ["```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _code(text: str) -> str:
    return text.replace("`", "'")
