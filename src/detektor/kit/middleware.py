"""Per-request RED metrics and the access log line, as a pure ASGI middleware.

It sits inside the OpenTelemetry server span, so the log line and the latency exemplar
carry that request's trace id. Routes are labelled by template (``/v1/frames/{frame_id}``),
never by raw path, and unmatched paths share one label, so labels stay bounded.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detektor.kit.access import OPEN_PATHS
from detektor.kit.metrics import Metrics, exemplar

log = logging.getLogger("detektor.http")
UNMATCHED = "<unmatched>"


class RequestMetricsMiddleware:
    """Counts and times every HTTP request, and logs the ones outside health and metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics, record: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        in_flight = self.metrics.http_in_flight.labels(self.metrics.service)
        in_flight.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            in_flight.dec()
            elapsed = time.perf_counter() - start
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or UNMATCHED
            method = scope["method"]
            if self.record:
                service = self.metrics.service
                self.metrics.http_requests.labels(service, route, method, str(status)).inc()
                self.metrics.http_duration.labels(service, route, method).observe(
                    elapsed, exemplar=exemplar()
                )
            if scope["path"] not in OPEN_PATHS:
                log.info(
                    "%s %s -> %d",
                    method,
                    scope["path"],
                    status,
                    extra={"route": route, "status": status, "duration_ms": elapsed * 1000},
                )
