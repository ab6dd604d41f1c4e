"""The app factory's routes, error shape, access control and request metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from detektor.kit.app import ServiceKit, create_app
from detektor.settings import Settings


class Body(BaseModel):
    n: int


def _client(token: str | None = None) -> tuple[ServiceKit, TestClient]:
    settings = Settings(api_token=token)
    kit = ServiceKit("unit", settings)
    router = APIRouter()

    @router.post("/v1/echo/{name}")
    async def echo(name: str, body: Body) -> dict[str, object]:
        return {"name": name, "n": body.n}

    @router.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    app = create_app(kit, routers=[router], summary={"answer": 42})
    return kit, TestClient(app, raise_server_exceptions=False)


def test_readyz_names_the_failing_checks() -> None:
    kit, client = _client()

    async def fine() -> None:
        return None

    async def broken() -> None:
        raise ConnectionError("redis refused the connection")

    async def hangs() -> None:
        await asyncio.sleep(10)

    kit.readiness.timeout_s = 0.2
    kit.readiness.add("postgres", fine)
    kit.readiness.add("redis", broken)
    kit.readiness.add("mqtt", hangs)
    reply = client.get("/readyz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["failing"] == ["redis", "mqtt"]
    assert "redis, mqtt" in body["error"]["message"]
    assert "refused" in body["checks"]["redis"]["detail"]
    assert "no answer within" in body["checks"]["mqtt"]["detail"]
    assert body["checks"]["postgres"]["ok"] is True


def test_readyz_ok_when_all_checks_pass() -> None:
    kit, client = _client()

    async def fine() -> None:
        return None

    kit.readiness.add("postgres", fine)
    assert client.get("/readyz").status_code == 200


def test_healthz_reports_dead_or_silent_workers() -> None:
    kit, client = _client()
    assert client.get("/healthz").status_code == 200
    kit.liveness.beat("consumer", max_silence_s=0)
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert "consumer silent" in reply.json()["problems"][0]
    kit.liveness.beat("consumer", max_silence_s=60)
    kit.liveness.died("capture", "RuntimeError: boom")
    assert client.get("/healthz").json()["problems"] == ["capture died: RuntimeError: boom"]


def test_info() -> None:
    _, client = _client()
    body = client.get("/info").json()
    assert body["service"] == "unit"
    assert body["config"] == {"answer": 42}
    assert body["version"]


def test_validation_error_shape() -> None:
    _, client = _client()
    reply = client.post("/v1/echo/x", json={"n": "many"})
    assert reply.status_code == 422
    assert reply.json()["error"]["field"] == "n"
    broken = client.post(
        "/v1/echo/x", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["error"]["field"] == "body"
    assert "not valid JSON" in broken.json()["error"]["message"]


def test_unknown_route_and_crash_are_json() -> None:
    _, client = _client()
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "Not Found"}}
    crash = client.get("/v1/boom")
    assert crash.status_code == 500
    assert "traceback" in crash.json()["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": "Bearer wrong"}, 401), ({"authorization": "Bearer t0k"}, 200)],
)
def test_bearer_token(headers: dict[str, str], status: int) -> None:
    _, client = _client(token="t0k")
    assert client.post("/v1/echo/a", json={"n": 1}, headers=headers).status_code == status
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_request_metrics_use_route_templates() -> None:
    _, client = _client()
    client.post("/v1/echo/alpha", json={"n": 1})
    client.post("/v1/echo/beta", json={"n": 1})
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert (
        'detektor_http_requests_total{method="POST",route="/v1/echo/{name}",service="unit",'
        'status="200"} 2.0' in text
    )
    assert 'route="<unmatched>"' in text
    assert "alpha" not in text


def test_metrics_content_negotiation() -> None:
    _, client = _client()
    classic = client.get("/metrics")
    assert classic.headers["content-type"].startswith("text/plain")
    om = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


def test_body_over_the_limit_gets_json_413() -> None:
    kit = ServiceKit("unit", Settings(http_max_body_bytes=2048))
    router = APIRouter()

    @router.post("/v1/big")
    async def big(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body["x"])}

    @router.post("/v1/small")
    async def small(body: dict[str, str]) -> dict[str, int]:
        return {"size": len(body["x"])}

    client = TestClient(create_app(kit, routers=[router], body_limits={"/v1/big": 10_000}))
    payload = {"x": "a" * 5000}
    refused = client.post("/v1/small", json=payload)
    assert refused.status_code == 413
    assert "limit is 2048 bytes" in refused.json()["error"]["message"]
    assert client.post("/v1/big", json=payload).json() == {"size": 5000}

    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}'

    streamed = client.post(
        "/v1/small", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
