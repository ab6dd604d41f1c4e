"""Wiring of ``detektor verify``: its arguments, running every check, writing the report."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from detektor.verify import checks
from detektor.verify.http import guarded
from detektor.verify.model import CheckResult, Status, VerifyOptions, parse_duration
from detektor.verify.pipeline import pipeline
from detektor.verify.recordings import recordings
from detektor.verify.report import exit_code, to_json, to_markdown
from detektor.verify.restarts import restarts
from detektor.verify.traces import traces

Check = Callable[[VerifyOptions], CheckResult]

# key (for --skip): (report name, check, command to run when the backend does not answer)
CHECKS: dict[str, tuple[str, Check, str]] = {
    "services": ("Services", checks.services, "curl -s {prometheus}/api/v1/targets | jq"),
    "gpu": ("GPU", checks.gpu, "curl -s {prometheus}/-/ready"),
    "traces": ("Traces", traces, "curl -s {jaeger}/api/services"),
    "metrics": ("Custom metrics", checks.custom_metrics, "curl -s {prometheus}/-/ready"),
    "restarts": ("Restarts", restarts, "docker compose -f deploy/compose.yml ps"),
    "pipeline": ("Pipeline", pipeline, "curl -s {tracking}/readyz"),
    "recordings": ("Recordings", recordings, "curl -s {prometheus}/-/ready"),
    "alerts": ("Alerts", checks.alerts, "curl -s {prometheus}/api/v1/alerts"),
}


def run_checks(options: VerifyOptions) -> list[CheckResult]:
    """Every check in report order; one in ``options.skip`` is reported as SKIP."""
    results = []
    for key, (name, check, fix) in CHECKS.items():
        if key in options.skip:
            results.append(CheckResult(name, Status.SKIP, f"skipped (--skip {key})"))
            continue
        urls = {"prometheus": options.prometheus, "jaeger": options.jaeger}
        results.append(guarded(name, fix.format(tracking=options.tracking, **urls), check, options))
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``detektor verify``; defaults match deploy/compose.yml."""
    add = parser.add_argument
    add("--prometheus", default="http://localhost:9090", metavar="URL")
    add("--jaeger", default="http://localhost:16686", metavar="URL", help="Jaeger query API")
    add("--tracking", default="http://localhost:8000", metavar="URL", help="the tracking API")
    add(
        "--docker",
        action="store_true",
        help="check restarts with the Docker Engine API (else cAdvisor metrics via Prometheus)",
    )
    add("--docker-socket", default="/var/run/docker.sock", metavar="PATH")
    add("--window", default="15m", help="how far back to look (Prometheus duration)")
    add("--format", choices=["md", "json"], default="md")
    add("--min-services", type=int, default=3, metavar="N")
    add(
        "--service",
        action="append",
        default=[],
        metavar="URL",
        help="a service to check, e.g. http://127.0.0.1:8001 (repeat; default: the application "
        "targets of Prometheus, whose addresses must resolve from where verify runs)",
    )
    add(
        "--require-gpu",
        action="store_true",
        help="FAIL the GPU check on a host with no GPU (default: SKIP it as 'no GPU')",
    )
    add("--canary", default="canary", metavar="CAMERA", help="the canary camera's name")
    add("--latency-budget", type=float, default=5.0, metavar="S", help="canary end to end")
    add("--timeout", type=float, default=5.0, metavar="S", help="per HTTP request")
    add("--output", metavar="FILE", help="write the report here (default stdout)")
    add("--api-token", default=os.environ.get("DETEKTOR_API_TOKEN"), help=argparse.SUPPRESS)
    add(
        "--skip",
        default="",
        metavar="CHECKS",
        help="comma-separated checks to report as SKIP: " + ",".join(CHECKS),
    )


def options_from(args: argparse.Namespace) -> VerifyOptions:
    """Validated options; a bad value raises ValueError with a one-line message."""
    parse_duration(args.window)
    skip = frozenset(s.strip() for s in args.skip.split(",") if s.strip())
    unknown = skip - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) in --skip: {', '.join(sorted(unknown))}")
    return VerifyOptions(
        prometheus=args.prometheus,
        jaeger=args.jaeger,
        tracking=args.tracking,
        docker=args.docker,
        docker_socket=args.docker_socket,
        window=args.window,
        min_services=args.min_services,
        canary=args.canary,
        latency_budget_s=args.latency_budget,
        api_token=args.api_token or None,
        timeout_s=args.timeout,
        skip=skip,
        service_urls=tuple(args.service),
        require_gpu=args.require_gpu,
    )


def main(args: argparse.Namespace) -> int:
    """Run the checks, write the report, return 0 (all PASS or SKIP) or 1 (any FAIL)."""
    try:
        options = options_from(args)
    except ValueError as exc:
        print(f"detektor verify: {exc}", file=sys.stderr)
        return 2
    results = run_checks(options)
    render = to_json if args.format == "json" else to_markdown
    text = render(results, options, datetime.now(UTC))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return exit_code(results)
