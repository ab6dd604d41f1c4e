"""Cost of the kit's telemetry on ``POST /v1/work`` (items=10).

Two example services run side by side: one with everything on (tracing exported over
OTLP/HTTP to a local receiver, request metrics, JSON access logs) and one with all of it off
(``OTEL_SDK_DISABLED=true``, ``DETEKTOR_HTTP_METRICS=false``, logs at WARNING). Requests
alternate between them so both see the same machine load, and the script prints p50/p99
for each and the on/off ratio. Target: p50 ratio <= 1.15.

    .venv/bin/python bench/kit_overhead.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.otlp import OtlpReceiver
from support.process import ServiceProcess


def percentile(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if q < 100 else max(samples)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per configuration")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, OtlpReceiver() as receiver:
        on_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        off_env = {
            "OTEL_SDK_DISABLED": "true",
            "DETEKTOR_HTTP_METRICS": "false",
            "DETEKTOR_LOG__LEVEL": "WARNING",
        }
        with (
            ServiceProcess("example", Path(tmp), on_env) as on,
            ServiceProcess("example", Path(tmp), off_env) as off,
            httpx.Client(timeout=10) as client,
        ):
            samples: dict[str, list[float]] = {"on": [], "off": []}
            urls = {"on": f"{on.url}/v1/work", "off": f"{off.url}/v1/work"}
            total = args.warmup + args.requests
            for i in range(total):
                # Alternate the order too, so neither side always runs right after the other.
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for name in order:
                    start = time.perf_counter()
                    client.post(urls[name], json={"items": 10}).raise_for_status()
                    if i >= args.warmup:
                        samples[name].append((time.perf_counter() - start) * 1000)
                if (i + 1) % 500 == 0:
                    print(f"  {i + 1}/{total} request pairs", file=sys.stderr)
            time.sleep(1.0)
            spans = len(receiver.spans)

    print(f"POST /v1/work items=10, {args.requests} requests each, alternating")
    print(f"{'config':<8}{'p50 ms':>10}{'p99 ms':>10}")
    for name in ("on", "off"):
        print(
            f"{name:<8}{percentile(samples[name], 50):>10.3f}{percentile(samples[name], 99):>10.3f}"
        )
    p50 = percentile(samples["on"], 50) / percentile(samples["off"], 50)
    p99 = percentile(samples["on"], 99) / percentile(samples["off"], 99)
    added = percentile(samples["on"], 50) - percentile(samples["off"], 50)
    print(f"ratio on/off: p50 {p50:.3f} (target <= 1.15), p99 {p99:.3f}")
    print(f"telemetry cost at p50: {added * 1000:.0f} us per request (12 spans, 1 log line)")
    print(f"spans received by the OTLP receiver: {spans}")


if __name__ == "__main__":
    main()
