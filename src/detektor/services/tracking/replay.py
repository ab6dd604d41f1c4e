"""``detektor tracking replay``: rebuild the frame projections from the event log.

Every stored projection row is compared with a fresh fold of its frame's events; rows that
differ are reported and (unless ``--dry-run``) replaced, together with the per-camera counts.
Progress goes to stderr, the report to stdout.

A rewrite holds the store's maintenance lock (``EventStore.maintenance``): with a service
appending meanwhile, a row folded here could overwrite a newer one written there, so replay
is refused (StoreLocked) while a service holds its service lock. A dry run only reads and
runs beside a live service.
"""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from detektor.domain.projection import FrameRow, row_from_view
from detektor.ports import EventStore

PAGE = 500


@dataclass
class ReplayReport:
    checked: int = 0
    differences: list[tuple[FrameRow, FrameRow | None]] = field(default_factory=list)
    replaced: int = 0
    seconds: float = 0.0


def replay(store: EventStore, *, dry_run: bool, progress: TextIO | None = None) -> ReplayReport:
    """Check (and unless ``dry_run`` repair) every row; raises StoreLocked before reading
    anything when a rewrite would race a live service."""
    held: AbstractContextManager[None] = nullcontext() if dry_run else store.maintenance()
    with held:
        return _replay(store, dry_run, progress)


def _replay(store: EventStore, dry_run: bool, progress: TextIO | None) -> ReplayReport:
    now = datetime.now(UTC)
    total = sum(
        acc.captured + acc.orphans
        for acc in (store.accounting(c, now, timedelta(days=1)) for c in store.cameras())
    )
    report = ReplayReport()
    start = time.monotonic()
    after = None
    while rows := store.frame_rows(after, PAGE):
        rebuilt = []
        for row in rows:
            view = store.frame(row.frame_id)
            fresh = row_from_view(view) if view is not None else None
            if fresh != row:
                report.differences.append((row, fresh))
                if fresh is not None:
                    rebuilt.append(fresh)
        if rebuilt and not dry_run:
            store.replace_rows(rebuilt)
            report.replaced += len(rebuilt)
        report.checked += len(rows)
        after = rows[-1].frame_id
        if progress is not None:
            _draw(progress, report, total, time.monotonic() - start)
    report.seconds = time.monotonic() - start
    if progress is not None:
        progress.write("\n")
    return report


def _draw(out: TextIO, report: ReplayReport, total: int, elapsed: float) -> None:
    share = report.checked / total if total else 1.0
    bar = "#" * int(30 * min(share, 1.0))
    rate = report.checked / elapsed if elapsed > 0 else 0.0
    out.write(
        f"\rreplay [{bar:<30}] {report.checked:,}/{total:,} frames, "
        f"{len(report.differences)} differing, {rate:,.0f} frames/s"
    )
    out.flush()


def print_report(report: ReplayReport, dry_run: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up now, not at import: stdout may have been replaced
    print(
        f"checked {report.checked:,} frames in {report.seconds:.1f}s: "
        f"{len(report.differences)} differ from a replay of their events",
        file=out,
    )
    for stored, fresh in report.differences[:50]:
        print(f"  {stored.frame_id}:", file=out)
        for name in FrameRow.__dataclass_fields__:
            was, now = getattr(stored, name), getattr(fresh, name) if fresh else None
            if was != now:
                print(f"    {name}: stored {was!r}, replay {now!r}", file=out)
    if len(report.differences) > 50:
        print(f"  ... and {len(report.differences) - 50} more", file=out)
    if report.differences:
        action = "left as they are (--dry-run)" if dry_run else f"replaced {report.replaced}"
        print(f"projection rows: {action}", file=out)
