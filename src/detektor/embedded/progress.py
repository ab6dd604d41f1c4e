"""The live progress line of ``detektor run`` and its summary at exit."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from prometheus_client import CollectorRegistry

from detektor.domain.accounting import Accounting


def outcome_totals(registry: CollectorRegistry) -> dict[str, float]:
    """Frames by outcome over all cameras, from ``detektor_frames_total``."""
    totals: dict[str, float] = {}
    for metric in registry.collect():
        if metric.name != "detektor_frames":
            continue
        for sample in metric.samples:
            if sample.name == "detektor_frames_total":
                outcome = sample.labels["outcome"]
                totals[outcome] = totals.get(outcome, 0.0) + sample.value
    return totals


def percentile(samples: Sequence[float], q: float) -> float | None:
    if not samples:
        return None
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def progress_line(
    elapsed_s: float, fps: float, totals: dict[str, float], latencies: Sequence[float]
) -> str:
    p95 = percentile(list(latencies)[-2000:], 95)
    shown = f"{p95 * 1000:.0f} ms" if p95 is not None else "-"
    return (
        f"{elapsed_s:6.0f}s  {fps:5.1f} fps sampled  queued {totals.get('queued', 0):.0f}  "
        f"processed {totals.get('processed', 0):.0f}  skipped {totals.get('skipped', 0):.0f}  "
        f"dropped {totals.get('dropped', 0):.0f}  p95 latency {shown}"
    )


def print_summary(
    accounts: Iterable[Accounting], latencies: Sequence[float], out: TextIO = sys.stdout
) -> None:
    print("\nsummary", file=out)
    print(
        f"  {'camera':<20}{'captured':>9}{'completed':>10}{'skipped':>9}{'dropped':>9}"
        f"{'failed':>8}{'in flight':>10}  balanced",
        file=out,
    )
    for acc in accounts:
        print(
            f"  {acc.camera:<20}{acc.captured:>9}{acc.completed:>10}{acc.skipped_total:>9}"
            f"{acc.dropped_total:>9}{acc.failed:>8}{acc.in_flight:>10}  "
            f"{'yes' if acc.balanced else f'NO (imbalance {acc.imbalance})'}",
            file=out,
        )
        reasons = {
            **{f"skipped:{k}": v for k, v in acc.skipped.items()},
            **{f"dropped:{k}": v for k, v in acc.dropped.items()},
        }
        if reasons:
            print(
                "  " + " " * 20 + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())),
                file=out,
            )
    if latencies:
        p50, p95, p99 = (percentile(latencies, q) or 0.0 for q in (50, 95, 99))
        print(
            f"  end-to-end latency (capture to completion), {len(latencies)} frames: "
            f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
            file=out,
        )
    else:
        print("  no frame completed, so there is no latency to report", file=out)
