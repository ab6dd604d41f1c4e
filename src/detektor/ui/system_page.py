"""The System page: this process's health and readiness checks, accounting per camera,
recording disk use (bytes and segments kept per camera from the recording index, and the
free space of the recordings root), and the alerts firing in Alertmanager when its URL is
configured."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from detektor.kit.access import PAGE_ROUTE
from detektor.kit.app import ServiceKit
from detektor.ports import RecordingTotals
from detektor.ui import queries
from detektor.ui.alerts import Alerts, firing_alerts
from detektor.ui.queries import Refused
from detektor.ui.rendering import render

router = APIRouter(include_in_schema=False)
MIB = 2**20
GIB = 2**30


async def _service(kit: ServiceKit) -> dict[str, Any]:
    checks = await kit.readiness.run()
    return {
        "name": kit.name,
        "version": kit.version,
        "device": kit.device,
        "uptime_s": round(kit.liveness.uptime_s()),
        "problems": kit.liveness.problems(),
        "checks": [
            {"name": r.name, "ok": r.ok, "detail": r.detail, "ms": r.duration_ms} for r in checks
        ],
    }


def disk_use(totals: dict[str, RecordingTotals], root: Path | None) -> dict[str, Any]:
    """Per camera its segments and MiB kept, their sum, and the free space where the
    segments are written (None when that folder does not exist yet, or cannot be read)."""
    cameras = [
        {"camera": cam, "segments": t.segments, "mib": round(t.bytes / MIB, 1)}
        for cam, t in sorted(totals.items())
    ]
    free: dict[str, Any] | None = None
    if root is not None:
        try:
            usage = shutil.disk_usage(root)
        except OSError:  # absent (nothing recorded yet) or unreadable: say nothing wrong
            usage = None
        if usage is not None:
            free = {
                "root": str(root),
                "free_gib": round(usage.free / GIB, 1),
                "total_gib": round(usage.total / GIB, 1),
                "used_pct": round(100 * (usage.total - usage.free) / max(usage.total, 1)),
            }
    return {
        "cameras": cameras,
        "segments": sum(t.segments for t in totals.values()),
        "mib": round(sum(t.bytes for t in totals.values()) / MIB, 1),
        "free": free,
    }


@router.get("/system", openapi_extra=PAGE_ROUTE)
async def system_page(request: Request) -> HTMLResponse:
    kit: ServiceKit | None = getattr(request.app.state, "kit", None)
    service = await _service(kit) if kit is not None else {}
    accounts = [await queries.accounting(request, c) for c in await queries.cameras(request)]
    disk: dict[str, Any] | None = None
    recordings = getattr(request.app.state, "recordings", None)
    if recordings is not None:
        totals = await to_thread.run_sync(recordings.index.totals)
        settings = kit.settings if kit is not None else None
        root = settings.recordings.root_in(settings.data_dir) if settings else None
        disk = await to_thread.run_sync(disk_use, totals, root)
    alertmanager = kit.settings.alertmanager_url if kit is not None else None
    alerts: Alerts | None = None
    if alertmanager:
        alerts = await firing_alerts(alertmanager)
    return render(
        request,
        "system.html",
        page="system",
        service=service,
        accounts=[a for a in accounts if not isinstance(a, Refused)],
        disk=disk,
        alertmanager=alertmanager,
        alerts=alerts,
    )
