"""The ``detektor`` command: the single entry point.

It parses the command line, validates the settings once, sets up logging and telemetry
explicitly, then runs what was asked. Bad configuration exits with code 2 and one line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence

from fastapi import FastAPI

from detektor import package_version
from detektor.kit.redact import redacted
from detektor.services import SERVICES
from detektor.settings import ConfigError, Settings, load_settings

EXIT_CONFIG = 2
EXIT_LOCKED = 3  # the event store is held by a live service (or a replay)

DESCRIPTION = """\
Detektor: self-hosted video monitoring that is observable and verifiable by design.

Configuration comes from DETEKTOR_* environment variables (nested sections with __, e.g.
DETEKTOR_LOG__LEVEL=DEBUG) and an optional YAML file named by DETEKTOR_CONFIG. Tracing
follows the standard OTEL_* variables; it exports only when OTEL_EXPORTER_OTLP_ENDPOINT
is set.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detektor",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"detektor {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run everything in one process: cameras, processing, tracking API",
        description="The embedded all-in-one: every camera (default: one synthetic scene), "
        "the in-memory frame bus, the processor and the tracking API with /metrics on one "
        "port. Events go to a SQLite store in DETEKTOR_DATA_DIR (default ./detektor-data) "
        "unless DETEKTOR_DATABASE_URL is set. Prints a live progress line on a terminal and "
        "a summary (accounting per camera, latency percentiles) on exit.",
    )
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="URI",
        help="a camera: rtsp://user:pass@host/path, a video file, or "
        "synthetic://?fps=10&size=640x480 (repeat for several; default: one synthetic camera, "
        "or the cameras of DETEKTOR_CONFIG)",
    )
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument("--port", type=int, metavar="P", help="HTTP port (default DETEKTOR_HTTP_PORT)")

    serve = commands.add_parser(
        "serve",
        help="run one service (HTTP API on DETEKTOR_HTTP_PORT, default 8000)",
        description="Run one Detektor service until SIGTERM or Ctrl-C; in-flight work is "
        "drained within DETEKTOR_SHUTDOWN_TIMEOUT_S before exiting 0.",
    )
    serve.add_argument("name", choices=sorted(SERVICES), help="the service to run")

    config = commands.add_parser("config", help="inspect the configuration")
    config_cmds = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_cmds.add_parser(
        "show",
        help="print the effective, validated configuration with secrets masked",
        description="Print the configuration Detektor would run with, after merging "
        "defaults, the DETEKTOR_CONFIG file and DETEKTOR_* variables. Passwords, tokens "
        "and credentials inside URLs are masked.",
    )
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")

    tracking = commands.add_parser("tracking", help="maintain the frame-tracking event store")
    tracking_cmds = tracking.add_subparsers(
        dest="tracking_command", metavar="ACTION", required=True
    )
    replay = tracking_cmds.add_parser(
        "replay",
        help="rebuild frame projections from the event log and report differences",
        description="Fold every frame's stored events again and compare the result with its "
        "stored projection row (state, timestamps, counts). Differing rows are printed and "
        "replaced. Uses DETEKTOR_DATABASE_URL. Refused (exit 3) while a tracking service "
        "runs against the store: stop it first; --dry-run only reads and may run beside it.",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="only report differences; change nothing"
    )

    from detektor.verify.run import add_arguments as add_verify_arguments

    verify = commands.add_parser(
        "verify",
        help="check a live deployment and write the report (exit 1 when a check fails)",
        description="Check a running deployment through Prometheus, the services, the "
        "tracking API, Jaeger and (with --docker) the Docker Engine: services, GPU, traces, "
        "custom metrics, restarts, pipeline, alerts. Writes a Markdown or JSON report; exits "
        "0 when every check passes or is skipped, 1 when any fails. See docs/verify.md.",
    )
    add_verify_arguments(verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"detektor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    handlers: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "serve": _serve,
        "run": _run,
        "config": _config_show,
        "tracking": _tracking_replay,
        "verify": _verify,
    }
    return handlers[args.command](args, settings)


def _config_show(args: argparse.Namespace, settings: Settings) -> int:
    data = redacted(settings)
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def _tracking_replay(args: argparse.Namespace, settings: Settings) -> int:
    from detektor.adapters.stores import open_event_store
    from detektor.ports import StoreLocked
    from detektor.services.tracking.replay import print_report, replay

    store = open_event_store(settings.database_url.get_secret_value())
    try:
        store.migrate()
        report = replay(store, dry_run=args.dry_run, progress=sys.stderr)
    except StoreLocked as exc:
        print(f"detektor tracking replay: refused: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    finally:
        store.close()
    print_report(report, args.dry_run)
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from detektor.verify.run import main as verify_main

    return verify_main(args)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from detektor.embedded.cameras import cameras_for
    from detektor.embedded.runner import build_run_app
    from detektor.kit.lifecycle import serve_http
    from detektor.kit.logging import setup_logging
    from detektor.kit.telemetry import setup_telemetry
    from detektor.services.capture.preflight import preflight

    if args.port is not None:
        if not 1 <= args.port <= 65535:
            print(f"detektor run: --port must be 1 to 65535, got {args.port}", file=sys.stderr)
            return EXIT_CONFIG
        settings = settings.model_copy(update={"http_port": args.port})
    try:
        cameras = cameras_for(args.source, settings.cameras)
    except ValidationError as exc:
        problem = exc.errors()[0]
        print(f"detektor run: invalid --source: {problem['msg']}", file=sys.stderr)
        return EXIT_CONFIG
    problems = preflight(cameras)
    if problems:
        print("detektor run: " + "; ".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    setup_logging("run", settings.log)
    telemetry = setup_telemetry("run", package_version())
    try:
        try:
            app = build_run_app(settings, cameras, progress=sys.stderr.isatty())
        except ConfigError as exc:
            print(f"detektor run: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        serve_http(app, settings, duration_s=args.duration)
    finally:
        telemetry.shutdown()
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from detektor.kit.lifecycle import serve_http
    from detektor.kit.logging import setup_logging
    from detektor.kit.telemetry import setup_telemetry

    name: str = args.name
    setup_logging(name, settings.log)
    telemetry = setup_telemetry(name, package_version())
    try:
        app = load_service(name)(settings)
    except ConfigError as exc:
        telemetry.shutdown()
        print(f"detektor serve {name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        serve_http(app, settings)
    finally:
        telemetry.shutdown()
    return 0


def load_service(name: str) -> Callable[[Settings], FastAPI]:
    """The named service's app builder, imported only when that service is run."""
    module_name, _, attr = SERVICES[name].partition(":")
    builder: Callable[[Settings], FastAPI] = getattr(importlib.import_module(module_name), attr)
    return builder


if __name__ == "__main__":
    sys.exit(main())
