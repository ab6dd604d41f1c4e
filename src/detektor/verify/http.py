"""Bounded HTTP to the backends: every request has a timeout, and any failure becomes an
``Unreachable`` naming the URL, which the check turns into a FAIL instead of a hang."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from detektor.verify.model import CheckResult, Status, VerifyOptions


class Unreachable(Exception):
    """A backend did not answer, or answered something unusable; the message names the URL."""


def client(options: VerifyOptions, **kwargs: Any) -> httpx.Client:
    """A client whose connect, read, write and pool waits are all bounded by the timeout."""
    return httpx.Client(timeout=httpx.Timeout(options.timeout_s), **kwargs)


def get_json(
    http: httpx.Client,
    url: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    missing_ok: bool = False,
) -> Any:
    """GET ``url`` and decode JSON; a network error, non-2xx or non-JSON raises Unreachable.
    With ``missing_ok``, a 404 (the backend answered: no such thing) returns None instead."""
    try:
        reply = http.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise Unreachable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if missing_ok and reply.status_code == 404:
        return None
    if reply.status_code >= 400:
        raise Unreachable(f"{url}: HTTP {reply.status_code}: {reply.text[:200]}")
    try:
        return reply.json()
    except ValueError as exc:
        raise Unreachable(f"{url}: the answer is not JSON") from exc


def prom_query(http: httpx.Client, base: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    body = get_json(http, f"{base.rstrip('/')}/api/v1/query", {"query": promql})
    if not isinstance(body, dict) or body.get("status") != "success":
        raise Unreachable(f"{base}/api/v1/query: query {promql!r} failed: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def prom_targets(http: httpx.Client, base: str) -> list[dict[str, Any]]:
    """Prometheus's active scrape targets."""
    body = get_json(http, f"{base.rstrip('/')}/api/v1/targets", {"state": "active"})
    targets: list[dict[str, Any]] = body["data"]["activeTargets"]
    return targets


def guarded(
    name: str, fix: str, check: Callable[[VerifyOptions], CheckResult], options: VerifyOptions
) -> CheckResult:
    """Run a check; an unreachable backend gives FAIL with the URL in the evidence."""
    try:
        return check(options)
    except Unreachable as exc:
        return CheckResult(name, Status.FAIL, "a backend did not answer", [str(exc)], fix)
    except (KeyError, TypeError, ValueError) as exc:
        return CheckResult(
            name, Status.FAIL, "a backend answered in an unexpected shape", [repr(exc)], fix
        )
