"""What only the PostgreSQL EventStore has to show: versioned migrations, several writers and
readers at once on the real server, batched purge, the pool's lifecycle, and the TimescaleDB
decision (the extension itself is not installable here, so its SQL is checked as text).

The shared behaviour is in tests/contract, which runs against this store too.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import PoolClosed

from contract.builders import COMPLETE, T0, E, event, frame, lifecycle
from detektor.adapters.postgres import PostgresEventStore, timescale
from detektor.adapters.postgres.schema import MIGRATIONS, append_lock
from detektor.domain.accounting import FrameSummary, account
from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.domain.frames import FrameId
from detektor.domain.projection import row_from_view
from detektor.domain.timeline import fold
from detektor.ports import AppendResult, AppendStatus, Checkpoint, StoreLocked
from support.postgres import temporary_database

APPENDED, DUPLICATE, CONFLICT = AppendStatus.APPENDED, AppendStatus.DUPLICATE, AppendStatus.CONFLICT
# 0004 waits for TimescaleDB
BASE_VERSIONS = ["0001", "0002", "0003", "0005", "0006", "0007", "0008"]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with temporary_database("detektor_pg_store") as url:
        yield url


@pytest.fixture
def schema() -> str:
    return f"s_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def open_store(database: str, schema: str) -> Iterator[Callable[..., PostgresEventStore]]:
    """Opens stores on one schema (several may share it, as processes would); closes them."""
    opened: list[PostgresEventStore] = []

    def make(**options: Any) -> PostgresEventStore:
        store = PostgresEventStore(database, schema=schema, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., PostgresEventStore]) -> PostgresEventStore:
    opened = open_store(max_size=6)
    opened.migrate()
    return opened


def query(url: str, sql: Any, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def run_threads(workers: list[Callable[[], None]]) -> None:
    """Run the workers at once; re-raise the first error any of them hit."""
    errors: list[BaseException] = []

    def guard(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=guard, args=(work,)) for work in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if errors:
        raise errors[0]


def whole_log(store: PostgresEventStore) -> list[tuple[int, Envelope]]:
    return store.read_log(0, 1_000_000)


# --- migrations ---------------------------------------------------------------------------


def test_the_recording_index_migrates_the_same_schema_and_leaves_retention_alone(
    open_store: Callable[..., PostgresEventStore], database: str, schema: str
) -> None:
    """One migration list for the event store and the recording index: whichever starts
    first migrates the schema whole, and the other finds nothing to do."""
    from detektor.adapters.postgres.recordings import PostgresRecordingIndex

    index = PostgresRecordingIndex(database, schema=schema)
    try:
        assert sorted(index.migrate()) == BASE_VERSIONS
        assert open_store(retention_days=3.0).migrate() == []
        assert index.migrate() == []
    finally:
        index.close()


def test_migrations_are_recorded_and_applied_once(
    store: PostgresEventStore, database: str, schema: str
) -> None:
    recorded = query(
        database,
        psycopg.sql.SQL("SELECT version, name, applied_at FROM {}.schema_migrations").format(
            psycopg.sql.Identifier(schema)
        ),
    )
    assert sorted(v for v, _, _ in recorded) == BASE_VERSIONS
    names = {m.version: m.name for m in MIGRATIONS}
    assert all(name == names[v] and applied is not None for v, name, applied in recorded)
    store.append([event(E.CAPTURED, frame())])
    assert store.migrate() == []
    assert len(whole_log(store)) == 1


def test_timescale_migration_waits_for_the_extension(
    store: PostgresEventStore, database: str, schema: str
) -> None:
    """Plain PostgreSQL here: 0004 is not recorded, so it applies once TimescaleDB appears."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
        )
        support = timescale.probe(conn)
    if support.usable:
        pytest.skip("this server has TimescaleDB; the plain-PostgreSQL path is not in use")
    assert not support.hypertable
    assert store.migrate() == []


def test_two_processes_migrating_at_once_apply_each_migration_once(
    open_store: Callable[..., PostgresEventStore], database: str, schema: str
) -> None:
    stores = [open_store(), open_store()]
    applied: list[list[str]] = []
    barrier = threading.Barrier(2)

    def migrate(store: PostgresEventStore) -> Callable[[], None]:
        def work() -> None:
            barrier.wait()
            applied.append(store.migrate())

        return work

    run_threads([migrate(s) for s in stores])
    assert sorted(v for done in applied for v in done) == BASE_VERSIONS
    assert sorted(len(done) for done in applied) == [0, len(BASE_VERSIONS)]
    (count,) = query(
        database,
        psycopg.sql.SQL("SELECT count(*) FROM {}.schema_migrations").format(
            psycopg.sql.Identifier(schema)
        ),
    )[0]
    assert count == len(BASE_VERSIONS)


def test_a_schema_from_a_newer_build_is_refused(
    store: PostgresEventStore, database: str, schema: str
) -> None:
    query(
        database,
        psycopg.sql.SQL(
            "INSERT INTO {}.schema_migrations (version, name) VALUES ('9999', 'x')"
        ).format(psycopg.sql.Identifier(schema)),
    )
    with pytest.raises(RuntimeError, match=r"9999.*newer"):
        store.migrate()


def test_a_bad_schema_name_or_retention_is_refused(database: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresEventStore(database, schema='x"; DROP TABLE events; --')
    with pytest.raises(ValueError, match="retention_days"):
        PostgresEventStore(database, schema="ok", retention_days=0)


# --- writers at once ----------------------------------------------------------------------


def test_writers_with_expected_versions_never_lose_an_update(store: PostgresEventStore) -> None:
    """Two read-then-decide writers increment the same frames, retrying what conflicted."""
    frames = [frame(seq, camera="occ") for seq in range(3)]
    store.append([event(E.CAPTURED, f) for f in frames])
    increments = 25
    conflicts = 0
    appended: set[uuid.UUID] = set()
    refused: set[uuid.UUID] = set()
    lock = threading.Lock()

    def writer() -> None:
        nonlocal conflicts
        for i in range(increments):
            pending = list(frames)
            while pending:
                seen = {f: store.version(f) for f in pending}
                batch = [event(E.PROCESSING, f, 1 + i) for f in pending]
                results = store.append(batch, expected_versions=seen)
                retry = []
                for f, r in zip(pending, results, strict=True):
                    if r.status is APPENDED:
                        with lock:
                            appended.add(r.event_id)
                        continue
                    assert r.status is CONFLICT
                    assert r.position is None
                    assert f"frame {f}: expected version {seen[f]}, found" in (r.reason or "")
                    retry.append(f)
                    with lock:
                        refused.add(r.event_id)
                        conflicts += 1
                pending = retry

    run_threads([writer, writer])
    rows = store.frame_rows(None, 10)
    for f, row in zip(frames, rows, strict=True):
        assert store.version(f) == 1 + 2 * increments  # no increment lost
        view = store.frame(f)
        assert view is not None
        assert len(view.events) == store.version(f)
        assert row == row_from_view(view)
    stored = {e.event_id for _, e in whole_log(store)}
    assert len(whole_log(store)) == len(stored) == len(frames) * (1 + 2 * increments)
    assert appended <= stored
    assert not refused & stored  # every CONFLICT was reported, and none was stored
    assert len(refused) == conflicts


def test_contested_frames_go_to_exactly_one_writer_per_round(store: PostgresEventStore) -> None:
    """Both writers read the same versions, then append at once to overlapping frames."""
    frames = [frame(seq, camera="race") for seq in range(4)]
    store.append([event(E.CAPTURED, f) for f in frames])
    own = {"a": frames[0:3], "b": frames[1:4]}  # frames 1 and 2 are contested
    rounds = 15
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[dict[FrameId, AppendResult]]] = {"a": [], "b": []}

    def writer(name: str) -> Callable[[], None]:
        def work() -> None:
            for r in range(rounds):
                seen = {f: store.version(f) for f in own[name]}
                barrier.wait()
                batch = [event(E.PROCESSING, f, 1 + r) for f in own[name]]
                results = store.append(batch, expected_versions=seen)
                outcomes[name].append(
                    {e.frame_id: res for e, res in zip(batch, results, strict=True)}
                )
                barrier.wait()

        return work

    run_threads([writer("a"), writer("b")])
    wins: Counter[FrameId] = Counter()
    for r in range(rounds):
        a, b = outcomes["a"][r], outcomes["b"][r]
        assert a[frames[0]].status is APPENDED  # uncontested frames always go in
        assert b[frames[3]].status is APPENDED
        for f in frames[1:3]:
            assert {a[f].status, b[f].status} == {APPENDED, CONFLICT}
        winners = {name for name, got in (("a", a), ("b", b)) if got[frames[1]].status is APPENDED}
        assert winners == {
            n for n, got in (("a", a), ("b", b)) if got[frames[2]].status is APPENDED
        }
        wins.update(f for got in (a, b) for f, res in got.items() if res.status is APPENDED)
    for f in frames:
        assert store.version(f) == 1 + wins[f] == 1 + rounds


def test_observers_store_every_event_once_and_rows_equal_a_replay(
    store: PostgresEventStore,
) -> None:
    """Two producers with no expected version send overlapping, shuffled batches of the same
    frames' events, some of them late (earlier occurred_at than what the frame has seen)."""
    frames = [frame(seq, camera=f"obs-{seq % 2}", at_ms=seq) for seq in range(40)]
    everything = [e for f in frames for e in lifecycle(f, COMPLETE, step_ms=3)]
    rng = random.Random(7)
    shares = {name: rng.sample(everything, k=int(len(everything) * 0.7)) for name in "ab"}
    missing = set(everything) - set(shares["a"]) - set(shares["b"])
    shares["a"].extend(missing)
    results: dict[str, list[tuple[Envelope, AppendResult]]] = {"a": [], "b": []}

    def observer(name: str) -> Callable[[], None]:
        def work() -> None:
            pending = shares[name]
            while pending:
                # Both the small (INSERT) and the large (COPY) path, and one-event appends.
                size = rng.choice([1, 5, 30, 90, 150])
                batch, pending = pending[:size], pending[size:]
                results[name].extend(zip(batch, store.append(batch), strict=True))

        return work

    run_threads([observer("a"), observer("b")])
    log = whole_log(store)
    stored_ids = [e.event_id for _, e in log]
    assert len(stored_ids) == len(set(stored_ids)) == len(everything)
    assert set(stored_ids) == {e.event_id for e in everything}
    position_of = {e.event_id: p for p, e in log}
    appended: Counter[uuid.UUID] = Counter()
    for envelope, result in results["a"] + results["b"]:
        assert result.status in (APPENDED, DUPLICATE)
        assert result.position == position_of[envelope.event_id]
        appended[envelope.event_id] += result.status is APPENDED
    assert set(appended.values()) == {1}  # each event appended by exactly one producer

    rows = store.frame_rows(None, 1000)
    assert len(rows) == len(frames)
    for row in rows:
        events = [(p, e) for p, e in log if e.frame_id == row.frame_id]
        assert row == row_from_view(fold(events))
        assert row.anomalies == 0  # arriving out of order is not an anomaly
    now = T0 + timedelta(hours=1)
    for camera in store.cameras():
        summaries = [
            FrameSummary(r.state, r.reason, r.has_captured, r.last_event_at)
            for r in rows
            if r.camera == camera
        ]
        assert store.accounting(camera, now, timedelta(minutes=1)) == account(
            camera, summaries, now, timedelta(minutes=1)
        )


def test_a_catch_up_reader_never_misses_an_event(store: PostgresEventStore) -> None:
    """A reader follows the log by position while writers append batches of every size."""
    done = threading.Event()
    seen: list[int] = []

    def writer(worker: int) -> Callable[[], None]:
        def work() -> None:
            for b in range(12):
                size = (1, 7, 70, 200)[b % 4]
                fs = [frame(b * 1000 + i, camera=f"w-{worker}") for i in range(size)]
                store.append([event(E.CAPTURED, f) for f in fs])

        return work

    def reader() -> None:
        after = 0
        while True:
            finished = done.is_set()  # one more read after the writers stopped
            page = store.read_log(after, 50)
            seen.extend(p for p, _ in page)
            if page:
                after = page[-1][0]
            elif finished:
                return

    follower = threading.Thread(target=reader)
    follower.start()
    try:
        run_threads([writer(w) for w in range(3)])
    finally:
        done.set()
        follower.join(timeout=60)
    assert seen == sorted(set(seen))
    assert seen == [p for p, _ in whole_log(store)]
    assert len(seen) == 3 * 3 * (1 + 7 + 70 + 200)


def test_an_append_waits_for_the_one_in_flight(
    store: PostgresEventStore, database: str, schema: str
) -> None:
    """The append lock: while another transaction holds it, an append draws no position."""
    store.append([event(E.CAPTURED, frame(1))])
    with psycopg.connect(database) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (append_lock(schema),))
        worker = threading.Thread(target=store.append, args=([event(E.CAPTURED, frame(2))],))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive()
        assert len(whole_log(store)) == 1
        holder.commit()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert [p for p, _ in whole_log(store)][-1] > 1


# --- atomicity ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 100])  # the INSERT path and the COPY path
def test_a_batch_failing_after_its_events_were_sent_stores_nothing(
    store: PostgresEventStore, database: str, size: int
) -> None:
    store.append([event(E.CAPTURED, frame(0))], checkpoint=Checkpoint("bus", "1-0"))
    batch = [event(E.CAPTURED, frame(i + 1)) for i in range(size)]
    # PostgreSQL text cannot hold NUL: the checkpoint fails after the events were written.
    with pytest.raises(psycopg.DataError):
        store.append(batch, checkpoint=Checkpoint("bus", "2-\x00"))
    assert len(whole_log(store)) == 1
    assert store.checkpoint("bus") == "1-0"
    assert [r.frame_id for r in store.frame_rows(None, 10)] == [frame(0)]
    idle_in_transaction = query(
        database,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%%'",
    )
    assert idle_in_transaction == [(0,)]
    assert {r.status for r in store.append(batch)} == {APPENDED}


def test_data_postgresql_cannot_store_is_refused_as_invalid(store: PostgresEventStore) -> None:
    with pytest.raises(ValidationError, match="NUL"):  # refused before it reaches a store
        event(E.FAILED, frame(), data={"stage": "detector", "error": "bad\x00byte"})
    spelled_out = event(E.FAILED, frame(), data={"stage": "detector", "error": "\\u0000"})
    assert store.append([spelled_out])[0].status is APPENDED
    view = store.frame(frame())
    assert view is not None
    assert view.envelopes == [spelled_out]


# --- retention ----------------------------------------------------------------------------


def test_purge_deletes_whole_frames_in_batches_of_the_given_size(
    store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [frame(seq, camera="old") for seq in range(5)]
    for f in old:
        store.append(lifecycle(f))  # 6 events each, finished
    store.append([event(E.CAPTURED, frame(9, camera="new", at_ms=3 * 86_400_000))])
    statements: Counter[str] = Counter()
    execute = psycopg.Connection.execute

    def counting(self: psycopg.Connection[Any], sql: Any, *args: Any, **kw: Any) -> Any:
        # Events go in a WITH that also names the objects they reported.
        found = re.search(r"DELETE FROM (\w+)", sql) if isinstance(sql, str) else None
        if found is not None:
            statements[found[1]] += 1
        return execute(self, sql, *args, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", counting)
    assert store.purge(T0 + timedelta(days=1), batch_size=2) == 30
    # One transaction per batch of 2, 2 and 1 frames, each with the frames' events.
    assert statements["frames"] == 3
    assert statements["events"] == 3
    assert [e.frame_id for _, e in whole_log(store)] == [
        frame(9, camera="new", at_ms=3 * 86_400_000)
    ]
    assert store.cameras() == ["new"]
    assert store.accounting("old", T0 + timedelta(days=4), timedelta(minutes=1)).captured == 0


def test_a_service_lock_lost_with_its_connection_is_taken_again(
    database: str, open_store: Callable[..., PostgresEventStore]
) -> None:
    service, replay_side = open_store(), open_store()
    service.migrate()
    service.hold_service_lock()
    # A bigint advisory key shows in pg_locks as its high and low 32 bits, unsigned.
    key = service._service_lock.key & 0xFFFF_FFFF_FFFF_FFFF
    holders = (
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
        "AND classid::bigint = %s AND objid::bigint = %s"
    )
    parts = (key >> 32, key & 0xFFFF_FFFF)
    [(pid,)] = query(database, holders, parts)
    query(database, "SELECT pg_terminate_backend(%s)", (pid,))  # as an admin or a failover would
    for _ in range(50):
        if not query(database, holders, parts):
            break
        time.sleep(0.1)
    with replay_side.maintenance():
        pass  # the lock went with the connection...
    service.hold_service_lock()  # ...and the service's next call takes it again
    with pytest.raises(StoreLocked, match="tracking service is running"), replay_side.maintenance():
        pytest.fail("maintenance got the store while a service held it")


# --- the pool -----------------------------------------------------------------------------


def test_close_returns_every_connection() -> None:
    with temporary_database("detektor_pg_pool") as url:
        store = PostgresEventStore(url, schema="pool", min_size=2, max_size=3)
        try:
            store.migrate()
            store.append([event(E.CAPTURED, frame())])
            assert backends(url) >= 1
        finally:
            store.close()
        deadline = time.monotonic() + 5
        while backends(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backends(url) == 0
        with pytest.raises(PoolClosed):
            store.version(frame())


def backends(url: str) -> int:
    (count,) = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()",
    )[0]
    return int(count)


# --- TimescaleDB (SQL only: the extension cannot be installed here) -------------------------


@pytest.mark.parametrize(
    ("available", "preloaded", "installed_in", "usable"),
    [
        (False, False, None, False),
        (True, False, None, False),  # CREATE EXTENSION would fail without preloading
        (True, True, None, True),
        (True, True, "public", True),
    ],
)
def test_timescale_is_used_only_when_the_server_can_load_it(
    available: bool, preloaded: bool, installed_in: str | None, usable: bool
) -> None:
    assert timescale.Support(available, preloaded, installed_in, False).usable is usable


def test_timescale_conversion_keeps_unique_keys_on_the_partitioning_column() -> None:
    statements = timescale.conversion_statements("public", 7)
    text = "\n".join(statements)
    assert "PRIMARY KEY (position, occurred_at)" in text
    assert "UNIQUE (event_id, occurred_at)" in text
    assert text.index("DROP CONSTRAINT events_pkey") < text.index("create_hypertable")
    assert "\"public\".create_hypertable('events', 'occurred_at'" in text
    assert "timescaledb.compress_segmentby = 'camera'" in text
    assert "compress_after => INTERVAL '86400 seconds'" in text
    assert statements[-1].endswith("drop_after => INTERVAL '604800 seconds')")
    assert "remove_retention_policy('events', if_exists => true)" in statements[-2]


def test_timescale_intervals_follow_retention_days_and_quote_the_schema() -> None:
    statements = timescale.conversion_statements('odd"name', 0.5)
    text = "\n".join(statements)
    assert '"odd""name".create_hypertable' in text
    assert "compress_after => INTERVAL '21600 seconds'" in text  # half the retention
    assert "drop_after => INTERVAL '43200 seconds'" in text
    assert timescale.retention_statements("ts", 30)[-1].endswith("INTERVAL '2592000 seconds')")


def test_a_sql_ascii_database_is_refused_at_start_with_the_fix() -> None:
    """initdb without a UTF-8 locale makes SQL_ASCII databases (the stack test's first
    PostgreSQL container did): there psycopg reads text as bytes and jsonb refuses non-ASCII
    escapes, so every event was dead-lettered ("frame id must be a string, got bytes").
    The store refuses such a database when it starts, and says how to make a right one."""
    with (
        temporary_database("detektor_ascii", encoding="SQL_ASCII") as url,
        PostgresEventStore(url, schema="ascii") as store,
        pytest.raises(RuntimeError, match=r"uses the SQL_ASCII encoding; Detektor needs UTF8"),
    ):
        store.migrate()
