"""The report's recordings line against a fake Prometheus answering the documented shapes:
bytes kept per camera and free space (PASS), no recording camera (SKIP), paused (FAIL),
and an answer that is not a vector (FAIL naming the query, as every check)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from detektor.verify import Status, VerifyOptions
from detektor.verify.http import guarded
from detektor.verify.recordings import recordings
from support.verify_fakes import FakeHttp, json_reply

MIB = 1024**2


def vector(*series: tuple[dict[str, str], float]) -> Any:
    result = [{"metric": m, "value": [1764252187.0, str(v)]} for m, v in series]
    return json_reply({"status": "success", "data": {"resultType": "vector", "result": result}})


def prometheus(kept: dict[str, float], free: float | None, paused: float) -> Any:
    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path != "/api/v1/query":
            return None
        promql = query["query"][0]
        if "detektor_recording_bytes" in promql:
            return vector(*(({"camera": c}, b) for c, b in kept.items()))
        if "detektor_recording_free_bytes" in promql:
            return vector(({}, free)) if free is not None else vector()
        if "detektor_recording_paused" in promql:
            return vector(({}, paused))
        return None

    return route


def check(route: Any) -> Any:
    with FakeHttp(route) as prom:
        options = VerifyOptions(prometheus=prom.url, timeout_s=2)
        return guarded("Recordings", "curl", recordings, options), prom.requests


def test_bytes_kept_per_camera_and_free_space_pass() -> None:
    result, asked = check(prometheus({"rtsp": 30 * MIB, "video": 12.5 * MIB}, 900 * MIB, 0))
    assert result.status is Status.PASS, result
    assert result.summary == "42.5 MiB kept for 2 camera(s), 900.0 MiB free"
    assert result.evidence == [
        f"rtsp: 30.0 MiB kept ({30 * MIB} bytes)",
        f"video: 12.5 MiB kept ({int(12.5 * MIB)} bytes)",
        "recordings volume: 900.0 MiB free",
    ]
    # Read with last_over_time over the report's recent range: one failed scrape hides nothing.
    assert any("last_over_time(detektor_recording_bytes[60s])" in unquote_plus(q) for q in asked)


def test_no_recording_camera_is_skipped() -> None:
    result, _ = check(prometheus({}, None, 0))
    assert result.status is Status.SKIP
    assert "no camera records" in result.summary


def test_paused_recording_fails_with_a_command() -> None:
    result, _ = check(prometheus({"rtsp": MIB}, 0.5 * MIB, 1))
    assert result.status is Status.FAIL
    assert result.summary == "recording is paused: 1.0 MiB kept for 1 camera(s), 0.5 MiB free"
    assert result.fix is not None
    assert "RecordingDiskLow" in result.fix


def test_a_broken_answer_fails_naming_the_query() -> None:
    def route(path: str, query: dict[str, list[str]]) -> Any:
        return json_reply({"status": "error", "error": "bad"}) if path == "/api/v1/query" else None

    result, _ = check(route)
    assert result.status is Status.FAIL
    assert "detektor_recording_bytes" in result.summary + " ".join(result.evidence)
