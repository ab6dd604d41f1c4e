"""What verify's Traces check relies on: tracking's stream ingest exports a span per batch in
(or linked to) each event's frame trace. A real tracking process, real PostgreSQL and Redis,
and a real OTLP/HTTP receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from support.otlp import OtlpReceiver, ReceivedSpan
from support.process import ServiceProcess
from support.tracking import envelopes, stored_events
from support.waiting import wait_for

TRACES = ["0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"]
SPANS = ["b7ad6b7169203331", "00f067aa0ba902b7"]


@pytest.fixture
def env(backends: dict[str, str]) -> dict[str, str]:
    return {**backends, "OTEL_BSP_SCHEDULE_DELAY": "200"}


def _ingest_spans(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    return [s for s in receiver.spans if s.service == "tracking" and s.name.startswith("process")]


def _feed(env: dict[str, str], events: list[dict[str, object]]) -> None:
    client = redis.Redis.from_url(env["DETEKTOR_REDIS_URL"])
    pipe = client.pipeline()
    for event in events:
        pipe.xadd(env["DETEKTOR_TRACKING__STREAM"], {"envelope": json.dumps(event)})
    pipe.execute()
    client.close()


def test_one_frame_batch_is_a_child_of_the_frame_span(tmp_path: Path, env: dict[str, str]) -> None:
    events = envelopes(1)
    for event in events:
        event.update(trace_id=TRACES[0], span_id=SPANS[0])
    _feed(env, events)
    with OtlpReceiver() as receiver:
        traced = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with ServiceProcess("tracking", tmp_path, traced):
            wait_for(lambda: stored_events(env["DETEKTOR_DATABASE_URL"])[0] == 6, 20, "6 events")
            spans = receiver.wait_for(lambda _: _ingest_spans(receiver))
    (span,) = [s for s in spans if s in _ingest_spans(receiver)]
    assert (span.trace_id, span.parent_span_id) == (TRACES[0], SPANS[0])
    assert span.attributes["messaging.operation"] == "process"


def test_batch_of_several_frames_links_each_frame_trace(
    tmp_path: Path, env: dict[str, str]
) -> None:
    first, second = envelopes(1, "a"), envelopes(1, "b")
    for event in first:
        event.update(trace_id=TRACES[0], span_id=SPANS[0])
    for event in second:
        event.update(trace_id=TRACES[1], span_id=SPANS[1])
    _feed(env, first + second)
    with OtlpReceiver() as receiver:
        traced = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with ServiceProcess("tracking", tmp_path, traced):
            wait_for(lambda: stored_events(env["DETEKTOR_DATABASE_URL"])[0] == 12, 20, "events")
            receiver.wait_for(lambda _: _ingest_spans(receiver))
    links = {link for s in _ingest_spans(receiver) for link in s.links}
    assert set(zip(TRACES, SPANS, strict=True)) <= links
