"""The app factory: a FastAPI app with the kit's routes, middleware and error shape.

Every service gets ``/healthz``, ``/readyz``, ``/metrics`` and ``/info`` from here, plus
request metrics, access logs, bearer-token access and tracing of every other route.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from detektor import package_version
from detektor.kit.access import OPEN, OPEN_PATHS, PAGE, SIGNED_LINK, BearerTokenMiddleware
from detektor.kit.errors import install_error_handlers
from detektor.kit.health import Liveness, Readiness
from detektor.kit.limits import BodyLimitMiddleware
from detektor.kit.metrics import Metrics
from detektor.kit.middleware import RequestMetricsMiddleware
from detektor.kit.supervision import Policy, Supervisor
from detektor.settings import Settings

log = logging.getLogger(__name__)


class Lifespan(Protocol):
    def __call__(self, app: FastAPI) -> AbstractAsyncContextManager[None]: ...


@dataclass
class ServiceKit:
    """What the kit gives one service: its settings, metrics registry and health state."""

    name: str
    settings: Settings
    version: str = field(default_factory=package_version)
    metrics: Metrics = field(init=False)
    readiness: Readiness = field(default_factory=Readiness)
    liveness: Liveness = field(default_factory=Liveness)
    device: str = "cpu"
    policy: Policy = field(default_factory=Policy)
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.name, self.version)
        self.supervisor = Supervisor(self.liveness, self.readiness, self.metrics, self.policy)


def create_app(
    kit: ServiceKit,
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    summary: dict[str, Any] | None = None,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """Build the service's app. ``summary`` is the configuration digest shown by /info;
    ``body_limits`` raises the request body limit for the given paths."""
    app = FastAPI(
        title=f"detektor {kit.name}",
        version=kit.version,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry support: one server span per request, through the
        # API only (it is active once setup_telemetry installed a provider). Metrics and
        # logs stay ours (Prometheus, JSON lines); health, readiness and metrics routes are
        # not traced, so scrapes and probes do not flood Jaeger.
        telemetry={
            "tracing": True,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "exclude": _untraced,
        },
    )
    app.state.kit = kit  # the UI's System page reads its health and readiness
    install_error_handlers(app)
    app.include_router(_kit_routes(kit, summary or {}))
    for router in routers:
        app.include_router(router)

    app.add_middleware(
        BodyLimitMiddleware,
        default=kit.settings.http_max_body_bytes,
        per_path=body_limits or {},
    )
    token = kit.settings.api_token
    if token is not None:
        app.add_middleware(
            BearerTokenMiddleware,
            token=token.get_secret_value(),
            signed_paths=_flagged_paths(routers, SIGNED_LINK),
            open_paths=_flagged_paths(routers, OPEN),
            page_paths=_flagged_paths(routers, PAGE),
        )
    else:
        log.warning(
            "DETEKTOR_API_TOKEN is unset: the %s API is open to anyone who can reach it",
            kit.name,
        )
    app.add_middleware(
        RequestMetricsMiddleware, metrics=kit.metrics, record=kit.settings.http_metrics
    )
    return app


def _flagged_paths(routers: Sequence[APIRouter], flag: str) -> list[re.Pattern[str]]:
    """The paths of the routes whose ``openapi_extra`` sets ``flag`` (``SIGNED_LINK_ROUTE``,
    ``OPEN_ROUTE``, ``PAGE_ROUTE``); read from the routers as given, since the app keeps
    included routers unflattened."""
    return [
        route.path_regex
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and (route.openapi_extra or {}).get(flag)
    ]


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in OPEN_PATHS


def _kit_routes(kit: ServiceKit, summary: dict[str, Any]) -> APIRouter:
    router = APIRouter(tags=["kit"])

    @router.get("/healthz", summary="Is the process loop alive?")
    async def healthz() -> JSONResponse:
        problems = kit.liveness.problems()
        body = {
            "status": "ok" if not problems else "unhealthy",
            "service": kit.name,
            "uptime_s": round(kit.liveness.uptime_s(), 1),
            "problems": problems,
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    @router.get("/readyz", summary="Do this service's dependencies answer?")
    async def readyz() -> JSONResponse:
        results = await kit.readiness.run()
        failing = [r.name for r in results if not r.ok]
        body: dict[str, Any] = {
            "status": "ready" if not failing else "not ready",
            "service": kit.name,
            "checks": {
                r.name: {"ok": r.ok, "detail": r.detail, "ms": r.duration_ms} for r in results
            },
        }
        if failing:
            body["error"] = {"message": "failing readiness checks: " + ", ".join(failing)}
            body["failing"] = failing
        return JSONResponse(body, status_code=503 if failing else 200)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        payload, content_type = kit.metrics.expose(request.headers.get("accept"))
        return Response(payload, media_type=content_type)

    @router.get("/info", summary="Service, version, device and configuration summary")
    async def info() -> dict[str, Any]:
        return {
            "service": kit.name,
            "version": kit.version,
            "device": kit.device,
            "auth": "bearer" if kit.settings.api_token else "open",
            "config": summary,
        }

    return router
