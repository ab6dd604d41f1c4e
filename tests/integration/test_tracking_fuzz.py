"""Property: no input makes the tracking service answer 5xx, and every 4xx has the kit's error
shape `{"error": {"message": ...}}`.

Hypothesis drives every route (the /v1 API and the kit's /healthz, /readyz, /metrics, /info)
with hostile JSON bodies, raw query strings and path segments (tests/support/nasty.py), on the
real SQLite and PostgreSQL stores, through the in-process ASGI client. 500 examples per route
and store by default; TEST_FUZZ_EXAMPLES=50 for a quick local run. No example database is
written (database=None), so nothing lands in the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from support import nasty
from support.tracking_app import STORES, captured, error_of, store_url, tracking_client

EXAMPLES = int(os.environ.get("TEST_FUZZ_EXAMPLES", "500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = [pytest.mark.integration, pytest.mark.fuzz, pytest.mark.timeout(900)]

KNOWN_FRAMES = [captured(seq)["frame_id"] for seq in range(1, 4)]
STATUSES = {"appended", "duplicate", "rejected"}


@pytest.fixture(scope="module", params=STORES)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with (
        store_url(request.param, tmp_path_factory.mktemp("fuzz")) as url,
        tracking_client(url) as c,
    ):
        seeded = c.post("/v1/events", json={"events": [captured(n) for n in range(1, 4)]})
        assert seeded.status_code == 200
        yield c


@pytest.fixture(scope="module")
def real_cursor(client: TestClient) -> str:
    cursor = client.get("/v1/frames", params={"limit": 1}).json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def check(reply: Any) -> Any:
    """No 5xx; a 4xx carries the error shape; a 2xx JSON answer parses."""
    event(f"status {reply.status_code}")  # --hypothesis-show-statistics lists the mix
    assert reply.status_code < 500, f"{reply.status_code}: {reply.text[:300]}"
    if reply.status_code >= 400:
        error_of(reply)
        return None
    if reply.headers.get("content-type", "").startswith("application/json"):
        return reply.json()
    return None


CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "", "application/x-www-form"])


@FUZZ
@given(body=nasty.bodies, content_type=CONTENT_TYPES)
def test_post_events(client: TestClient, body: bytes, content_type: str) -> None:
    reply = client.post("/v1/events", content=body, headers={"content-type": content_type})
    answer = check(reply)
    if reply.status_code == 200:
        events = json.loads(body)["events"]
        assert len(answer["results"]) == len(events)
        assert {r["status"] for r in answer["results"]} <= STATUSES
        for result in answer["results"]:
            event(f"event {result['status']}")
            if result["status"] == "rejected":
                assert result["reason"]


@FUZZ
@given(query=nasty.query_strings(["after", "limit"]))
def test_get_events(client: TestClient, query: str) -> None:
    answer = check(client.get(f"/v1/events?{query}"))
    if answer is not None:
        assert isinstance(answer["events"], list)


@FUZZ
@given(data=st.data())
def test_get_frames(client: TestClient, real_cursor: str, data: st.DataObject) -> None:
    names = ["camera", "state", "since", "until", "limit", "cursor"]
    query = data.draw(
        st.one_of(
            nasty.query_strings(names),
            nasty.param("cursor", nasty.cursors),
            nasty.param("since", nasty.timestamps),
            st.just(f"cursor={real_cursor}&limit=1"),
        ),
        label="query",
    )
    answer = check(client.get(f"/v1/frames?{query}"))
    if answer is not None:
        assert isinstance(answer["frames"], list)


@FUZZ
@given(segment=nasty.path_segments | st.sampled_from(KNOWN_FRAMES), query=nasty.query_strings([]))
def test_get_frame(client: TestClient, segment: str, query: str) -> None:
    check(client.get(f"/v1/frames/{segment}?{query}"))


@FUZZ
@given(segment=nasty.path_segments | st.just("cam"), query=nasty.query_strings(["camera"]))
def test_get_accounting(client: TestClient, segment: str, query: str) -> None:
    check(client.get(f"/v1/cameras/{segment}/accounting?{query}"))


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/info"])
@FUZZ
@given(query=nasty.query_strings(["verbose", "format"]), accept=nasty.accept_headers)
def test_kit_routes(client: TestClient, path: str, query: str, accept: str) -> None:
    check(client.get(f"{path}?{query}", headers={"accept": accept}))
