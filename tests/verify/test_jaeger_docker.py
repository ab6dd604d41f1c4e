"""The Traces and Restarts (--docker) checks against small servers speaking the documented
Jaeger query API and Docker Engine API for the fields the checks use (support/verify_fakes).
Neither Jaeger nor Docker runs on these machines: these shapes are all they were verified
against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detektor.verify import Status, VerifyOptions
from detektor.verify.restarts import demultiplex, restarts
from detektor.verify.traces import traces
from support.verify_fakes import FakeHttp, FakeUnixHttp, json_reply, multiplexed

CANARY_TRACE = "0af7651916cd43dd8448eb211c80319c"
DETECTOR_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _trace(trace_id: str, services: list[str], refs: list[dict[str, str]]) -> dict[str, Any]:
    processes = {f"p{i}": {"serviceName": s, "tags": []} for i, s in enumerate(services, 1)}
    spans = [
        {
            "traceID": trace_id,
            "spanID": f"{i:016x}",
            "operationName": f"op {s}",
            "references": refs if s == "detector" else [],
            "processID": f"p{i}",
        }
        for i, s in enumerate(services, 1)
    ]
    return {"traceID": trace_id, "spans": spans, "processes": processes}


def jaeger_route(services: list[str], linked: bool) -> Any:
    link = [{"refType": "FOLLOWS_FROM", "traceID": CANARY_TRACE, "spanID": "0000000000000001"}]
    canary = _trace(CANARY_TRACE, ["capture", "tracking"], [])
    detector = _trace(DETECTOR_TRACE, ["detector"], link if linked else [])

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/services":
            return json_reply({"data": services, "total": len(services)})
        if path == "/api/traces":
            assert query["lookback"] == ["15m"]
            assert query["limit"] == ["20"]
            found = {"capture": [canary], "tracking": [canary], "detector": [detector]}
            return json_reply({"data": found.get(query["service"][0], []), "errors": None})
        if path == f"/api/traces/{CANARY_TRACE}":
            return json_reply({"data": [canary], "errors": None})
        if path == "/v1/frames":
            assert query == {"camera": ["canary"], "state": ["completed"], "limit": ["1"]}
            frame = {"frame_id": "canary:1764252187000:000042", "trace_id": CANARY_TRACE}
            return json_reply({"frames": [frame], "next_cursor": None})
        return None

    return route


def test_traces_pass_when_the_canary_trace_and_its_linked_detector_trace_span_all() -> None:
    with FakeHttp(
        jaeger_route(["capture", "detector", "tracking", "jaeger-all-in-one"], True)
    ) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.PASS, result
    assert f"canary frame canary:1764252187000:000042 trace {CANARY_TRACE}: " in "\n".join(
        result.evidence
    )
    assert f"linked trace {DETECTOR_TRACE}: ['detector']" in result.evidence


def test_traces_fail_when_the_detector_span_is_not_linked_to_the_canary() -> None:
    with FakeHttp(jaeger_route(["capture", "detector", "tracking"], False)) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.FAIL
    assert result.summary == "the canary's traces have no spans from detector"
    assert result.fix
    assert f.url in result.fix


def test_traces_fail_naming_a_service_jaeger_does_not_know() -> None:
    with FakeHttp(jaeger_route(["capture", "detector"], True)) as f:
        result = traces(VerifyOptions(jaeger=f.url, tracking=f.url))
    assert result.status is Status.FAIL
    assert "Jaeger knows no service tracking" in result.summary


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


def test_demultiplex_passes_tty_output_through() -> None:
    assert demultiplex(b"plain text\n") == "plain text\n"
    assert demultiplex(multiplexed((1, "a"), (2, "b\n"))) == "ab\n"
