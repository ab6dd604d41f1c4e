"""Log output: JSON lines on stdout carrying the current trace and span ids.

A line has ``timestamp``, ``level``, ``service``, ``logger``, ``message``, ``trace_id`` and
``span_id`` (inside a span) and any ``extra={...}`` fields, so Loki can join logs to traces.
On a terminal the same records are printed for people instead, unless configured otherwise.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

from detektor.settings import LogSettings

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
# uvicorn adds color_message, a duplicate of the message with terminal escapes.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def trace_ids() -> tuple[str | None, str | None]:
    """The current span's trace and span ids as hex, or Nones outside a recording span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id, span_id = trace_ids()
        if trace_id:
            line["trace_id"], line["span_id"] = trace_id, span_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal, extras appended as key=value."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [
            f"{k}={v}"
            for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")
        ]
        trace_id, _ = trace_ids()
        if trace_id:
            extras.append(f"trace_id={trace_id}")
        return f"{text} [{' '.join(extras)}]" if extras else text


def setup_logging(service: str, settings: LogSettings, stream: TextIO | None = None) -> None:
    """Route every logger (uvicorn's included) through one handler on stdout."""
    out = stream or sys.stdout
    use_json = settings.format == "json" or (settings.format == "auto" and not out.isatty())
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(service) if use_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One access line per request is written by the kit, with the route and trace id.
    logging.getLogger("uvicorn.access").disabled = True
