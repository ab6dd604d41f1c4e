"""The service kit: what every Detektor service gets, written once.

Health and readiness, Prometheus metrics, OpenTelemetry traces, JSON logs with trace ids,
bearer-token access and graceful shutdown.
"""
