"""The stack test's look at objects: the canary's walking person became tracked objects that
the objects service stored (through tracking) and the notifier announced to Mosquitto, with
snapshots cut by the objects service into the shared data volume, served by tracking through
a signed link (no token), and sent to Home Assistant's image entities."""

from __future__ import annotations

from typing import Any

import httpx

from stacktest.output import Findings, step
from stacktest.stack import Stack

EVENT_MESSAGES = 'sum(detektor_notifier_messages_total{kind="event"})'
IMAGE_MESSAGES = 'sum(detektor_notifier_messages_total{kind="image"})'
SNAPSHOT_BYTES = 'sum(detektor_snapshot_bytes{job="objects"})'


def check_objects(stack: Stack, findings: Findings) -> None:
    with step("objects: stored and announced"):
        with stack.api() as api:
            page = api.get("/v1/objects", params={"camera": "canary", "limit": 1000}).json()
        objects = page["objects"]
        labels = sorted({o["label"] for o in objects})
        findings.check(
            "objects: the canary's person is tracked as objects in the store",
            "person" in labels,
            f"{len(objects)} object(s) of the canary ({', '.join(labels) or 'none'}); "
            f"states {sorted({o['state'] for o in objects})}",
        )
        sent = query(stack, EVENT_MESSAGES)
        findings.check(
            "objects: the notifier announced them (object event messages acknowledged)",
            sent > 0,
            f"{sent:.0f} event message(s) acknowledged by Mosquitto",
        )
    with step("objects: snapshots"):
        check_snapshots(stack, findings, objects)


def check_snapshots(stack: Stack, findings: Findings, objects: list[dict[str, Any]]) -> None:
    links = [o["snapshot_url"] for o in objects if o.get("snapshot_url")]
    status, kind, jpeg = 0, "no object with a snapshot link", False
    with httpx.Client(base_url=stack.tracking, timeout=15) as anonymous:
        # No token: the link's signature alone must open the picture. The newest objects
        # first; one whose frame's picture had expired before serve objects read it has none.
        for link in links[:5]:
            reply = anonymous.get(link)
            status, kind = reply.status_code, reply.headers.get("content-type", "")
            jpeg = reply.content[:2] == b"\xff\xd8"
            if status == 200:
                break
    findings.check(
        "objects: a snapshot opens by its signed link, without the token",
        bool(links) and status == 200 and jpeg,
        f"{len(links)} object(s) with a link; the last one tried answered {status} {kind}",
    )
    kept = query(stack, SNAPSHOT_BYTES)
    images = query(stack, IMAGE_MESSAGES)
    findings.check(
        "objects: snapshot files kept in the data volume and sent to Home Assistant's images",
        kept > 0 and images > 0,
        f"{kept:.0f} bytes of snapshots kept; {images:.0f} image message(s) acknowledged",
    )


def query(stack: Stack, promql: str) -> float:
    reply = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    result = reply.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0
