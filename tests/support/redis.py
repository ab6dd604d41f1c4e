"""The real Redis on 127.0.0.1:6379, with keys unique to one test and removed afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from support.services import missing

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextmanager
def redis_namespace() -> Iterator[tuple[str, str]]:
    """Yield (redis url, key prefix); every key under the prefix is deleted at the end."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        missing(f"Redis at {REDIS_URL}", str(exc))
        raise AssertionError("unreachable") from exc
    prefix = f"detektor-test-{uuid.uuid4().hex[:10]}"
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
