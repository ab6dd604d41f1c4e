"""Putting one camera's detections back in capture order (pure; no I/O, no clock of its own).

Several detectors finish frames at different speeds, so entries of one camera reach the
detections stream a little out of capture order. The tracker can only go forward, so each
item waits here, per camera, keyed by ``(captured_ms, seq)``:

- an item is *due* once it has waited ``window_s`` since it arrived, or once its camera has
  an item captured more than the window after it (whatever came that late would be late
  anyway); when an item is due, everything of its camera captured before it goes too, in
  capture order;
- an item captured at or before the last one released of its camera arrived too late to be
  tracked: it is not returned in order but put in ``late`` (the caller drains it with
  ``take_late``), never silently dropped.

``now`` is the caller's monotonic clock in seconds; capture times are milliseconds.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Key = tuple[int, int]  # (captured_ms, seq)


@dataclass(order=True)
class _Waiting(Generic[T]):
    key: Key
    order: int
    arrived: float = field(compare=False)
    item: T = field(compare=False)


class ReorderBuffer(Generic[T]):
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._waiting: dict[str, list[_Waiting[T]]] = {}
        self._released: dict[str, Key] = {}
        self._order = itertools.count()
        self.late: list[T] = []
        self.late_total = 0

    def push(self, camera: str, key: Key, item: T, now: float) -> list[T]:
        """Add an item; returns what is due now (of any camera), in capture order per camera."""
        last = self._released.get(camera)
        if last is not None and key <= last:
            self.late.append(item)
            self.late_total += 1
            return self.due(now)
        heapq.heappush(
            self._waiting.setdefault(camera, []), _Waiting(key, next(self._order), now, item)
        )
        return self.due(now)

    def due(self, now: float) -> list[T]:
        """Everything due by ``now``: per camera in capture order, cameras one after another."""
        out: list[T] = []
        for camera in list(self._waiting):
            out += self._due(camera, now)
        return out

    def flush(self) -> list[T]:
        """Everything still waiting (a clean stop), in capture order per camera."""
        return self.due(float("inf"))

    def forget(self, camera: str) -> list[T]:
        """Drop a camera (its lease was lost): what was waiting, unprocessed, in no order."""
        self._released.pop(camera, None)
        return [w.item for w in self._waiting.pop(camera, [])]

    def mark_released(self, camera: str, key: Key) -> None:
        """Frames up to ``key`` were processed elsewhere (a previous owner): older ones are late."""
        last = self._released.get(camera)
        self._released[camera] = key if last is None else max(last, key)

    def waiting(self, camera: str) -> list[T]:
        return [w.item for w in sorted(self._waiting.get(camera, []))]

    def take_late(self) -> list[T]:
        late, self.late = self.late, []
        return late

    def _due(self, camera: str, now: float) -> list[T]:
        heap = self._waiting[camera]
        newest = max(w.key[0] for w in heap)
        horizon = newest - self.window_s * 1000
        limit: Key | None = None
        for w in heap:
            if now - w.arrived >= self.window_s or w.key[0] <= horizon:
                limit = w.key if limit is None else max(limit, w.key)
        out: list[T] = []
        while limit is not None and heap and heap[0].key <= limit:
            w = heapq.heappop(heap)
            out.append(w.item)
            self._released[camera] = w.key
        if not heap:
            del self._waiting[camera]
        return out
