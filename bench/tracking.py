"""Event-store benchmarks: batched append throughput, single-append latency, timeline queries.

    .venv/bin/python bench/tracking.py postgres [--events 200000] [--load 5000000]
    .venv/bin/python bench/tracking.py sqlite   [--events 200000] [--load 5000000]

1. Batched appends (1000 events a batch, projections included) against a raw baseline of
   the same rows in the same run: COPY into a bare table on PostgreSQL, executemany of a
   bare INSERT in one transaction on SQLite. Prints events/s and the ratio.
2. Single-event appends: p50/p99 latency.
3. Frame-timeline reads (``frame(id)``) of random frames once ``--load`` events are stored:
   p50/p99 latency, and how long loading took.

PostgreSQL runs in a database created for the run on 127.0.0.1 and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.ports import EventStore

LIFE = [
    (EventType.CAPTURED, {"width": 640, "height": 480, "pts": 0, "source": "synthetic://"}),
    (EventType.QUEUED, {"stream": "frames"}),
    (EventType.PROCESSING, {"processor": "detector", "batch_id": "b"}),
    (
        EventType.PROCESSED,
        {
            "processor": "detector",
            "duration_ms": 4.2,
            "detections": [{"label": "person", "score": 0.9, "box": [1, 2, 30, 40]}],
        },
    ),
    (EventType.PUBLISHED, {"target": "mqtt"}),
    (EventType.COMPLETED, {}),
]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Frames:
    """Generates complete frame lifecycles, six events a frame, camera by camera."""

    def __init__(self, start: datetime, cameras: int = 4) -> None:
        self.clock = start
        self.cameras = [f"cam-{i}" for i in range(cameras)]
        self.seq = 0
        self.ids: list[FrameId] = []

    def events(self, count: int) -> Iterator[Envelope]:
        made = 0
        while made < count:
            self.seq += 1
            self.clock += timedelta(milliseconds=50)
            camera = self.cameras[self.seq % len(self.cameras)]
            fid = FrameId.make(camera, int(self.clock.timestamp() * 1000), self.seq)
            self.ids.append(fid)
            for i, (kind, data) in enumerate(LIFE):
                yield Envelope.new(
                    kind,
                    fid,
                    data,
                    occurred_at=self.clock + timedelta(milliseconds=i),
                    trace_id=TRACE,
                )
                made += 1


def batches(gen: Iterator[Envelope], size: int) -> Iterator[list[Envelope]]:
    batch: list[Envelope] = []
    for env in gen:
        batch.append(env)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def rows_of(envs: list[Envelope]) -> list[tuple[object, ...]]:
    return [
        (
            e.event_id,
            e.type.value,
            str(e.frame_id),
            e.camera,
            e.occurred_at,
            e.trace_id,
            e.span_id,
            e.schema_version,
            json.dumps(e.to_dict()["data"]),
        )
        for e in envs
    ]


def raw_postgres(url: str, envs: list[Envelope]) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE bare (event_id uuid, type text, frame_id text, camera text, "
            "occurred_at timestamptz, trace_id text, span_id text, schema_version smallint, "
            "data jsonb)"
        )
        conn.commit()
        rows = rows_of(envs)
        started = time.perf_counter()
        for i in range(0, len(rows), 1000):
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY bare (event_id, type, frame_id, camera, occurred_at, trace_id, span_id, "
                    "schema_version, data) FROM STDIN"
                ) as copy,
            ):
                for row in rows[i : i + 1000]:
                    copy.write_row(row)
            conn.commit()
        return len(rows) / (time.perf_counter() - started)


def raw_sqlite(path: str, envs: list[Envelope]) -> float:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE bare (event_id text, type text, frame_id text, camera text, "
            "occurred_at text, trace_id text, span_id text, schema_version int, data text)"
        )
        rows = [(str(r[0]), *r[1:4], str(r[4]), *r[5:]) for r in rows_of(envs)]
        started = time.perf_counter()
        for i in range(0, len(rows), 1000):
            with conn:
                conn.executemany("INSERT INTO bare VALUES (?,?,?,?,?,?,?,?,?)", rows[i : i + 1000])
        return len(rows) / (time.perf_counter() - started)
    finally:
        conn.close()


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
    raw: Callable[[list[Envelope]], float],
    events: int,
    load: int,
) -> None:
    store = open_store()
    store.migrate()
    try:
        frames = Frames(datetime.now(UTC) - timedelta(days=1))
        ours = throughput(store, frames, events)
        baseline = raw(list(Frames(datetime.now(UTC)).events(events)))
        print(
            f"[{backend}] batched append (1000/batch, projections included): {ours:,.0f} events/s"
        )
        print(
            f"[{backend}] raw baseline, same rows: {baseline:,.0f} rows/s; "
            f"ratio {ours / baseline:.3f}"
        )

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
    args = parser.parse_args()
    if args.backend == "postgres":
        from detektor.adapters.postgres import PostgresEventStore
        from support.postgres import temporary_database

        with temporary_database("detektor_bench") as url:
            run(
                "postgres",
                lambda: PostgresEventStore(url),
                lambda envs: raw_postgres(url, envs),
                args.events,
                args.load,
            )
    else:
        from detektor.adapters.sqlite import SqliteEventStore

        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "events.db")
            run(
                "sqlite",
                lambda: SqliteEventStore(path),
                lambda envs: raw_sqlite(str(Path(tmp) / "bare.db"), envs),
                args.events,
                args.load,
            )


if __name__ == "__main__":
    main()
