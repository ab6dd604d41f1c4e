"""Environment for running capture, detector and tracking together as real processes on
one isolated Redis namespace (and, for tracking, a database of their own)."""

from __future__ import annotations


def pipeline_env(redis_url: str, namespace: str, database_url: str) -> dict[str, str]:
    """DETEKTOR_* variables that keep every stream, group and consumer of one test apart."""
    return {
        "DETEKTOR_DATABASE_URL": database_url,
        "DETEKTOR_REDIS_URL": redis_url,
        "DETEKTOR_BUS__STREAM": f"{namespace}:frames",
        "DETEKTOR_TRACKING__STREAM": f"{namespace}:events",
        "DETEKTOR_TRACKING__DEAD_LETTER_STREAM": f"{namespace}:events:dead",
        "DETEKTOR_DETECTOR__DETECTIONS_STREAM": f"{namespace}:detections",
        "DETEKTOR_OBJECTS__STREAM": f"{namespace}:objects",
        "DETEKTOR_PROCESSOR__CONSUMER": "detector-1",
        "DETEKTOR_TRACKING__CONSUMER": "tracking-1",
    }
