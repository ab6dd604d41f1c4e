"""The one place that sets up the OpenTelemetry SDK; everything else uses only the API.

``setup_telemetry`` is called once per process, explicitly, by the CLI. It follows the
standard variables: ``OTEL_SDK_DISABLED`` switches tracing off entirely;
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) turns on OTLP/HTTP export, and
the exporter and batch processor read their own ``OTEL_*`` knobs; ``OTEL_TRACES_SAMPLER``
picks the sampler; ``OTEL_SERVICE_NAME`` overrides the service name. With no endpoint, spans
are still created (so logs and answers carry trace ids) but nothing is exported and nothing
tries the network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass
class Telemetry:
    """What setup_telemetry installed, so the process can flush it on the way out."""

    provider: TracerProvider | None
    exporting_to: str | None

    def shutdown(self) -> None:
        """Flush pending spans and stop the exporter; safe to call when nothing was set up."""
        if self.provider is not None:
            self.provider.shutdown()


def setup_telemetry(service: str, version: str) -> Telemetry:
    """Install the global tracer provider for this process, as the environment asks."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        log.info("tracing disabled by OTEL_SDK_DISABLED")
        return Telemetry(provider=None, exporting_to=None)

    attributes: dict[str, str] = {SERVICE_VERSION: version}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service
    provider = TracerProvider(resource=Resource.create(attributes))

    endpoint = next((os.environ[v] for v in _ENDPOINT_VARS if os.environ.get(v)), None)
    if endpoint:
        # Imported here so a process without an endpoint never loads the exporter stack.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("exporting traces over OTLP/HTTP", extra={"otlp_endpoint": endpoint})
    else:
        log.info("OTEL_EXPORTER_OTLP_ENDPOINT is unset: traces are not exported")
    trace.set_tracer_provider(provider)
    return Telemetry(provider=provider, exporting_to=endpoint)
