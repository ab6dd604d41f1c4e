"""The process's Prometheus registry, the ``detektor_*`` naming rule, and metric exposition.

Every service registers its metrics on one ``Metrics`` object created at start (never at
import), so tests get fresh registries and no metric is registered twice. Names must start
with ``detektor_`` and follow Prometheus conventions (base units, ``_total`` for counters,
which prometheus-client appends); labels stay low-cardinality: frame ids never go in them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from opentelemetry import trace
from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

_NAME = re.compile(r"^detektor_[a-z][a-z0-9_]*$")
# Labels that would explode cardinality; the rule is enforced, not just documented.
_FORBIDDEN_LABELS = frozenset({"frame_id", "frame", "trace_id", "span_id", "event_id"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per process, with constructors that enforce the naming rules."""

    def __init__(self, service: str, version: str) -> None:
        self.service = service
        # The *_created series double every counter's cardinality and nothing here reads
        # them; the switch is process-wide and idempotent, like the registry it serves.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(PLATFORM_COLLECTOR)
        build = self.gauge(
            "detektor_build_info",
            "Service name and version of this process",
            ["service", "version"],
        )
        build.labels(service, version).set(1)
        self.http_requests = self.counter(
            "detektor_http_requests_total",
            "HTTP requests answered, by route template and status",
            ["service", "route", "method", "status"],
        )
        self.http_in_flight = self.gauge(
            "detektor_http_requests_in_flight",
            "HTTP requests being answered right now",
            ["service"],
        )
        self.http_duration = self.histogram(
            "detektor_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["service", "route", "method"],
        )

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        _check(name, labels)
        return Counter(name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        _check(name, labels)
        return Gauge(name, doc, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        _check(name, labels)
        if not name.endswith(("_seconds", "_bytes", "_ratio", "_frames")):
            raise ValueError(
                f"histogram {name} must be in base units (_seconds, _bytes, _ratio, _frames)"
            )
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def expose(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for: OpenMetrics (with exemplars)
        when its Accept header names it, the classic text format otherwise."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def exemplar() -> dict[str, str] | None:
    """A trace-id exemplar for the current span, when it is sampled (so Jaeger has it)."""
    ctx = trace.get_current_span().get_span_context()
    if not (ctx.is_valid and ctx.trace_flags.sampled):
        return None
    return {"trace_id": format(ctx.trace_id, "032x")}


def _check(name: str, labels: Sequence[str]) -> None:
    if not _NAME.match(name):
        raise ValueError(f"metric {name!r} must match {_NAME.pattern}")
    bad = _FORBIDDEN_LABELS.intersection(labels)
    if bad:
        raise ValueError(f"metric {name}: label(s) {sorted(bad)} are unbounded; use spans/events")
