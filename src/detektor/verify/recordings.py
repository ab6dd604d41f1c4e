"""The recordings line of the report: the bytes of footage kept per camera (what capture's
recording index counts, ``detektor_recording_bytes``), the free space of the recordings
volume, and whether recording is paused for lack of it.

No ``detektor_recording_bytes`` series means no camera records: SKIP, not a failure. Paused
recording FAILs (the RecordingDiskLow alert says the same).
"""

from __future__ import annotations

from detektor.verify.http import client, prom_query
from detektor.verify.model import CheckResult, Status, VerifyOptions

NAME = "Recordings"


def _mib(value: float) -> str:
    return f"{value / 1024**2:.1f} MiB"


def recordings(options: VerifyOptions) -> CheckResult:
    base = options.prometheus
    recent = options.recent
    with client(options) as http:
        kept = prom_query(
            http, base, f"sum by (camera) (last_over_time(detektor_recording_bytes[{recent}]))"
        )
        free = prom_query(
            http, base, f"min(last_over_time(detektor_recording_free_bytes[{recent}]))"
        )
        paused = prom_query(http, base, f"max(last_over_time(detektor_recording_paused[{recent}]))")
    if not kept:
        return CheckResult(
            NAME, Status.SKIP, "no camera records (no detektor_recording_bytes series)"
        )
    per_camera = sorted((s["metric"].get("camera", "?"), float(s["value"][1])) for s in kept)
    total = sum(size for _, size in per_camera)
    evidence = [f"{camera}: {_mib(size)} kept ({int(size)} bytes)" for camera, size in per_camera]
    free_text = ""
    if free:
        free_bytes = float(free[0]["value"][1])
        evidence.append(f"recordings volume: {_mib(free_bytes)} free")
        free_text = f", {_mib(free_bytes)} free"
    summary = f"{_mib(total)} kept for {len(per_camera)} camera(s){free_text}"
    if paused and float(paused[0]["value"][1]) >= 1:
        fix = f"curl -s '{base}/api/v1/alerts' | jq '.data.alerts[]'  # RecordingDiskLow"
        return CheckResult(NAME, Status.FAIL, "recording is paused: " + summary, evidence, fix)
    return CheckResult(NAME, Status.PASS, summary, evidence)
