"""The object API (`GET /v1/objects`, `GET /v1/objects/{id}`) on the real SQLite and
PostgreSQL stores: the list with each filter, pages, snapshot links, one object with its
events, and every bad input answered with a 4xx `{"error": {...}}`, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from detektor.domain.fields import format_timestamp
from detektor.kit.signing import LinkSigner
from support.tracking_app import (
    RECENT_MS,
    STORES,
    TEST_LINK_SECRET,
    error_of,
    store_url,
    tracking_client,
)

BASE = datetime.fromtimestamp(RECENT_MS / 1000, UTC)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def fixed(text: str) -> str:
    """The API's fixed-width form of an RFC 3339 time."""
    return format_timestamp(datetime.fromisoformat(text))


def life(
    track_id: int,
    start_s: int,
    *,
    camera: str = "front-door",
    label: str = "person",
    zones: tuple[tuple[str, ...], ...] = (("porch",), ("drive",)),
    ended: bool = True,
    stationary: bool = False,
    best: bool = True,
) -> list[dict[str, Any]]:
    """One object's envelopes, in time order: a sighting 100 ms apart per zone set, then ended."""
    first = BASE + timedelta(seconds=start_s)
    object_id = f"{camera}:{int(first.timestamp() * 1000)}:{track_id}"
    envelopes: list[dict[str, Any]] = []
    for i, now_in in enumerate(zones):
        seen = first + timedelta(milliseconds=100 * i)
        frame_id = f"{camera}:{int(seen.timestamp() * 1000)}:{i + 1:06d}"
        box = [10.0, 20.0, 110.0 + i, 220.0]
        data = {
            "object_id": object_id,
            "track_id": track_id,
            "label": label,
            "state": "stationary" if stationary and i else "active",
            "box": box,
            "score": 0.8,
            "top_score": 0.8,
            "median_score": 0.8,
            "first_seen": stamp(first),
            "last_seen": stamp(seen),
            "zones": list(now_in),
            "best": {"frame_id": frame_id, "box": box, "score": 0.8, "cut": False}
            if best
            else None,
            "changes": [],
        }
        kind = "object.started" if i == 0 else "object.updated"
        envelopes.append(envelope(kind, frame_id, seen + timedelta(milliseconds=2), data))
    if ended:
        last = envelopes[-1]
        data = {**last["data"], "state": "ended"}
        at = datetime.fromisoformat(last["occurred_at"]) + timedelta(seconds=1)
        envelopes.append(envelope("object.ended", last["frame_id"], at, data))
    return envelopes


def envelope(kind: str, frame_id: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "frame_id": frame_id,
        "camera": frame_id.split(":")[0],
        "occurred_at": stamp(at),
        "schema_version": 1,
        "data": data,
    }


LIVES = {
    "a": life(1, 0),  # ended; entered the porch, then the drive
    "b": life(2, 1, label="car", zones=(("drive",),), ended=False),
    "c": life(3, 2, camera="yard", zones=(("lawn",), ("lawn",)), stationary=True, ended=False),
    "d": life(4, 3, camera="yard", label="dog", zones=((),), best=False),
    "e": life(5, 4, zones=(("porch",),), ended=False),
}
IDS = {name: one[0]["data"]["object_id"] for name, one in LIVES.items()}
NAMES = {object_id: name for name, object_id in IDS.items()}


@pytest.fixture(scope="module", params=STORES)
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with (
        store_url(request.param, tmp_path_factory.mktemp("store")) as url,
        tracking_client(url) as c,
    ):
        events = [e for one in LIVES.values() for e in one]
        reply = c.post("/v1/events", json={"events": events[::-1]})  # newest first: late
        assert reply.status_code == 200
        assert {r["status"] for r in reply.json()["results"]} == {"appended"}
        yield c


def names(client: TestClient, **params: Any) -> str:
    reply = client.get("/v1/objects", params=params)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["next_cursor"] is None
    return "".join(NAMES[o["object_id"]] for o in body["objects"])


def test_the_list_shows_each_object_newest_first_with_its_snapshot_link(
    client: TestClient,
) -> None:
    body = client.get("/v1/objects").json()
    assert [NAMES[o["object_id"]] for o in body["objects"]] == list("edcba")
    a = body["objects"][-1]
    assert a == {
        "object_id": IDS["a"],
        "camera": "front-door",
        "label": "person",
        "state": "ended",
        "started_at": fixed(LIVES["a"][0]["data"]["first_seen"]),
        "last_seen": fixed(LIVES["a"][1]["data"]["last_seen"]),
        "ended_at": fixed(LIVES["a"][2]["occurred_at"]),
        "top_score": 0.8,
        "median_score": 0.8,
        "zones": ["porch", "drive"],
        "current_zones": [],
        "best_frame_id": LIVES["a"][1]["data"]["best"]["frame_id"],  # the larger box
        "events": 3,
        "snapshot_url": a["snapshot_url"],
    }
    # Signed by the tracking service's key: it opens without the token, for this picture only.
    path, _, query = a["snapshot_url"].partition("?")
    assert path == f"/v1/objects/{IDS['a']}/snapshot.jpg"
    signer = LinkSigner(TEST_LINK_SECRET.encode())
    assert signer.verify(path, dict(parse_qsl(query))) is None
    d = body["objects"][1]
    assert (d["best_frame_id"], d["snapshot_url"]) == (None, None)  # no best frame, no snapshot


def test_each_filter_alone_and_combined(client: TestClient) -> None:
    assert names(client, camera="front-door") == "eba"
    assert names(client, camera="garage") == ""
    assert names(client, label="person") == "eca"
    assert names(client, zone="porch") == "ea"  # ever entered, not only now
    assert names(client, zone="drive") == "ba"
    assert names(client, state="ended") == "da"
    assert names(client, state="stationary") == "c"
    assert names(client, state="active") == "eb"
    assert names(client, after=stamp(BASE + timedelta(seconds=1))) == "edcb"
    assert names(client, before=stamp(BASE + timedelta(seconds=2))) == "ba"
    # An offset other than Z is the same instant.
    assert names(client, before=(BASE + timedelta(seconds=2)).astimezone().isoformat()) == "ba"
    assert names(client, camera="front-door", label="person", zone="porch") == "ea"
    assert names(client, camera="front-door", zone="porch", state="active") == "e"
    assert names(client, label="person", after=stamp(BASE + timedelta(seconds=1))) == "ec"


def test_pages_follow_the_cursor_without_duplicates_or_gaps(client: TestClient) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        body = client.get("/v1/objects", params=params).json()
        assert len(body["objects"]) <= 2
        seen += [NAMES[o["object_id"]] for o in body["objects"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert ("".join(seen), pages) == ("edcba", 3)
    first = client.get("/v1/objects", params={"limit": 1, "camera": "yard"}).json()
    rest = client.get("/v1/objects", params={"camera": "yard", "cursor": first["next_cursor"]})
    assert [NAMES[o["object_id"]] for o in rest.json()["objects"]] == ["c"]
    assert names(client, cursor="") == "edcba"  # `?cursor=` is the first page


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "bogus"}, "state"),
        ({"after": "not-a-date"}, "after"),
        ({"before": "2025-11-27T14:03:07"}, "before"),  # no offset
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),  # base64 of []
        ({"camera": "Front Door"}, "camera"),
        ({"zone": "The Porch"}, "zone"),
        ({"label": ""}, "label"),
        ({"label": "x" * 65}, "label"),
        ({"label": "per\x00son"}, "label"),
    ],
)
def test_bad_parameters_are_a_4xx_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    reply = client.get("/v1/objects", params=params)
    assert reply.status_code == 422, reply.text
    error = error_of(reply)
    assert field in (error.get("field") or "") + error["message"]


def test_a_frame_list_cursor_is_not_an_object_cursor(client: TestClient) -> None:
    frame_events = [
        envelope(
            "frame.captured",
            f"cam:{RECENT_MS + i}:{i:06d}",
            BASE,
            {"width": 640, "height": 480, "source": "synthetic://"},
        )
        for i in range(2)
    ]
    assert client.post("/v1/events", json={"events": frame_events}).status_code == 200
    cursor = client.get("/v1/frames", params={"limit": 1}).json()["next_cursor"]
    assert cursor is not None
    reply = client.get("/v1/objects", params={"cursor": cursor})
    assert reply.status_code == 422
    assert error_of(reply)["field"] == "cursor"


def test_one_object_with_its_frames_and_events_in_order(client: TestClient) -> None:
    reply = client.get(f"/v1/objects/{IDS['a']}")
    assert reply.status_code == 200
    body = reply.json()
    listed = next(
        o for o in client.get("/v1/objects").json()["objects"] if o["object_id"] == IDS["a"]
    )
    # The list's event count becomes the events themselves.
    assert {k: v for k, v in body.items() if k not in ("events", "frame_ids")} == {
        k: v for k, v in listed.items() if k != "events"
    }
    assert len(body["events"]) == listed["events"] == 3
    sent = LIVES["a"]  # posted newest first; shown in time order
    assert [e["event_id"] for e in body["events"]] == [e["event_id"] for e in sent]
    assert [e["type"] for e in body["events"]] == [
        "object.started",
        "object.updated",
        "object.ended",
    ]
    assert body["events"][0]["data"]["zones"] == ["porch"]
    assert body["events"][0]["frame_id"] == sent[0]["frame_id"]
    assert body["frame_ids"] == [sent[0]["frame_id"], sent[1]["frame_id"]]


@pytest.mark.parametrize(
    "object_id",
    [
        "front-door:1:999",  # well-formed, unknown
        "nocolon",
        "Front Door:1:1",
        "front-door:",
        "front-door:%00",
        "front-door:" + "9" * 400,
        "front-door:%ED%A0%80",  # a lone surrogate's UTF-8 bytes
    ],
)
def test_an_unknown_or_malformed_id_is_a_404(client: TestClient, object_id: str) -> None:
    reply = client.get(f"/v1/objects/{object_id}")
    assert reply.status_code == 404, reply.text
    assert error_of(reply)["field"] == "object_id"


def test_snapshot_links_go_through_link_for_when_the_app_has_one(client: TestClient) -> None:
    app = client.app
    signing = app.state.link_for  # type: ignore[attr-defined]
    app.state.link_for = lambda path: f"https://detektor.example{path}?sig=abc"  # type: ignore[attr-defined]
    try:
        body = client.get(f"/v1/objects/{IDS['e']}").json()
        listed = client.get("/v1/objects", params={"limit": 1}).json()["objects"][0]
    finally:
        app.state.link_for = signing  # type: ignore[attr-defined]
    expected = f"https://detektor.example/v1/objects/{IDS['e']}/snapshot.jpg?sig=abc"
    assert body["snapshot_url"] == listed["snapshot_url"] == expected
    plain = client.get(f"/v1/objects/{IDS['e']}").json()["snapshot_url"]
    assert plain.startswith(f"/v1/objects/{IDS['e']}/snapshot.jpg?exp=")
