"""The Restarts check: nothing restarted inside the window.

With ``--docker``, or by default whenever the Docker Engine API answers on its unix socket
(mounted read-only into a verify container), it asks Docker: a container FAILs when it is
restarting now, or when its ``RestartCount`` is above 0 and it last started inside the
window; the evidence lists the container, its restart count and its last log lines.
Otherwise it asks Prometheus for ``changes(process_start_time_seconds[window])`` of every
scraped process (the services, Prometheus, Alertmanager, the exporters): a restarted process
starts afresh. cAdvisor's ``container_start_time_seconds`` is not used: it is the container's
creation time, which a restart does not change.
"""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import httpx

from detektor.verify.http import Unreachable, client, get_json, prom_query
from detektor.verify.model import CheckResult, Status, VerifyOptions

NAME = "Restarts"


def restarts(options: VerifyOptions) -> CheckResult:
    """The Docker Engine API when asked for or reachable, else Prometheus."""
    if options.docker or _reachable(options.docker_socket, options.timeout_s):
        return restarts_docker(options)
    return restarts_prometheus(options)


def restarts_prometheus(options: VerifyOptions) -> CheckResult:
    """Process start-time changes of the application services inside the window."""
    window = options.window
    # Every scraped process: the services, Prometheus, Alertmanager and the exporters (as
    # ContainerRestarting reads them).
    source = "process_start_time_seconds of every scraped process"
    query = f"changes(process_start_time_seconds[{window}])"
    with client(options) as http:
        series = prom_query(http, options.prometheus, query)
    evidence = [f"source: {source}", f"query: {query}"]
    restarted = []
    for s in series:
        count = int(float(s["value"][1]))
        who = f"{s['metric'].get('job', '?')} {s['metric'].get('instance', '?')}"
        if count > 0:
            restarted.append(who)
            evidence.append(f"{who}: restarted {count} time(s) in the last {window}")
    evidence.append(f"{len(series)} series watched")
    if restarted:
        fix = (
            "docker compose -f deploy/compose.yml ps; docker compose -f deploy/compose.yml "
            f"logs --tail 50 {' '.join(sorted({r.split()[0] for r in restarted}))}"
        )
        summary = f"{len(restarted)} restarted within {window}: " + ", ".join(restarted)
        return CheckResult(NAME, Status.FAIL, summary, evidence, fix)
    if not series:
        return CheckResult(NAME, Status.FAIL, "no start-time series to watch", evidence, None)
    return CheckResult(NAME, Status.PASS, f"no restart within {window}", evidence)


def restarts_docker(options: VerifyOptions) -> CheckResult:
    """Every container's restart count and state, from the Docker Engine API."""
    _probe(options.docker_socket, options.timeout_s)
    transport = httpx.HTTPTransport(uds=options.docker_socket)
    base = "http://docker"
    since = datetime.now(UTC) - timedelta(seconds=options.window_s)
    evidence: list[str] = [f"source: Docker Engine API on {options.docker_socket}"]
    failed: list[str] = []
    with client(options, transport=transport) as http:
        listing = get_json(http, f"{base}/containers/json", {"all": 1})
        for summary in listing:
            detail = get_json(http, f"{base}/containers/{summary['Id']}/json")
            name = detail.get("Name", summary["Id"][:12]).lstrip("/")
            state = detail["State"]
            count = int(detail.get("RestartCount", 0))
            started = _docker_time(state.get("StartedAt", ""))
            recent = started is not None and started >= since
            line = f"{name}: RestartCount={count}, state={state.get('Status')}"
            if state.get("Restarting") or (count > 0 and recent):
                failed.append(name)
                evidence.append(f"{line}, last start {state.get('StartedAt')} — last log lines:")
                evidence += [f"  {text}" for text in _logs(http, base, summary["Id"])]
            else:
                evidence.append(line)
    if failed:
        fix = f"docker logs --tail 100 {failed[0]}; docker inspect {failed[0]} | jq '.[0].State'"
        summary_line = f"restarting within {options.window}: " + ", ".join(failed)
        return CheckResult(NAME, Status.FAIL, summary_line, evidence, fix)
    return CheckResult(NAME, Status.PASS, f"{len(listing)} containers, none restarting", evidence)


def _reachable(path: str, timeout_s: float) -> bool:
    try:
        _probe(path, timeout_s)
    except Unreachable:
        return False
    return True


def _probe(path: str, timeout_s: float) -> None:
    """Connect once ourselves: httpcore leaks the socket of a failed unix connect."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path)
    except OSError as exc:
        raise Unreachable(f"unix://{path} (Docker Engine API): {exc}") from exc


def _docker_time(text: str) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds, cut to what datetime parses."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,6})?\d*(Z|[+-]\d\d:\d\d)$", text)
    if not match or text.startswith("0001-"):
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + (match.group(2) or "") + zone)


def _logs(http: httpx.Client, base: str, container: str) -> list[str]:
    try:
        reply = http.get(
            f"{base}/containers/{container}/logs",
            params={"tail": 20, "stdout": 1, "stderr": 1},
        )
    except httpx.HTTPError as exc:
        return [f"(logs unavailable: {exc})"]
    return demultiplex(reply.content).splitlines()[-20:]


def demultiplex(data: bytes) -> str:
    """Docker's log stream: frames of an 8-byte header (stream, 0, 0, 0, big-endian size)
    then the payload; a container with a TTY sends raw text instead."""
    if not data or data[0] not in (0, 1, 2) or data[1:4] != b"\0\0\0":
        return data.decode(errors="replace")
    out = bytearray()
    while len(data) >= 8:
        size = int.from_bytes(data[4:8], "big")
        out += data[8 : 8 + size]
        data = data[8 + size :]
    return out.decode(errors="replace")
