"""The Review page's event stream, from the tracking service run as a process: an object
posted after the stream opened arrives as an ``object`` event holding its card, a bad filter
is refused, and an open stream does not hold up a SIGTERM drain."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.process import ServiceProcess
from support.ui_scene import person_life, recent


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "DETEKTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "DETEKTOR_TRACKING__CONSUME": "false",
        "DETEKTOR_LINK_SECRET": "a-stream-test-link-secret-long-enough",
        "DETEKTOR_SHUTDOWN_TIMEOUT_S": "20",
    }
    with ServiceProcess("tracking", tmp_path, env) as proc:
        yield proc


def test_a_new_object_is_streamed_and_a_drain_ends_the_stream(service: ServiceProcess) -> None:
    old_id, old = person_life("cam", recent(3), track_id=1)
    assert httpx.post(f"{service.url}/v1/events", json={"events": old}).status_code == 200
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{service.url}/ui/review/stream?camera=cam") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        new_id, new = person_life("cam", recent(1), track_id=2)
        other_id, other = person_life("elsewhere", recent(1), track_id=3)
        posted = httpx.post(f"{service.url}/v1/events", json={"events": new + other})
        assert posted.status_code == 200
        seen: list[str] = []
        for line in lines:
            seen.append(line)
            if line == "" and any(new_id in s for s in seen):
                break
        text = "\n".join(seen)
        assert "event: object" in text
        assert f'data-object="{new_id}"' in text
        assert old_id not in text  # there before the stream opened
        assert other_id not in text  # another camera than the filter's
        began = time.monotonic()
        service.stop(signal.SIGTERM)
        assert time.monotonic() - began < 5  # not the 20 s grace period
    assert "stopped cleanly" in service.output()


@pytest.mark.parametrize("query", ["zone=no%20spaces", "after=later", "label=%00"])
def test_a_bad_filter_is_refused(service: ServiceProcess, query: str) -> None:
    reply = httpx.get(f"{service.url}/ui/review/stream?{query}", timeout=10)
    assert reply.status_code == 422
