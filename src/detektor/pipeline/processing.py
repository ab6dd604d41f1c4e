"""What a processor is: ``process(frames) -> results``, and the shape of one result.

A processor (the detector, motion regions) only implements ``process``; running it on the
frame bus, with batching, events, spans, retries and dead letters, is ``ProcessorRunner``'s
job (``processor.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detektor.pipeline.decoding import Frame


@dataclass(frozen=True, slots=True)
class Result:
    """What a processor found in one frame. ``detections`` items are
    ``{"label": str, "score": float, "box": [x1, y1, x2, y2]}`` in source pixels."""

    detections: list[dict[str, Any]] = field(default_factory=list)


class Processor(ABC):
    name: str = "processor"

    @abstractmethod
    def process(self, frames: Sequence[Frame]) -> list[Result]:
        """One result per frame, in order. Runs in a worker thread; raise to fail the batch."""
