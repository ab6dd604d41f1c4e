import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from detektor.kit.logging import setup_logging
from detektor.settings import LogSettings


def test_json_lines_carry_trace_ids_and_extras() -> None:
    out = io.StringIO()
    setup_logging("unit", LogSettings(format="json"), stream=out)
    log = logging.getLogger("detektor.test")
    log.info("outside")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        log.info("inside %s", "span", extra={"frame_id": "cam:1:000001"})
        ctx = span.get_span_context()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "outside"
    assert "trace_id" not in first
    assert first["service"] == "unit"
    assert second["message"] == "inside span"
    assert second["trace_id"] == format(ctx.trace_id, "032x")
    assert second["span_id"] == format(ctx.span_id, "016x")
    assert second["frame_id"] == "cam:1:000001"
    assert second["level"] == "info"


def test_text_format_on_request() -> None:
    out = io.StringIO()
    setup_logging("unit", LogSettings(format="text"), stream=out)
    logging.getLogger("detektor.test").warning("hello", extra={"camera": "front"})
    line = out.getvalue().strip()
    assert "WARNING" in line
    assert "hello" in line
    assert "camera=front" in line
    assert not line.startswith("{")
