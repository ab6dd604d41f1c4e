"""The Traces and Restarts (--docker) checks against small servers speaking the documented
Jaeger query API and Docker Engine API for the fields the checks use (support/verify_fakes).
Neither Jaeger nor Docker runs on these machines: these shapes are all they were verified
against."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detektor.verify import Status, VerifyOptions
from detektor.verify.restarts import demultiplex, restarts
from detektor.verify.traces import TRACED_SERVICES, traces
from support.verify_fakes import (
    FakeHttp,
    FakeUnixHttp,
    jaeger_route,
    jaeger_trace,
    json_reply,
    multiplexed,
)

CANARY_TRACE = "0af7651916cd43dd8448eb211c80319c"
DETECTOR_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACKING_TRACE = "5b8efff798038103d269b633813fc60c"
FRAME = {"frame_id": "canary:1764252187000:000042", "trace_id": CANARY_TRACE}


def pipeline_traces(detector_linked: bool = True, age_s: float = 30) -> list[dict[str, Any]]:
    """What the services emit for one frame: capture's span and the notifier's child of it in
    the canary trace; the detector's batch trace linked to it; a tracking batch trace linked
    to the detector's (a batch of several frames' events)."""
    start = int((time.time() - age_s) * 1e6)
    capture_span = ("FOLLOWS_FROM", CANARY_TRACE, "0000000000000001")
    canary = jaeger_trace(
        CANARY_TRACE,
        [("capture", []), ("notifier", [("CHILD_OF", CANARY_TRACE, "0000000000000001")])],
        start,
    )
    detector = jaeger_trace(
        DETECTOR_TRACE, [("detector", [capture_span] if detector_linked else [])], start
    )
    tracking = jaeger_trace(
        TRACKING_TRACE,
        [("tracking", [("FOLLOWS_FROM", DETECTOR_TRACE, "0000000000000001")])],
        start,
    )
    return [canary, detector, tracking]


def route_with_frames(jaeger: Any) -> Any:
    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/v1/frames":
            until = datetime.fromisoformat(query.pop("until")[0])
            assert query == {"camera": ["canary"], "state": ["completed"], "limit": ["1"]}
            # a frame captured 15 s ago at least: its spans have left the export batches
            assert 14 < (datetime.now(UTC) - until).total_seconds() < 30
            # captured when pipeline_traces' spans start (30 s ago), done half a second later
            captured = datetime.now(UTC) - timedelta(seconds=30)
            frame = FRAME | {
                "captured_at": captured.isoformat(),
                "terminal_at": (captured + timedelta(seconds=0.5)).isoformat(),
            }
            return json_reply({"frames": [frame], "next_cursor": None})
        return jaeger(path, query)

    return route


def test_traces_pass_when_the_canary_trace_and_the_traces_joined_to_it_span_all() -> None:
    asked: list[dict[str, list[str]]] = []
    with FakeHttp(route_with_frames(jaeger_route(pipeline_traces(), asked))) as f:
        before = time.time()
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.PASS, result
    assert f"canary frame {FRAME['frame_id']} trace {CANARY_TRACE}: ['capture', 'notifier']" in (
        result.evidence
    )
    assert f"linked trace {DETECTOR_TRACE}: ['detector']" in result.evidence
    assert f"linked trace {TRACKING_TRACE}: ['tracking']" in result.evidence
    assert "tracking: 1 trace(s) in the last 15m" in result.evidence
    # each service twice: over the window, then around the canary frame's time in flight
    assert sorted(q["service"][0] for q in asked) == sorted(TRACED_SERVICES * 2)
    for q in asked:
        assert set(q) == {"service", "start", "end", "limit"}
    spans = sorted(int(q["end"][0]) - int(q["start"][0]) for q in asked)
    # the window (15 m ending now), and the frame's time in flight: 1 s + 0.5 s + 5 s slack
    assert spans == [6_500_000] * 4 + [15 * 60 * 1_000_000] * 4
    window_ends = [int(q["end"][0]) / 1e6 for q in asked[:4]]
    assert all(abs(end - before) < 5 for end in window_ends)


def test_traces_outside_the_window_are_not_counted() -> None:
    asked: list[dict[str, list[str]]] = []
    old = pipeline_traces(age_s=3600)
    with FakeHttp(route_with_frames(jaeger_route(old, asked))) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.FAIL
    assert "no trace from capture in the last 15m" in result.summary


def test_traces_fail_when_the_detector_span_is_not_linked_to_the_canary() -> None:
    asked: list[dict[str, list[str]]] = []
    unlinked = pipeline_traces(detector_linked=False)
    with FakeHttp(route_with_frames(jaeger_route(unlinked, asked))) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.FAIL
    # Tracking's batch trace was joined through the detector's, so it is missing too.
    assert result.summary == "the canary's traces have no spans from detector, tracking"
    assert result.fix
    assert f.url in result.fix


def test_traces_fail_naming_a_service_jaeger_does_not_know() -> None:
    asked: list[dict[str, list[str]]] = []
    no_notifier = pipeline_traces()
    no_notifier[0] = jaeger_trace(CANARY_TRACE, [("capture", [])], int(time.time() * 1e6))
    with FakeHttp(route_with_frames(jaeger_route(no_notifier, asked))) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.FAIL
    assert "Jaeger knows no service notifier" in result.summary
    assert "the canary's traces have no spans from notifier" in result.summary


NOW = datetime.now(UTC)


def _container(cid: str, name: str, count: int, status: str, started: datetime) -> dict[str, Any]:
    stamp = started.strftime("%Y-%m-%dT%H:%M:%S.") + "123456789Z"  # Docker's nanoseconds
    return {
        "Id": cid,
        "Name": f"/{name}",
        "RestartCount": count,
        "State": {"Status": status, "Restarting": status == "restarting", "StartedAt": stamp},
    }


def docker_route(containers: list[dict[str, Any]]) -> Any:
    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/containers/json":
            assert query == {"all": ["1"]}
            return json_reply([{"Id": c["Id"], "Names": [c["Name"]]} for c in containers])
        for c in containers:
            if path == f"/containers/{c['Id']}/json":
                return json_reply(c)
            if path == f"/containers/{c['Id']}/logs":
                assert query == {"tail": ["20"], "stdout": ["1"], "stderr": ["1"]}
                body = multiplexed((1, "starting jaeger\n"), (2, "panic: bad config\nexit 1\n"))
                return 200, body, "application/vnd.docker.multiplexed-stream"
        return None

    return route


def test_restarts_with_docker_name_the_looping_container_with_count_and_logs(
    tmp_path: Path,
) -> None:
    containers = [
        _container("a" * 64, "deploy-tracking-1", 0, "running", NOW - timedelta(hours=2)),
        _container("b" * 64, "deploy-jaeger-1", 7, "restarting", NOW - timedelta(seconds=20)),
        _container("c" * 64, "deploy-old-1", 1, "running", NOW - timedelta(days=2)),
    ]
    sock = tmp_path / "docker.sock"
    with FakeUnixHttp(sock, docker_route(containers)):
        result = restarts(VerifyOptions(docker=True, docker_socket=str(sock)))
    assert result.status is Status.FAIL
    assert result.summary == "restarting within 15m: deploy-jaeger-1"
    lines = result.evidence
    assert "deploy-tracking-1: RestartCount=0, state=running" in lines
    assert "deploy-old-1: RestartCount=1, state=running" in lines  # restarted before the window
    failing = next(line for line in lines if line.startswith("deploy-jaeger-1"))
    assert "RestartCount=7, state=restarting" in failing
    assert lines[lines.index(failing) + 1 :][:3] == [
        "  starting jaeger",
        "  panic: bad config",
        "  exit 1",
    ]
    assert result.fix
    assert "docker logs --tail 100 deploy-jaeger-1" in result.fix


def test_restarts_with_docker_pass_when_nothing_restarted(tmp_path: Path) -> None:
    containers = [_container("a" * 64, "deploy-capture-1", 0, "running", NOW)]
    sock = tmp_path / "docker.sock"
    with FakeUnixHttp(sock, docker_route(containers)):
        result = restarts(VerifyOptions(docker=True, docker_socket=str(sock)))
    assert result.status is Status.PASS, result
    assert result.summary == "1 containers, none restarting"


def test_restarts_use_a_reachable_docker_api_without_being_asked(tmp_path: Path) -> None:
    containers = [_container("b" * 64, "deploy-loki-1", 3, "restarting", NOW)]
    sock = tmp_path / "docker.sock"
    with FakeUnixHttp(sock, docker_route(containers)):
        # No --docker, no Prometheus: a mounted Docker socket is the default source.
        result = restarts(VerifyOptions(docker_socket=str(sock), prometheus="http://127.0.0.1:1"))
    assert result.status is Status.FAIL
    assert result.summary == "restarting within 15m: deploy-loki-1"
    assert result.evidence[0] == f"source: Docker Engine API on {sock}"


def test_demultiplex_passes_tty_output_through() -> None:
    assert demultiplex(b"plain text\n") == "plain text\n"
    assert demultiplex(multiplexed((1, "a"), (2, "b\n"))) == "ab\n"


def test_the_canary_joins_its_detector_trace_when_newer_traces_fill_the_search() -> None:
    """A busy detector makes more traces in the window than one search returns (100): the
    newest ones are all newer than the canary frame, taken 15 s back. The check searches
    around the frame's own time too, so its linked trace is still found (the stack test
    FAILed Traces on this before)."""
    now = int(time.time() * 1e6)
    busy = [jaeger_trace(f"{i + 1:032x}", [("detector", [])], now - i * 50_000) for i in range(150)]
    asked: list[dict[str, list[str]]] = []
    with FakeHttp(route_with_frames(jaeger_route([*pipeline_traces(), *busy], asked))) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert "detector: at least 100 trace(s) in the last 15m" in result.evidence
    assert result.status is Status.PASS, result
    assert f"linked trace {DETECTOR_TRACE}: ['detector']" in result.evidence
