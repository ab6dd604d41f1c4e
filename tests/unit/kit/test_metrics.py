import pytest
from opentelemetry.sdk.trace import TracerProvider

from detektor.kit.metrics import Metrics, exemplar


def test_names_must_follow_the_rule() -> None:
    metrics = Metrics("unit", "0")
    with pytest.raises(ValueError, match="must match"):
        metrics.counter("frames_total", "x")
    with pytest.raises(ValueError, match="unbounded"):
        metrics.counter("detektor_frames_total", "x", ["camera", "frame_id"])
    with pytest.raises(ValueError, match="base units"):
        metrics.histogram("detektor_latency_ms", "x")
    metrics.counter("detektor_frames_total", "x", ["camera"]).labels("a").inc()


def test_exemplar_only_inside_sampled_span() -> None:
    assert exemplar() is None
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        got = exemplar()
        assert got == {"trace_id": format(span.get_span_context().trace_id, "032x")}


def test_exemplar_appears_in_openmetrics() -> None:
    metrics = Metrics("unit", "0")
    hist = metrics.histogram("detektor_unit_seconds", "x")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("s"):
        hist.observe(0.01, exemplar=exemplar())
    payload, _ = metrics.expose("application/openmetrics-text")
    assert b'# {trace_id="' in payload
