"""No 500 from input: each input that used to crash the tracking API (issue 11, "Why" 5) gets a
4xx with `{"error": {...}}`, or a per-event `rejected` in a 200 (ADR 6), on the real SQLite
and PostgreSQL stores."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.tracking_app import (
    RECENT_MS,
    STORES,
    captured,
    error_of,
    store_url,
    tracking_client,
)

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module", params=STORES)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with (
        store_url(request.param, tmp_path_factory.mktemp("store")) as url,
        tracking_client(url) as c,
    ):
        yield c


def post_raw(client: TestClient, body: bytes) -> Any:
    return client.post("/v1/events", content=body, headers=JSON)


def test_a_5000_digit_integer_is_a_400_naming_the_body(client: TestClient) -> None:
    event = json.dumps(captured(1)).encode()
    body = b'{"events": [' + event[:-1] + b', "n": ' + b"9" * 5000 + b"}]}"
    reply = post_raw(client, body)
    assert reply.status_code == 400
    error = error_of(reply)
    assert error["field"] == "body"
    assert "4300 digits" in error["message"]


def test_nesting_past_the_recursion_limit_is_a_400_naming_the_body(client: TestClient) -> None:
    reply = post_raw(client, b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert reply.status_code == 400
    error = error_of(reply)
    assert error["field"] == "body"
    assert "nests arrays or objects too deeply" in error["message"]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(client: TestClient, constant: bytes) -> None:
    reply = post_raw(client, b'{"events": [{"data": {"x": ' + constant + b"}}]}")
    assert reply.status_code == 400
    assert error_of(reply)["field"] == "body"


def test_a_lone_surrogate_is_rejected_and_never_stored(client: TestClient) -> None:
    before = client.get("/v1/events", params={"limit": 1000}).json()["next"]
    poison = captured(11, note="\ud800")
    nested = captured(12, deep={"list": ["fine", "bad\udfff"]})
    good = captured(13)
    # json.dumps writes the lone surrogates as \ud800 escapes, as any client would.
    reply = post_raw(client, json.dumps({"events": [poison, nested, good]}).encode())
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "appended"]
    assert [r.get("field") for r in results[:2]] == ["data.note", "data.deep.list[1]"]
    assert "lone surrogate" in results[0]["reason"]
    # Every later read answers 200 (a stored surrogate made each of them a 500).
    log = client.get("/v1/events", params={"after": before})
    assert log.status_code == 200
    assert [e["event_id"] for e in log.json()["events"]] == [good["event_id"]]
    assert client.get(f"/v1/frames/{good['frame_id']}").status_code == 200
    assert client.get(f"/v1/frames/{poison['frame_id']}").status_code == 404
    assert client.get("/v1/frames", params={"camera": "cam"}).status_code == 200


def test_a_rejected_event_id_holding_a_surrogate_is_echoed_escaped(client: TestClient) -> None:
    event = captured(21, note="\ud800")
    event["event_id"] = "id-\ud800"
    reply = post_raw(client, json.dumps({"events": [event]}).encode())
    assert reply.status_code == 200
    [result] = reply.json()["results"]
    assert result["status"] == "rejected"
    assert result["event_id"] == "id-\\ud800"


def test_out_of_range_numbers_in_data_are_rejected_naming_the_path(client: TestClient) -> None:
    events = [
        captured(31, n=2**63),
        captured(32, f=1e300),
        captured(33, width=2**64),
        captured(34, n=2**63 - 1, f=2.0**53),
    ]
    reply = client.post("/v1/events", json={"events": events})
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("rejected", "data.n"),
        ("rejected", "data.f"),
        ("rejected", "data.width"),
        ("appended", None),
    ]
    frame = client.get(f"/v1/frames/{events[3]['frame_id']}").json()
    assert frame["events"][0]["data"]["n"] == 2**63 - 1


def cursor_of(*fields: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(fields)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("garbage", "cam:1764252187000:000001"),
        cursor_of("0000-01-01T00:00:00Z", "cam:1764252187000:000001"),
        cursor_of("2025-11-27T14:03:07.000000Z", "not a frame"),
        cursor_of(1, 2),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
        base64.urlsafe_b64encode(b"[" + b"9" * 5000 + b", 1]").decode(),
        "%%%",
    ],
)
def test_a_bad_cursor_is_a_422_naming_the_cursor(client: TestClient, cursor: str) -> None:
    client.post("/v1/events", json={"events": [captured(41)]})
    reply = client.get("/v1/frames", params={"cursor": cursor})
    assert reply.status_code == 422
    error = error_of(reply)
    assert error["field"] == "cursor"
    assert "next_cursor of the previous page" in error["message"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/events", {"after": str(2**63)}, "after"),
        ("/v1/events", {"after": "-1"}, "after"),
        ("/v1/events", {"after": "9" * 5000}, "after"),
        ("/v1/events", {"limit": "-1"}, "limit"),
        ("/v1/events", {"limit": "0"}, "limit"),
        ("/v1/events", {"limit": "1001"}, "limit"),
        ("/v1/events", {"limit": str(2**64)}, "limit"),
        ("/v1/frames", {"limit": "9" * 5000}, "limit"),
        ("/v1/frames", {"since": "0000-01-01T00:00:00Z"}, "since"),
        ("/v1/frames", {"since": "99999-01-01T00:00:00Z"}, "since"),
        ("/v1/frames", {"until": "0001-01-01T00:00:00+01:00"}, "until"),
        ("/v1/frames", {"until": "9999-12-31T23:59:59-01:00"}, "until"),
        ("/v1/frames", {"since": "2025-11-27T14:03:07\x00Z"}, "since"),
        ("/v1/frames?camera=%ED%A0%80", None, "camera"),  # a surrogate's bytes, not UTF-8
        ("/v1/frames?cursor=%ED%A0%80%00", None, "cursor"),
        ("/v1/frames", {"state": "\x00"}, "state"),
    ],
)
def test_out_of_range_query_values_are_a_422_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, str] | None, field: str
) -> None:
    reply = client.get(path, params=params)
    assert reply.status_code == 422
    assert error_of(reply)["field"] == field


def test_the_largest_position_reads_an_empty_page(client: TestClient) -> None:
    reply = client.get("/v1/events", params={"after": str(2**63 - 1)})
    assert reply.status_code == 200
    assert reply.json() == {"events": [], "next": 2**63 - 1}


def sighting(seq: int, **data: Any) -> dict[str, Any]:
    """A valid object.started envelope for the frame `captured(seq)` names."""
    frame = captured(seq)
    return {
        **frame,
        "event_id": str(uuid.uuid4()),
        "type": "object.started",
        "data": {
            "object_id": f"cam:{RECENT_MS}:1",
            "track_id": 1,
            "label": "person",
            "state": "active",
            "box": [10, 20, 110, 220],
            "score": 0.9,
            "top_score": 0.9,
            "median_score": 0.9,
            "first_seen": frame["occurred_at"],
            "last_seen": frame["occurred_at"],
            "zones": [],
            "best": None,
            "changes": [],
            **data,
        },
    }


def test_object_events_are_stored_and_malformed_ones_rejected_not_500(client: TestClient) -> None:
    frame = captured(51)
    events = [
        frame,
        sighting(51),
        sighting(51, box=[110, 20, 10, 220]),
        sighting(51, score="high"),
        sighting(51, object_id="elsewhere:1:1"),
        {**sighting(51), "data": None},
    ]
    reply = client.post("/v1/events", json={"events": events})
    assert reply.status_code == 200, reply.text
    assert [(r["status"], r.get("field")) for r in reply.json()["results"]] == [
        ("appended", None),
        ("appended", None),
        ("rejected", "data.box"),
        ("rejected", "data.score"),
        ("rejected", "data.object_id"),
        ("rejected", "data.best"),  # no data at all: the first field read is named
    ]
    view = client.get(f"/v1/frames/{frame['frame_id']}").json()
    assert (view["state"], view["anomalies"], len(view["events"])) == ("captured", [], 1)
    assert [(o["object_id"], o["type"], o["box"]) for o in view["objects"]] == [
        (f"cam:{RECENT_MS}:1", "object.started", [10.0, 20.0, 110.0, 220.0])
    ]
    # Counted as one captured frame, never as a frame of its own (an orphan).
    accounting = client.get("/v1/cameras/cam/accounting").json()
    frames = client.get("/v1/frames?camera=cam&limit=1000").json()["frames"]
    assert (accounting["captured"], accounting["orphans"]) == (len(frames), 0)
    # A body that is not a batch of envelopes is still the one 4xx.
    assert client.post("/v1/events", json={"events": sighting(52)}).status_code == 422
