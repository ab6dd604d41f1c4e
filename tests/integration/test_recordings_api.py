"""The recordings API of the tracking service over real segments (recorded here by the real
Recorder from a video file) indexed in SQLite and in PostgreSQL: the list, a range exported
as one MP4 with HTTP Range, an object's clip from ``pre_s`` before it to ``post_s`` after it,
signed links that open without the token, and a 4xx naming the field for every bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import av
import pytest
from fastapi.testclient import TestClient

from detektor.adapters.stores import open_recording_index
from detektor.domain.fields import format_timestamp
from detektor.domain.recordings import Segment
from detektor.kit.signing import LinkSigner
from support.object_events import ObjectScript, envelope
from support.recordings import make_video, record_segments
from support.tracking_app import STORES, TEST_LINK_SECRET, error_of, store_url, tracking_client

pytestmark = pytest.mark.integration
TOKEN = "a-token-for-recordings"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Segment]]:
    """12 s at 10 fps (a keyframe every second) of camera yard, in 2 s segments."""
    folder = tmp_path_factory.mktemp("footage")
    make_video(folder / "source.mp4", seconds=12, fps=10, gop=10)
    root = folder / "recordings"
    return root, record_segments(root, folder / "source.mp4", "yard")


@pytest.fixture(params=STORES)
def client(
    request: pytest.FixtureRequest,
    footage: tuple[Path, list[Segment]],
    tmp_path: Path,
) -> Iterator[TestClient]:
    root, segments = footage
    with store_url(request.param, tmp_path) as url:
        index = open_recording_index(url)
        index.migrate()
        for segment in segments:
            assert index.add(segment)
        index.close()
        with tracking_client(
            url,
            api_token=TOKEN,
            data_dir=tmp_path / "data",
            recordings={"root": root, "default": {"pre_s": 2, "post_s": 1}},
        ) as c:
            yield c


def get(client: TestClient, path: str, **params: Any) -> Any:
    reply = client.get(path, params=params, headers=AUTH)
    assert reply.status_code == 200, reply.text
    return reply.json()


def frames_in(data: bytes, tmp: Path) -> list[float]:
    path = tmp / "got.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return [float(f.time or 0) for f in container.decode(video=0)]


def test_the_list_is_newest_first_with_cursor_and_signed_links(
    client: TestClient, footage: tuple[Path, list[Segment]]
) -> None:
    _, segments = footage
    first = get(client, "/v1/recordings", camera="yard", limit=4)
    assert [r["start"] for r in first["recordings"]] == [
        format_timestamp(s.start) for s in segments[::-1][:4]
    ]
    rest = get(client, "/v1/recordings", camera="yard", cursor=first["next_cursor"])
    assert len(rest["recordings"]) == 2
    assert rest["next_cursor"] is None
    one = first["recordings"][0]
    assert one["codec"] == "h264"
    assert one["audio"] is True
    assert one["duration_s"] == pytest.approx(2.0, abs=0.15)
    path, _, query = one["url"].partition("?")
    assert path == "/v1/cameras/yard/recordings.mp4"
    assert LinkSigner(TEST_LINK_SECRET.encode()).verify(path, dict(parse_qsl(query))) is None
    opened = client.get(one["url"])  # no token: the signature opens this one export
    assert opened.status_code == 200
    assert opened.headers["content-type"] == "video/mp4"
    window = get(
        client,
        "/v1/recordings",
        start=format_timestamp(segments[1].end - timedelta(seconds=0.5)),
        end=format_timestamp(segments[2].end - timedelta(seconds=0.5)),
    )
    assert len(window["recordings"]) == 2
    assert get(client, "/v1/recordings", camera="porch")["recordings"] == []


def test_a_range_is_one_mp4_that_seeks_by_http_range(
    client: TestClient, footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    _, segments = footage
    t0 = segments[0].start
    params = {
        "start": format_timestamp(t0 + timedelta(seconds=3.5)),
        "end": format_timestamp(t0 + timedelta(seconds=7.2)),
    }
    reply = client.get("/v1/cameras/yard/recordings.mp4", params=params, headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.headers["x-clip-start"] == format_timestamp(t0 + timedelta(seconds=3))
    times = frames_in(reply.content, tmp_path)
    assert len(times) == 42
    size = len(reply.content)
    part = client.get(
        "/v1/cameras/yard/recordings.mp4", params=params, headers={**AUTH, "Range": "bytes=100-"}
    )
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert part.content == reply.content[100:]
    tail = client.get(
        "/v1/cameras/yard/recordings.mp4", params=params, headers={**AUTH, "Range": "bytes=-10"}
    )
    assert (tail.status_code, tail.content) == (206, reply.content[-10:])
    beyond = client.get(
        "/v1/cameras/yard/recordings.mp4",
        params=params,
        headers={**AUTH, "Range": f"bytes={size + 10}-"},
    )
    assert beyond.status_code == 416


def test_an_objects_clip_runs_from_pre_s_before_it_to_post_s_after_it(
    client: TestClient, footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    _, segments = footage
    t0 = segments[0].start
    person = ObjectScript(camera="yard", start=t0 + timedelta(seconds=5))
    events = [person.started(0.0), person.ended(3.0)]  # seen 5 s .. 5 s, ended at 8 s
    reply = client.post(
        "/v1/events", json={"events": [envelope(e).to_dict() for e in events]}, headers=AUTH
    )
    assert {r["status"] for r in reply.json()["results"]} == {"appended"}
    clip = client.get(f"/v1/objects/{person.object_id}/clip.mp4", headers=AUTH)
    assert clip.status_code == 200, clip.text
    assert clip.headers["content-type"] == "video/mp4"
    # pre_s 2: from the keyframe at 3 s; post_s 1 after it ended at 8 s: up to 9 s.
    assert clip.headers["x-clip-start"] == format_timestamp(t0 + timedelta(seconds=3))
    times = frames_in(clip.content, tmp_path)
    assert len(times) == 60
    assert times[-1] == pytest.approx(5.9, abs=0.05)
    assert client.get(f"/v1/objects/{person.object_id}/clip.mp4").status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/recordings", {"camera": "Bad Name"}, 422, "camera"),
        ("/v1/recordings", {"start": "yesterday"}, 422, "start"),
        ("/v1/recordings", {"end": "2026-13-01T00:00:00Z"}, 422, "end"),
        ("/v1/recordings", {"cursor": "bm90LWEtY3Vyc29y"}, 422, "cursor"),
        ("/v1/recordings", {"limit": "0"}, 422, None),
        ("/v1/cameras/yard/recordings.mp4", {"start": "2026-01-01T00:00:00Z"}, 422, None),
        (
            "/v1/cameras/yard/recordings.mp4",
            {"start": "2026-01-01T00:00:10Z", "end": "2026-01-01T00:00:00Z"},
            422,
            "end",
        ),
        (
            "/v1/cameras/yard/recordings.mp4",
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z"},
            422,
            "end",
        ),
        (
            "/v1/cameras/yard/recordings.mp4",
            {"start": "2020-01-01T00:00:00Z", "end": "2020-01-01T00:01:00Z"},
            404,
            None,
        ),
        ("/v1/cameras/Not_OK!/recordings.mp4", {"start": "x", "end": "y"}, 422, "camera"),
        ("/v1/objects/yard:1:1/clip.mp4", {}, 404, "object_id"),
        ("/v1/objects/not-an-id/clip.mp4", {}, 404, "object_id"),
    ],
)
def test_bad_input_gets_a_4xx_naming_what_is_wrong(
    client: TestClient, path: str, params: dict[str, str], status: int, field: str | None
) -> None:
    reply = client.get(path, params=params, headers=AUTH)
    assert reply.status_code == status, reply.text
    if field is not None:
        assert error_of(reply)["field"] == field


def test_a_tampered_or_unsigned_export_link_is_refused(
    client: TestClient, footage: tuple[Path, list[Segment]]
) -> None:
    one = get(client, "/v1/recordings", limit=1)["recordings"][0]
    url = one["url"]
    assert client.get(url.replace("start=", "start=1")).status_code == 403
    assert client.get(url.split("&sig=")[0]).status_code in (401, 403)
    assert client.get(url.split("?")[0], params={"start": one["start"]}).status_code == 401
