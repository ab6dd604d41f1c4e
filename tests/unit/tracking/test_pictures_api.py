"""The picture routes through a real app: the token, signed links (and each way they are
refused), JPEGs that decode to the right size, and bad input answered 4xx JSON."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from detektor.kit.app import ServiceKit, create_app
from detektor.kit.signing import LinkSigner, signed_url
from detektor.objects.snapshots import SnapshotStore
from detektor.services.objects.settings import SnapshotSettings
from detektor.services.tracking.pictures_api import (
    LATEST_CACHE,
    SNAPSHOT_CACHE,
    latest_path,
    router,
    snapshot_path,
)
from detektor.settings import Settings

TOKEN = "s3cret-token"
A = "front-door:1764230400123:7"
B = "front-door:1764230400123:8"
SIGNER = LinkSigner(b"k" * 32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def build(tmp_path: Path, token: str | None = TOKEN, pictures: bool = True) -> FastAPI:
    app = create_app(ServiceKit("tracking", Settings(api_token=token)), routers=[router])
    if pictures:
        store = SnapshotStore(tmp_path, SnapshotSettings())
        image = np.full((480, 640, 3), 90, np.uint8)
        store.keep_best(A, "front-door", image, (200, 100, 400, 300), "person", 0.9)
        store.keep_best(B, "front-door", image, (0, 0, 100, 100), "cat", 0.8)
        store.keep_latest("front-door", np.full((360, 480, 3), 90, np.uint8), [])
        app.state.snapshots = store
        app.state.signer = SIGNER
    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(build(tmp_path), raise_server_exceptions=False)


def jpeg_shape(data: bytes) -> tuple[int, ...]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return tuple(image.shape)


def sign(path: str, ttl_s: float = 60, now: float | None = None) -> str:
    return SIGNER.sign(path, ttl_s, now=now)


def test_unsigned_without_token_is_401(client: TestClient) -> None:
    for path in (snapshot_path(A), latest_path("front-door")):
        reply = client.get(path)
        assert reply.status_code == 401
        assert "bearer token" in reply.json()["error"]["message"]


def test_token_opens_pictures(client: TestClient) -> None:
    reply = client.get(snapshot_path(A), headers=AUTH)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["cache-control"] == SNAPSHOT_CACHE
    assert jpeg_shape(reply.content) == (480, 640, 3)
    reply = client.get(latest_path("front-door"), headers=AUTH)
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == LATEST_CACHE
    assert jpeg_shape(reply.content) == (360, 480, 3)


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        (snapshot_path(A), (480, 640, 3)),
        (snapshot_path(A, box=False), (480, 640, 3)),
        (snapshot_path(A, crop=True), (300, 300, 3)),
        (latest_path("front-door"), (360, 480, 3)),
        (latest_path("front-door", boxes=True), (360, 480, 3)),
    ],
)
def test_signed_link_opens_its_picture(
    client: TestClient, path: str, shape: tuple[int, ...]
) -> None:
    reply = client.get(sign(path))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/jpeg"
    assert jpeg_shape(reply.content) == shape


def test_box_and_clean_pictures_differ(client: TestClient) -> None:
    boxed = client.get(sign(snapshot_path(A))).content
    clean = client.get(sign(snapshot_path(A, box=False))).content
    assert boxed != clean


def test_signed_url_helper_makes_working_links(client: TestClient) -> None:
    url = signed_url("http://testserver/", SIGNER, snapshot_path(A, crop=True), 60)
    assert url is not None
    assert url.startswith(f"http://testserver/v1/objects/{A}/snapshot.jpg?crop=1&exp=")
    assert client.get(url).status_code == 200


def refused(client: TestClient, url: str, reason: str) -> None:
    reply = client.get(url)
    assert reply.status_code == 403, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"]["message"] == f"signed link refused: {reason}"


def test_altered_sig_is_403(client: TestClient) -> None:
    link = sign(snapshot_path(A))
    last = link[-1]
    refused(client, link[:-1] + ("A" if last != "A" else "B"), "bad signature")


def test_altered_exp_is_403(client: TestClient) -> None:
    link = sign(snapshot_path(A))
    exp = link.split("exp=")[1].split("&")[0]
    refused(client, link.replace(f"exp={exp}", f"exp={int(exp) + 86_400}"), "bad signature")


def test_expired_link_is_403(client: TestClient) -> None:
    refused(client, sign(snapshot_path(A), ttl_s=60, now=time.time() - 120), "link expired")


def test_a_link_opens_only_its_own_resource(client: TestClient) -> None:
    query = sign(snapshot_path(A)).split("?")[1]
    refused(client, f"{snapshot_path(B)}?{query}", "bad signature")
    refused(client, f"{latest_path('front-door')}?{query}", "bad signature")
    refused(client, f"{snapshot_path(A)}?crop=1&{query}", "bad signature")  # a param added
    crop_query = sign(snapshot_path(A, crop=True)).split("?")[1]
    refused(client, f"{snapshot_path(A)}?{crop_query.replace('crop=1&', '')}", "bad signature")
    latest_query = sign(latest_path("front-door")).split("?")[1]
    refused(client, f"{latest_path('back-yard')}?{latest_query}", "bad signature")


def test_half_a_signature_is_403(client: TestClient) -> None:
    link = sign(snapshot_path(A))
    refused(client, link.split("&sig=")[0], "missing exp/sig")
    refused(client, snapshot_path(A) + "?sig=abc", "missing exp/sig")
    refused(
        client,
        snapshot_path(A) + "?exp=soon&sig=abc",
        "malformed exp: a unix time in whole seconds",
    )


def test_a_valid_token_wins_over_a_bad_signature(client: TestClient) -> None:
    reply = client.get(snapshot_path(A) + "?exp=1&sig=forged", headers=AUTH)
    assert reply.status_code == 200


def test_signed_links_open_only_routes_that_opt_in(client: TestClient) -> None:
    reply = client.get(sign("/info"))
    assert reply.status_code == 401
    reply = client.get(sign("/v1/nothing-here"))
    assert reply.status_code == 401


def test_no_signer_refuses_signed_links(tmp_path: Path) -> None:
    app = build(tmp_path)
    del app.state.signer
    reply = TestClient(app).get(sign(snapshot_path(A)))
    assert reply.status_code == 403
    assert reply.json()["error"]["message"] == "signed link refused: signed links are off"


def test_missing_snapshot_is_404(client: TestClient) -> None:
    reply = client.get(sign(snapshot_path("front-door:1764230400123:9")))
    assert reply.status_code == 404
    assert reply.json()["error"]["field"] == "object_id"
    reply = client.get(sign(latest_path("back-yard", boxes=True)))
    assert reply.status_code == 404
    assert reply.json()["error"]["field"] == "camera"


def test_snapshots_off_is_404(tmp_path: Path) -> None:
    client = TestClient(build(tmp_path, pictures=False))
    for path in (snapshot_path(A), latest_path("front-door")):
        reply = client.get(path, headers=AUTH)
        assert reply.status_code == 404
        assert reply.json() == {"error": {"message": "snapshots are off"}}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/objects/not-an-id/snapshot.jpg", "object_id"),
        ("/v1/objects/front-door:1:2:3/snapshot.jpg", "object_id"),
        ("/v1/objects/Front:1:2/snapshot.jpg", "object_id"),
        ("/v1/objects/..:1:2/snapshot.jpg", "object_id"),
        ("/v1/objects/front-door%3A1%3A2%0A/snapshot.jpg", "object_id"),
        ("/v1/objects/%2e%2e/snapshot.jpg", "object_id"),
        (f"/v1/objects/{'a' * 5000}:1:1/snapshot.jpg", "object_id"),
        ("/v1/cameras/Front Door/latest.jpg", "camera"),
        ("/v1/cameras/..%2f..%2fetc/latest.jpg", None),
        ("/v1/cameras/%ff/latest.jpg", "camera"),
        (f"/v1/objects/{A}/snapshot.jpg?crop=maybe", "crop"),
        (f"/v1/objects/{A}/snapshot.jpg?box=2", "box"),
        ("/v1/cameras/front-door/latest.jpg?boxes=yes please", "boxes"),
    ],
)
def test_bad_input_is_4xx_json(client: TestClient, path: str, field: str | None) -> None:
    for headers in (AUTH, {}):
        url = path if headers else sign(unquote(path))
        reply = client.get(url, headers=headers)
        assert 400 <= reply.status_code < 500, (url, reply.status_code, reply.text)
        body = reply.json()
        assert "message" in body["error"]
        if headers and field is not None:
            assert reply.status_code == 422
            assert body["error"]["field"] == field


def test_without_a_token_the_pictures_are_open(tmp_path: Path) -> None:
    client = TestClient(build(tmp_path, token=None))
    assert client.get(snapshot_path(A)).status_code == 200
    assert client.get(latest_path("front-door")).status_code == 200


def test_path_helpers_refuse_bad_names() -> None:
    with pytest.raises(ValueError, match="object id"):
        snapshot_path("../x")
    with pytest.raises(ValueError, match="camera"):
        latest_path("../x")
    assert snapshot_path(A, crop=True, box=False) == f"/v1/objects/{A}/snapshot.jpg?crop=1"
    assert snapshot_path(A, box=False) == f"/v1/objects/{A}/snapshot.jpg?box=0"


def test_routes_say_they_take_signed_links(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers=AUTH).json()["paths"]
    assert paths["/v1/objects/{object_id}/snapshot.jpg"]["get"]["x-detektor-signed-link"]
    assert paths["/v1/cameras/{camera}/latest.jpg"]["get"]["x-detektor-signed-link"]
