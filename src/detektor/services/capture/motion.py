"""The motion gate: a cheap check, on sampled frames, of whether anything moved.

Per frame: downscale to ``settings.width`` wide grey (INTER_AREA), blur, compare with a
running-average background (``cv2.accumulateWeighted`` with ``background_alpha``), threshold
at ``settings.threshold`` grey levels, and ignore the masked polygons. The frame is moving when
the changed share of the unmasked pixels reaches ``settings.min_area``.

A frame that is not moving gets a reason: ``masked`` when the change would have counted had
the masks not hidden it, ``no_motion`` otherwise. The first frame (and the first after a change
of frame size) initialises the background and counts as moving: nothing is known yet.

Masks are polygons in source pixels of ``frame_size``; they are scaled to the check's size and
rasterised once. A frame of another size (a camera that changed resolution) is checked with
the masks scaled proportionally. One gate per camera, used from one thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from detektor.services.capture.settings import MotionSettings

Polygon = Sequence[tuple[float, float]]
Reason = Literal["no_motion", "masked"]
_BLUR = (5, 5)


@dataclass(frozen=True, slots=True)
class MotionResult:
    moving: bool
    changed_ratio: float  # changed share of the unmasked pixels; 1.0 for a first frame
    reason: Reason | None = None  # why not moving; None when moving


class MotionGate:
    """Per-camera motion check with a running-average background and polygon masks."""

    def __init__(
        self,
        settings: MotionSettings,
        masks: Sequence[Polygon] = (),
        frame_size: tuple[int, int] = (0, 0),
    ) -> None:
        """``frame_size`` is the source's ``(width, height)`` the masks are drawn in."""
        for i, polygon in enumerate(masks):
            if len(polygon) < 3:
                raise ValueError(f"mask {i} needs at least 3 points, got {len(polygon)}")
        if masks and min(frame_size) <= 0:
            raise ValueError("masks need the source frame_size (width, height) they are drawn in")
        self.settings = settings
        self._masks = [np.asarray(polygon, dtype=np.float64) for polygon in masks]
        self._frame_size = frame_size
        self._shape: tuple[int, int] | None = None  # (height, width) of the source frames
        self._background: NDArray[np.float32] | None = None
        self._warming = 0  # frames still checked whatever moves, the first included
        self._unmasked: NDArray[np.uint8] | None = None  # 255 where motion counts
        self._unmasked_count = 0

    def check(self, image: NDArray[np.uint8]) -> MotionResult:
        """Compare ``image`` (BGR HxWx3, or grey HxW) with the background, then update it."""
        if not self.settings.enabled:
            return MotionResult(moving=True, changed_ratio=0.0)
        shape = (image.shape[0], image.shape[1])
        if shape != self._shape:
            self._prepare(shape)
        grey = self._small_grey(image)
        background = self._background
        if background is None:
            self._background = grey.astype(np.float32)
            self._warming = self.settings.warmup_frames
            return MotionResult(moving=True, changed_ratio=1.0)
        if self._warming > 1:
            # A background from one frame knows nothing yet; what stands still in view now
            # would otherwise never be looked at until something moves.
            self._warming -= 1
            cv2.accumulateWeighted(grey, background, self.settings.background_alpha)
            return MotionResult(moving=True, changed_ratio=1.0)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(background))
        cv2.accumulateWeighted(grey, background, self.settings.background_alpha)
        _, changed = cv2.threshold(diff, self.settings.threshold - 1, 255, cv2.THRESH_BINARY)
        min_area = self.settings.min_area
        if self._unmasked is None:
            ratio = cv2.countNonZero(changed) / changed.size
            if ratio >= min_area:
                return MotionResult(moving=True, changed_ratio=ratio)
            return MotionResult(moving=False, changed_ratio=ratio, reason="no_motion")
        total = cv2.countNonZero(changed)
        counted = cv2.countNonZero(cv2.bitwise_and(changed, self._unmasked))
        ratio = counted / self._unmasked_count if self._unmasked_count else 0.0
        if ratio >= min_area:
            return MotionResult(moving=True, changed_ratio=ratio)
        masked = total / changed.size >= min_area
        return MotionResult(
            moving=False, changed_ratio=ratio, reason="masked" if masked else "no_motion"
        )

    def reset(self) -> None:
        """Forget the background (after a reconnect): the next frame initialises it."""
        self._background = None

    def _small_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        height, width = shape
        small_w = min(width, self.settings.width)
        return small_w, max(1, round(height * small_w / width))

    def _small_grey(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(
            grey, self._small_size(self._shape or grey.shape[:2]), interpolation=cv2.INTER_AREA
        )
        return cast(NDArray[np.uint8], cv2.GaussianBlur(small, _BLUR, 0))

    def _prepare(self, shape: tuple[int, int]) -> None:
        """A new frame size: restart the background and rasterise the masks for it."""
        self._shape = shape
        self._background = None
        self._unmasked = None
        if not self._masks:
            return
        small_w, small_h = self._small_size(shape)
        src_w, src_h = self._frame_size
        scale = np.array([small_w / src_w, small_h / src_h])
        hidden = np.zeros((small_h, small_w), np.uint8)
        polygons = [np.round(polygon * scale).astype(np.int32) for polygon in self._masks]
        cv2.fillPoly(hidden, polygons, 255)
        unmasked = cast(NDArray[np.uint8], cv2.bitwise_not(hidden))
        self._unmasked, self._unmasked_count = unmasked, cv2.countNonZero(unmasked)
