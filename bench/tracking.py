"""Event-store benchmarks: batched append throughput, single-append latency, timeline queries.

    .venv/bin/python bench/tracking.py postgres [--events 200000] [--load 5000000]
        [--interleaved 200000] [--interleaved-batch 500] [--wave 100]
    .venv/bin/python bench/tracking.py sqlite   [--events 200000] [--load 5000000] [...]

1. Batched appends, best case (1000 events a batch, whole lifecycles, every frame new;
   projections included) against a raw baseline of the same rows in the same run: COPY
   into a bare table on PostgreSQL, executemany of a bare INSERT in one transaction on
   SQLite. Prints events/s and the ratio.
2. Batched appends, pipeline-like (``store_workloads.Interleaved``): stage by stage, many
   frames in flight, most events updating a frame stored by an earlier batch, some arriving
   late (re-folds), in batches of ``--interleaved-batch`` (the tracking consumer's
   ``read_count``). Ours and the raw baseline (the same rows, the same batches; psycopg's
   COPY or sqlite3's executemany, no code of ours) alternate batch by batch, so load drifting
   on a shared machine weighs on both alike. Prints both rates and the ratio.
3. Single-event appends: p50/p99 latency.
4. Frame-timeline reads (``frame(id)``) of random frames once ``--load`` events are stored:
   p50/p99 latency, and how long loading took.

PostgreSQL runs in a database created for the run on 127.0.0.1 and dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.ports import EventStore
from store_workloads import (  # this script's neighbour
    LIFE,
    Frames,
    Interleaved,
    Raw,
    RawPostgres,
    RawSqlite,
    batches,
    raw_rows,
)


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"\r  {label}: {done:,}/{total:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)


def throughput(store: EventStore, frames: Frames, total: int) -> float:
    # Built before the clock starts: only the store's work is timed, as for the baseline.
    prepared = list(batches(frames.events(total), 1000))
    started = time.perf_counter()
    done = 0
    for batch in prepared:
        store.append(batch)
        done += len(batch)
        if done % 20_000 == 0:
            progress("batched append", done, total, started)
    print(file=sys.stderr)
    return total / (time.perf_counter() - started)


def raw_rate(raw: Raw, envs: list[Envelope]) -> float:
    """Rows/s of the raw baseline, 1000 rows a batch (the best case's baseline)."""
    prepared = [raw_rows(raw, envs[i : i + 1000]) for i in range(0, len(envs), 1000)]
    started = time.perf_counter()
    for rows in prepared:
        raw.write(rows)
    return len(envs) / (time.perf_counter() - started)


def interleaved(store: EventStore, raw: Raw, workload: Interleaved, total: int, size: int) -> None:
    """Ours and the raw baseline on the pipeline-like stream, alternating batch by batch."""
    prepared = list(batches(workload.events(total), size))
    rows = [raw_rows(raw, batch) for batch in prepared]
    seen: set[FrameId] = set()
    updates = 0
    for batch in prepared:
        updates += sum(e.frame_id in seen for e in batch)
        seen.update(e.frame_id for e in batch)
    ours = base = 0.0
    begun = time.perf_counter()
    for i, batch in enumerate(prepared):
        for side in ("ours", "raw") if i % 2 == 0 else ("raw", "ours"):
            started = time.perf_counter()
            if side == "ours":
                store.append(batch)
                ours += time.perf_counter() - started
            else:
                raw.write(rows[i])
                base += time.perf_counter() - started
        if (i + 1) % 40 == 0:
            progress("interleaved, both sides", (i + 1) * size, total, begun)
    print(file=sys.stderr)
    print(
        f"  interleaved: {total:,} events, batches of {size}, waves of {workload.wave} frames; "
        f"{updates:,} events ({updates / total:.0%}) for a frame stored by an earlier batch; "
        f"{workload.late} frames with late capture events (re-folds)"
    )
    print(f"  interleaved append, ours: {total / ours:,.0f} events/s")
    print(
        f"  interleaved raw baseline, same rows and batches: {total / base:,.0f} rows/s; "
        f"ratio {base / ours:.3f}"
    )


def single_latency(store: EventStore, frames: Frames, count: int) -> list[float]:
    samples = []
    for env in frames.events(count):
        started = time.perf_counter()
        store.append([env])
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def timeline_latency(store: EventStore, ids: list[FrameId], count: int) -> list[float]:
    rng = random.Random(7)
    samples = []
    for fid in rng.sample(ids, min(count, len(ids))):
        started = time.perf_counter()
        view = store.frame(fid)
        samples.append((time.perf_counter() - started) * 1000)
        assert view is not None
        assert len(view.events) == len(LIFE)
    return samples


def run(
    backend: str,
    open_store: Callable[[], EventStore],
    open_raw: Callable[[str], Raw],
    args: argparse.Namespace,
) -> None:
    events, load = args.events, args.load
    store = open_store()
    store.migrate()
    try:
        frames = Frames(datetime.now(UTC) - timedelta(days=1))
        ours = throughput(store, frames, events)
        raw = open_raw("bare")
        try:
            baseline = raw_rate(raw, list(Frames(datetime.now(UTC)).events(events)))
        finally:
            raw.close()
        print(
            f"[{backend}] batched append (1000/batch, projections included): {ours:,.0f} events/s"
        )
        print(
            f"[{backend}] raw baseline, same rows: {baseline:,.0f} rows/s; "
            f"ratio {ours / baseline:.3f}"
        )

        if args.interleaved:
            print(f"[{backend}] pipeline-like workload:")
            raw = open_raw("bare_interleaved")
            try:
                workload = Interleaved(datetime.now(UTC) - timedelta(days=3), wave=args.wave)
                interleaved(store, raw, workload, args.interleaved, args.interleaved_batch)
            finally:
                raw.close()

        single = single_latency(store, frames, 2000)
        print(
            f"[{backend}] single-event append: p50 {pct(single, 50):.2f} ms, "
            f"p99 {pct(single, 99):.2f} ms (target p99 <= 5 ms)"
        )

        remaining = max(0, load - events - 2000)
        started = time.perf_counter()
        loaded = 0
        for batch in batches(frames.events(remaining), 1000):
            store.append(batch)
            loaded += len(batch)
            if loaded % 100_000 == 0:
                progress("loading", loaded, remaining, started)
        print(file=sys.stderr)
        load_s = time.perf_counter() - started
        stored = events + 2000 + loaded
        print(f"[{backend}] loaded {loaded:,} more events in {load_s:.0f}s; {stored:,} stored")
        reads = timeline_latency(store, frames.ids, 2000)
        print(
            f"[{backend}] frame timeline with {stored:,} events: p50 {pct(reads, 50):.2f} ms, "
            f"p99 {pct(reads, 99):.2f} ms (target p99 <= 10 ms)"
        )
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("backend", choices=["postgres", "sqlite"])
    parser.add_argument("--events", type=int, default=200_000, help="events in the throughput run")
    parser.add_argument("--load", type=int, default=5_000_000, help="events stored before reads")
    parser.add_argument(
        "--interleaved", type=int, default=200_000, help="events of the pipeline-like run (0: none)"
    )
    parser.add_argument("--interleaved-batch", type=int, default=500, help="events per append")
    parser.add_argument("--wave", type=int, default=100, help="frames entering each stage at once")
    args = parser.parse_args()
    if args.backend == "postgres":
        from detektor.adapters.postgres import PostgresEventStore
        from support.postgres import temporary_database

        with temporary_database("detektor_bench") as url:
            run(
                "postgres",
                lambda: PostgresEventStore(url),
                lambda table: RawPostgres(url, table),
                args,
            )
    else:
        from detektor.adapters.sqlite import SqliteEventStore

        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "events.db")
            run(
                "sqlite",
                lambda: SqliteEventStore(path),
                lambda table: RawSqlite(str(Path(tmp) / "bare.db"), table),
                args,
            )


if __name__ == "__main__":
    main()
