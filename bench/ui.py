"""Web UI render times at volume (issue 15): each page rendered server-side with 1 M events
and 10 k objects stored, against the JSON API call that reads the same data, both in the
same process through the same app (SQLite store, ASGI in process, no network).

    .venv/bin/python bench/ui.py [--events 1000000] [--objects 10000] [--runs 30]

The store is filled with four cameras' frames over the last 20 hours (six in ten skipped for
no motion: captured + skipped; the rest captured, queued, processing, processed with one
detection, completed) and each object's started, entered-zone and ended events. Prints p50
and p95 per page in ms and the ratio page/API; the target is each page ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor.adapters.stores import open_event_store
from detektor.domain.events import Envelope
from detektor.services.tracking.service import build
from detektor.settings import Settings
from support.ui_scene import person_frame, person_life, skipped_frame

CAMERAS = ("front-door", "drive", "garden", "porch")
SPAN = timedelta(hours=20)
BATCH = 5000
LINK_SECRET = "a-bench-link-secret-long-enough-to-be-accepted"


def scene(events: int, objects: int, now: datetime) -> Iterator[list[Envelope]]:
    """Batches of envelopes: `objects` object lives, then frames up to `events` in all."""
    start = now - SPAN
    batch: list[Envelope] = []
    made = 0
    step = SPAN / max(objects, 1)
    for i in range(objects):
        camera = CAMERAS[i % len(CAMERAS)]
        _, lives = person_life(camera, start + step * i, track_id=i + 1)
        batch += [Envelope.from_dict(e) for e in lives]
        made += len(lives)
    frames = (events - made) * 10 // 32  # 3.2 events a frame on average
    gap = SPAN / max(frames // len(CAMERAS), 1)
    seq = 0
    while made < events:
        camera = CAMERAS[seq % len(CAMERAS)]
        at = start + gap * (seq // len(CAMERAS))
        seq += 1
        make = skipped_frame if seq % 10 < 6 else person_frame
        _, lifecycle = make(camera, at, seq)
        batch += [Envelope.from_dict(e) for e in lifecycle[: events - made]]
        made += len(lifecycle)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load(url: str, events: int, objects: int, now: datetime) -> float:
    store = open_event_store(url)
    started = time.perf_counter()
    try:
        store.migrate()
        done = 0
        for batch in scene(events, objects, now):
            store.append(batch)
            done += len(batch)
            if done % 100_000 < BATCH:
                print(f"  loaded {done:,} events", file=sys.stderr)
    finally:
        store.close()
    return time.perf_counter() - started


def timed(client: TestClient, path: str, runs: int) -> list[float]:
    client.get(path)  # warm: templates compiled, caches filled
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        reply = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
    return samples


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'events.db'}"
        took = load(url, args.events, args.objects, now)
        print(f"loaded {args.events:,} events ({args.objects:,} objects) in {took:.0f} s")
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp) / "data",
            tracking={"consume": False},
            link_secret=LINK_SECRET,
        )
        with TestClient(build(settings)) as client:
            cam = CAMERAS[0]
            newest = client.get("/v1/objects", params={"limit": 1}).json()["objects"][0]
            frame = client.get("/v1/frames", params={"camera": cam, "limit": 1}).json()
            frame_id = quote(frame["frames"][0]["frame_id"])
            object_id = quote(newest["object_id"])
            today = now.replace(hour=0, minute=0, second=0, microsecond=0)
            after = quote(today.isoformat().replace("+00:00", "Z"))
            since = quote((now - timedelta(minutes=10)).isoformat().replace("+00:00", "Z"))
            pairs = [
                ("cameras /", "/", f"/v1/objects?camera={cam}&after={after}&limit=200"),
                ("review /review", "/review", "/v1/objects?limit=50"),
                ("object /review/{id}", f"/review/{object_id}", f"/v1/objects/{object_id}"),
                ("frame", f"/frames?frame_id={frame_id}", f"/v1/frames/{frame_id}"),
                (
                    "strip /frames?camera (10 min)",
                    f"/frames?camera={cam}",
                    f"/v1/frames?camera={cam}&since={since}&limit=1000",
                ),
                ("system /system", "/system", f"/v1/cameras/{cam}/accounting"),
                ("recordings", f"/recordings?camera={cam}", "/v1/recordings?limit=1000"),
            ]
            print("\n| page | p50 ms | p95 ms | API p50 ms | ratio p50 | ≤ 200 ms |")
            print("|---|---|---|---|---|---|")
            for name, page, api in pairs:
                ui = timed(client, page, args.runs)
                base = timed(client, api, args.runs)
                p95 = pct(ui, 95)
                ratio = statistics.median(ui) / statistics.median(base)
                met = "yes" if p95 <= 200 else "NO"
                print(
                    f"| {name} | {statistics.median(ui):.1f} | {p95:.1f} | "
                    f"{statistics.median(base):.1f} | {ratio:.2f} | {met} |"
                )


if __name__ == "__main__":
    main()
