"""The firing alerts the System page shows, read from Alertmanager's API v2
(``GET /api/v2/alerts``) when ``DETEKTOR_ALERTMANAGER_URL`` is set.

Alertmanager answers a JSON list of alerts, each with ``labels``, ``annotations``,
``startsAt``, ``endsAt``, ``fingerprint`` and ``status: {state, silencedBy, inhibitedBy}``.
Only active alerts are asked for (not silenced, not inhibited). Whatever goes wrong (no
answer within the short timeout, an error status, a body of another shape) becomes a
sentence on the page, never a 500: the page that shows the system's health must render when
part of it is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT_S = 2.0  # the page waits no longer than this for Alertmanager
MAX_BODY = 1_048_576  # a bigger answer is not Alertmanager's (or far too many alerts)
MAX_SHOWN = 50
ACTIVE = {"active": "true", "silenced": "false", "inhibited": "false", "unprocessed": "false"}


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    severity: str
    summary: str
    since: str  # RFC 3339, as Alertmanager sent it
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Alerts:
    """What the page shows: the firing alerts newest first, or why there are none to show."""

    firing: list[Alert]
    problem: str | None = None
    more: int = 0  # firing alerts beyond MAX_SHOWN


async def firing_alerts(base_url: str, timeout_s: float = TIMEOUT_S) -> Alerts:
    url = base_url.rstrip("/") + "/api/v2/alerts"
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            reply = await client.get(url, params=ACTIVE)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Alerts([], f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if reply.status_code != 200:
        return Alerts([], f"HTTP {reply.status_code} from {url}")
    if len(reply.content) > MAX_BODY:
        return Alerts([], f"an answer of {len(reply.content)} bytes is too big")
    try:
        body = reply.json()
    except ValueError:
        return Alerts([], "the answer is not JSON")
    return parse_alerts(body)


def parse_alerts(body: Any) -> Alerts:
    """The active alerts of an API v2 answer; an answer of another shape is a problem."""
    if not isinstance(body, list):
        return Alerts([], "the answer is not a list of alerts")
    firing: list[Alert] = []
    for item in body:
        alert = _alert(item)
        if alert is None:
            return Alerts([], "the answer has an alert without labels, status or startsAt")
        if alert is not _SUPPRESSED:
            firing.append(alert)
    firing.sort(key=lambda a: a.since, reverse=True)
    return Alerts(firing[:MAX_SHOWN], more=max(0, len(firing) - MAX_SHOWN))


_SUPPRESSED = Alert("", "", "", "", "")


def _alert(item: Any) -> Alert | None:
    if not isinstance(item, dict):
        return None
    labels, annotations = item.get("labels"), item.get("annotations", {})
    status, since = item.get("status"), item.get("startsAt")
    if not (
        isinstance(labels, dict)
        and isinstance(annotations, dict)
        and isinstance(status, dict)
        and isinstance(since, str)
    ):
        return None
    if status.get("state") != "active":
        return _SUPPRESSED  # silenced or inhibited after all: not firing at anyone
    return Alert(
        name=_text(labels.get("alertname")) or "(no alertname)",
        severity=_text(labels.get("severity")),
        summary=_text(annotations.get("summary")) or _text(annotations.get("description")),
        since=since[:40],
        fingerprint=_text(item.get("fingerprint")),
    )


def _text(value: object) -> str:
    return value[:300] if isinstance(value, str) else ""
