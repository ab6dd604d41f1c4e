"""``GET /v1/recordings/gaps`` (and ``/motion``, the same code) of the tracking service over
spans in a real recording index (SQLite and PostgreSQL): overlap with the range in start
order, the last 24 h by default, a camera filter, a 422 naming the field for every bad
parameter, and a 503 while the database is away."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detektor.adapters.stores import open_recording_index
from detektor.domain.fields import format_timestamp
from detektor.domain.recordings import RecordingSpan, SpanKind
from support.postgres import cut_off, reopen, temporary_database
from support.tracking_app import STORES, error_of, store_url, tracking_client
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TOKEN = "a-token-for-gaps"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime.now(UTC).replace(microsecond=0)


def gap(camera: str, hours_ago: float, seconds: float, reason: str = "reconnect") -> RecordingSpan:
    start = NOW - timedelta(hours=hours_ago)
    return RecordingSpan(camera, SpanKind.GAP, start, start + timedelta(seconds=seconds), reason)


# Two days ago, 1 h ago (yard, then porch 1 s later), 10 min ago; and motion, not a gap.
GAPS = [
    gap("yard", 48, 30),
    gap("yard", 1, 2.5, "stalled"),
    gap("porch", 1 - 1 / 3600, 4),
    gap("porch", 1 / 6, 12.25),
]
MOTION = RecordingSpan("yard", SpanKind.MOTION, NOW - timedelta(minutes=5), NOW)


def fill(url: str) -> None:
    index = open_recording_index(url)
    try:
        index.migrate()
        for span in [*GAPS, MOTION]:
            assert index.add_span(span)
    finally:
        index.close()


def client_on(url: str, tmp_path: Path) -> Any:
    return tracking_client(
        url, api_token=TOKEN, data_dir=tmp_path / "data", recordings={"root": tmp_path / "rec"}
    )


@pytest.fixture(params=STORES)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with store_url(request.param, tmp_path) as url:
        fill(url)
        with client_on(url, tmp_path) as c:
            yield c


def gaps(client: TestClient, **params: str) -> list[dict[str, Any]]:
    reply = client.get("/v1/recordings/gaps", params=params, headers=AUTH)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["gaps"]
    return found


def shown(span: RecordingSpan) -> dict[str, Any]:
    return {
        "camera": span.camera,
        "start": format_timestamp(span.start),
        "end": format_timestamp(span.end),
        "reason": span.reason,
        "duration_s": (span.end - span.start).total_seconds(),
    }


def test_gaps_of_the_last_day_in_start_order_by_default(client: TestClient) -> None:
    assert gaps(client) == [shown(g) for g in GAPS[1:]]
    assert gaps(client, camera="porch") == [shown(GAPS[2]), shown(GAPS[3])]
    assert gaps(client, camera="garden") == []
    only_end = format_timestamp(NOW - timedelta(hours=40))  # the day before it
    assert gaps(client, end=only_end) == [shown(GAPS[0])]


def test_motion_is_listed_apart_from_gaps(client: TestClient) -> None:
    reply = client.get("/v1/recordings/motion", params={"camera": "yard"}, headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "motion": [
            {
                "camera": "yard",
                "start": format_timestamp(MOTION.start),
                "end": format_timestamp(MOTION.end),
                "duration_s": 300.0,
            }
        ]
    }
    assert client.get("/v1/recordings/motion", params={"camera": "porch"}, headers=AUTH).json() == {
        "motion": []
    }
    bad = client.get("/v1/recordings/motion", params={"start": "soon"}, headers=AUTH)
    assert bad.status_code == 422
    assert error_of(bad)["field"] == "start"


def test_gaps_overlapping_a_range(client: TestClient) -> None:
    yard = GAPS[1]
    inside = yard.start + timedelta(seconds=1)
    assert gaps(client, start=format_timestamp(inside), end=format_timestamp(inside)) == [
        shown(yard)
    ]
    # A range that ends where a gap starts, or starts where one ends, does not overlap it.
    assert gaps(
        client, start=format_timestamp(NOW - timedelta(days=3)), end=format_timestamp(yard.start)
    ) == [shown(GAPS[0])]
    assert gaps(client, start=format_timestamp(GAPS[3].end), end=format_timestamp(NOW)) == []
    month = {"start": format_timestamp(NOW - timedelta(days=31)), "end": format_timestamp(NOW)}
    assert gaps(client, **month) == [shown(g) for g in GAPS]
    offset = (NOW - timedelta(days=3)).astimezone().isoformat()  # local offset, not Z
    assert len(gaps(client, start=offset)) == 4


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"camera": "Bad Name"}, "camera", "must match"),
        ({"start": "yesterday"}, "start", "RFC 3339"),
        ({"end": "2026-13-01T00:00:00Z"}, "end", "not a valid date"),
        ({"start": "2026-12-01T00:00:00"}, "start", "RFC 3339"),  # naive
        ({"end": "2026-12-01T00:00:00"}, "end", "RFC 3339"),
        ({"start": "2026-12-01T00:00:00Z", "end": "2026-11-30T23:59:59Z"}, "end", "before"),
        ({"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:01Z"}, "end", "31 days"),
        ({"start": "2000-01-01T00:00:00Z"}, "end", "31 days"),  # up to now
        ({"end": "2000-01-01T00:00:00+25:00"}, "end", "offset"),
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(
    client: TestClient, params: dict[str, str], field: str, words: str
) -> None:
    reply = client.get("/v1/recordings/gaps", params=params, headers=AUTH)
    assert reply.status_code == 422, reply.text
    error = error_of(reply)
    assert error["field"] == field
    assert words in error["message"]


def test_the_ends_of_time_are_answered(client: TestClient) -> None:
    for end in ("0001-01-01T00:00:00Z", "0001-01-01T12:00:00Z", "9999-12-31T23:59:59.999999Z"):
        assert gaps(client, end=end) == []
    assert gaps(client, start="0001-01-01T00:00:00Z", end="0001-01-31T00:00:00Z") == []


def test_the_token_is_needed(client: TestClient) -> None:
    assert client.get("/v1/recordings/gaps").status_code == 401


def test_an_unavailable_index_is_a_503_then_recovers(tmp_path: Path) -> None:
    with temporary_database("detektor_gaps") as url:
        fill(url)
        name = url.rsplit("/", 1)[1]
        with client_on(url, tmp_path) as client:
            assert len(gaps(client)) == 3
            cut_off(name)
            reply = client.get("/v1/recordings/gaps", headers=AUTH)
            assert reply.status_code == 503, reply.text
            assert reply.headers["retry-after"] == "5"
            assert error_of(reply)["message"].startswith("PostgreSQL unavailable: ")
            reopen(name)

            def answers() -> bool:
                reply = client.get("/v1/recordings/gaps", headers=AUTH)
                assert reply.status_code in (200, 503), reply.text
                return reply.status_code == 200

            wait_for(answers, 30, "the gaps to be served once PostgreSQL takes connections")
