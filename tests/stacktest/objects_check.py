"""The stack test's look at objects: the canary's walking person became tracked objects that
the objects service stored (through tracking) and the notifier announced to Mosquitto."""

from __future__ import annotations

import httpx

from stacktest.output import Findings, step
from stacktest.stack import Stack

EVENT_MESSAGES = 'sum(detektor_notifier_messages_total{kind="event"})'


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
        reply = httpx.get(
            f"{stack.prometheus}/api/v1/query", params={"query": EVENT_MESSAGES}, timeout=10
        )
        result = reply.json()["data"]["result"]
        sent = float(result[0]["value"][1]) if result else 0.0
        findings.check(
            "objects: the notifier announced them (object event messages acknowledged)",
            sent > 0,
            f"{sent:.0f} event message(s) acknowledged by Mosquitto",
        )
