"""Fixtures shared by the integration tests that run services on the real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import temporary_database
from support.redis import redis_namespace


@pytest.fixture
def backends() -> Iterator[dict[str, str]]:
    with temporary_database("detektor_tracking") as db_url, redis_namespace() as (r_url, ns):
        yield {
            "DETEKTOR_DATABASE_URL": db_url,
            "DETEKTOR_REDIS_URL": r_url,
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_TRACKING__DEAD_LETTER_STREAM": f"{ns}:events:dead",
            "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
            "DETEKTOR_TRACKING__METRICS_INTERVAL_S": "1",
        }
