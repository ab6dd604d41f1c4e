"""What the event-store benchmark writes: its event streams, and the raw baselines.

- ``Frames``: whole lifecycles, six events a frame in a row, so a 1000-event batch holds
  about 167 complete frames and every frame is new to the store (insert-only projections).
- ``Interleaved``: what the running pipeline hands the tracking consumer. Frames move in
  waves of ``wave`` frames through five stages (captured, queued or skipped, processing,
  processed, completed); at each step every wave in flight advances one stage, so the
  stream is "captured for N frames, queued for the N before them, processing for the N
  before those ...". Each frame's events therefore land in different append batches, and
  all but its first update a frame the store already holds. ``skip_share`` of the frames
  are skipped by the motion gate (captured, skipped: done). For ``late_share`` of the
  frames the capture side's two events arrive after the processor's ``frame.processing``
  (the race between two producers): they carry earlier times, so the store re-folds the
  frame. Times follow the pipeline's: 25 ms between frames (4 cameras at 10 fps).

The raw baselines write the same rows into a bare table with the driver alone (psycopg's
COPY, sqlite3's executemany), one transaction per batch: no code of ours is timed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
DETECTIONS = [{"label": "person", "score": 0.9, "box": [1, 2, 30, 40]}]
LIFE = [
    (EventType.CAPTURED, {"width": 640, "height": 480, "pts": 0, "source": "synthetic://"}),
    (EventType.QUEUED, {"stream": "frames"}),
    (EventType.PROCESSING, {"processor": "detector", "batch_id": "b"}),
    (EventType.PROCESSED, {"processor": "detector", "duration_ms": 4.2, "detections": DETECTIONS}),
    (EventType.PUBLISHED, {"target": "mqtt"}),
    (EventType.COMPLETED, {}),
]


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


STAGES = (EventType.CAPTURED, EventType.QUEUED, EventType.PROCESSING, EventType.PROCESSED)
STAGES += (EventType.COMPLETED,)
STAGE_DATA = {kind: data for kind, data in LIFE}
FRAME_GAP = timedelta(milliseconds=25)


class Interleaved:
    """Stage-by-stage events of many frames in flight; see the module's docstring."""

    def __init__(
        self,
        start: datetime,
        wave: int = 100,
        skip_share: float = 0.2,
        late_share: float = 0.02,
        cameras: int = 4,
        seed: int = 11,
    ) -> None:
        self.start, self.wave = start, wave
        self.skip_share, self.late_share = skip_share, late_share
        self.cameras = [f"cam-{i}" for i in range(cameras)]
        self.rng = random.Random(seed)
        self.late = 0  # frames whose capture events arrive after their processing

    def events(self, count: int) -> Iterator[Envelope]:
        waves: list[list[tuple[FrameId, datetime, bool, bool]]] = []
        made, step = 0, 0
        while made < count:
            waves.append(self._wave(step))
            for stage in range(len(STAGES)):  # every wave in flight advances one stage
                if 0 <= step - stage < len(waves):
                    for env in self._stage(waves[step - stage], stage):
                        yield env
                        made += 1
                        if made == count:
                            return
            step += 1

    def _wave(self, number: int) -> list[tuple[FrameId, datetime, bool, bool]]:
        frames = []
        for i in range(self.wave):
            seq = number * self.wave + i + 1
            at = self.start + seq * FRAME_GAP
            camera = self.cameras[seq % len(self.cameras)]
            skipped = self.rng.random() < self.skip_share
            late = not skipped and self.rng.random() < self.late_share
            self.late += late
            frames.append(
                (FrameId.make(camera, int(at.timestamp() * 1000), seq), at, skipped, late)
            )
        return frames

    def _stage(
        self, frames: list[tuple[FrameId, datetime, bool, bool]], stage: int
    ) -> Iterator[Envelope]:
        # A late frame's first two events arrive right after its stage 2 (processing).
        for fid, at, skipped, late in frames:
            if (stage < 2 and late) or (stage >= 2 and skipped):
                continue
            yield self._event(fid, at, stage, skipped)
            if stage == 2 and late:
                yield self._event(fid, at, 0, skipped)
                yield self._event(fid, at, 1, skipped)

    def _event(self, fid: FrameId, at: datetime, stage: int, skipped: bool) -> Envelope:
        kind = EventType.SKIPPED if stage == 1 and skipped else STAGES[stage]
        data = {"reason": "no_motion"} if kind is EventType.SKIPPED else STAGE_DATA[kind]
        # Stage k happens k waves after capture, so arrival follows time (late frames aside).
        occurred = at + stage * self.wave * FRAME_GAP
        return Envelope.new(kind, fid, data, occurred_at=occurred, trace_id=TRACE)


def batches(gen: Iterator[Envelope], size: int) -> Iterator[list[Envelope]]:
    batch: list[Envelope] = []
    for env in gen:
        batch.append(env)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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


BARE_COLUMNS = (
    "event_id, type, frame_id, camera, occurred_at, trace_id, span_id, schema_version, data"
)


class RawPostgres:
    """A bare table written by psycopg's COPY, one transaction per batch: no code of ours."""

    def __init__(self, url: str, table: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.table = table
        self.conn.execute(
            f"CREATE TABLE {table} (event_id uuid, type text, frame_id text, camera text, "
            "occurred_at timestamptz, trace_id text, span_id text, schema_version smallint, "
            "data jsonb)"
        )
        self.conn.commit()

    def write(self, rows: list[tuple[object, ...]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {self.table} ({BARE_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class RawSqlite:
    """A bare table written by sqlite3's executemany, one transaction per batch."""

    def __init__(self, path: str, table: str) -> None:
        import sqlite3

        self.conn = sqlite3.connect(path)
        self.table = table
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            f"CREATE TABLE {table} (event_id text, type text, frame_id text, camera text, "
            "occurred_at text, trace_id text, span_id text, schema_version int, data text)"
        )

    def write(self, rows: list[tuple[object, ...]]) -> None:
        with self.conn:
            self.conn.executemany(
                f"INSERT INTO {self.table} VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608 (our own name)
                rows,
            )

    def close(self) -> None:
        self.conn.close()


Raw = RawPostgres | RawSqlite


def raw_rows(raw: Raw, envs: list[Envelope]) -> list[tuple[object, ...]]:
    rows = rows_of(envs)
    if isinstance(raw, RawSqlite):
        return [(str(r[0]), *r[1:4], str(r[4]), *r[5:]) for r in rows]
    return rows
