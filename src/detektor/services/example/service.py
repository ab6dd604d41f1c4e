"""The example service: N steps of real, traced work with custom metrics and a log line.

It is the reference for how a service uses the kit, and the demo that proves traces and
custom metrics reach the backends.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from detektor.kit.app import ServiceKit, create_app
from detektor.kit.metrics import exemplar
from detektor.services.example.api import router
from detektor.settings import Settings

tracer = trace.get_tracer("detektor.example")


@dataclass
class WorkResult:
    trace_id: str
    items: int
    digest: str


class ExampleWorker:
    """Does the work: each step hashes a buffer, chained to the previous step's digest."""

    def __init__(self, kit: ServiceKit) -> None:
        self.step_bytes = kit.settings.example.step_bytes
        self.items_total: Counter = kit.metrics.counter(
            "detektor_example_items_total", "Work items completed by the example service"
        )
        self.duration: Histogram = kit.metrics.histogram(
            "detektor_example_work_duration_seconds", "Time to complete one work request"
        )

    def work(self, items: int) -> WorkResult:
        start = time.perf_counter()
        with tracer.start_as_current_span("example.work") as span:
            span.set_attribute("detektor.example.items", items)
            digest = b"detektor"
            for step in range(items):
                # Steps are leaves: a plain child span is cheaper than making each current.
                step_span = tracer.start_span("example.step", attributes={"step": step})
                digest = _step(digest, self.step_bytes)
                step_span.end()
            self.items_total.inc(items)
            trace_id = format(span.get_span_context().trace_id, "032x")
            # The kit's access log line records the request with this trace id.
            self.duration.observe(time.perf_counter() - start, exemplar=exemplar())
        return WorkResult(trace_id=trace_id, items=items, digest=digest.hex())


def _step(seed: bytes, size: int) -> bytes:
    buf = (seed * (size // len(seed) + 1))[:size]
    return hashlib.sha256(buf).digest()


_SELF_TEST_DIGEST = "006b1ccf53f828947621df0c0cdd030c7d23e4b28793589b00186c23c3626b45"


def build(settings: Settings) -> FastAPI:
    kit = ServiceKit("example", settings)
    worker = ExampleWorker(kit)

    async def hashing_works() -> None:
        # The service's one dependency is its hashing; prove it gives the known answer.
        got = _step(b"detektor", 64).hex()
        if got != _SELF_TEST_DIGEST:
            raise RuntimeError(f"self-test digest {got[:12]}... differs from the known value")

    kit.readiness.add("hashing", hashing_works)
    app = create_app(kit, routers=[router], summary={"step_bytes": settings.example.step_bytes})
    app.state.worker = worker
    return app
