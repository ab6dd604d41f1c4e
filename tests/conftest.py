"""Suite-wide test settings (Hypothesis keeps its files out of the repository) and the
fixtures shared across test folders."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from support.postgres import temporary_database
from support.redis import redis_namespace

# Hypothesis caches what it learns from source files under ./.hypothesis; keep that in the
# temporary directory, and keep no example database at all (tests set database=None too).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "detektor-hypothesis")
settings.register_profile("detektor", database=None, deadline=None)
settings.load_profile("detektor")


@pytest.fixture
def backends() -> Iterator[dict[str, str]]:
    """A database and a Redis namespace of its own for one tracking service."""
    with temporary_database("detektor_tracking") as db_url, redis_namespace() as (r_url, ns):
        yield {
            "DETEKTOR_DATABASE_URL": db_url,
            "DETEKTOR_REDIS_URL": r_url,
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_TRACKING__DEAD_LETTER_STREAM": f"{ns}:events:dead",
            "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
            "DETEKTOR_TRACKING__METRICS_INTERVAL_S": "1",
        }
