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
        "replaced. Uses DETEKTOR_DATABASE_URL; safe to run while tracking is serving.",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="only report differences; change nothing"
    )
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
        "config": _config_show,
        "tracking": _tracking_replay,
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
    from detektor.services.tracking.replay import print_report, replay

    store = open_event_store(settings.database_url.get_secret_value())
    try:
        store.migrate()
        report = replay(store, dry_run=args.dry_run, progress=sys.stderr)
    finally:
        store.close()
    print_report(report, args.dry_run)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from detektor.kit.lifecycle import serve_http
    from detektor.kit.logging import setup_logging
    from detektor.kit.telemetry import setup_telemetry

    name: str = args.name
    setup_logging(name, settings.log)
    telemetry = setup_telemetry(name, package_version())
    try:
        serve_http(load_service(name)(settings), settings)
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
