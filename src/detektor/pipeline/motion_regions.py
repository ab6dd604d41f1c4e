"""The "motion regions" processor: boxes around what changed since the camera's last frame.

It is the pipeline's stand-in processor until the object detector lands, and the example of
how little a processor needs: ``process`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from detektor.pipeline.decoding import Frame
from detektor.pipeline.processing import Processor, Result

Grey = Any  # cv2's stubs type its outputs loosely; these are 2-D uint8 arrays


class MotionRegionsProcessor(Processor):
    name = "motion_regions"

    def __init__(self, width: int = 320, threshold: int = 25, min_area: float = 0.001) -> None:
        self.width, self.threshold, self.min_area = width, threshold, min_area
        self.previous: dict[str, Grey] = {}

    def process(self, frames: Sequence[Frame]) -> list[Result]:
        return [self._regions(frame) for frame in frames]

    def _regions(self, frame: Frame) -> Result:
        h, w = frame.image.shape[:2]
        scale = self.width / w
        size = (self.width, max(1, round(h * scale)))
        small = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        before = self.previous.get(frame.message.camera)
        self.previous[frame.message.camera] = grey
        if before is None or before.shape != grey.shape:
            return Result()
        _, mask = cv2.threshold(cv2.absdiff(grey, before), self.threshold, 255, cv2.THRESH_BINARY)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found: list[dict[str, Any]] = []
        for contour in contours:
            x, y, cw, ch = cv2.boundingRect(contour)
            share = (cw * ch) / mask.size
            if share >= self.min_area:
                box = [round(v / scale, 1) for v in (x, y, x + cw, y + ch)]
                found.append(
                    {"label": "motion", "score": round(min(1.0, share * 10), 3), "box": box}
                )
        return Result(detections=found)
