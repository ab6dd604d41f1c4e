"""The synthetic camera's scene: what ``synthetic://?fps=10&size=640x480`` shows.

It owns parsing the synthetic URI, rendering frame ``i`` of the scene, and the paced
``SyntheticSource`` that ``sources.open_source`` returns for it. The content is real imagery,
so that motion gating and person detection have something real to find: the astronaut from
scikit-image's bundled data (a person) walks back and forth over a gravel texture whose
lighting drifts slowly.

Scenes (``scene=`` in the query):

- ``person`` (default): the astronaut moves, the lighting drifts.
- ``empty``: no person; only the slow lighting drift, which the motion gate must tolerate.
- ``static``: the astronaut stands still and the lighting is fixed; every frame is the same.
- the scripted scenes of ``scripted.py`` (``crossing``, ``two_crossing``, ``parked``,
  ``stop_and_go`` with ``stop=`` seconds, ``flash``): real photos on a known script, for
  tests and benches of tracked objects.

Rendering is a pure function of ``(seed, frame index)``, so a ``seed`` gives the same frames
every time and frames can be rendered lazily, in any order, from any thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, cast
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np
from numpy.typing import NDArray

from detektor.services.capture.photos import aspect, bundled, photo
from detektor.services.capture.scripted import SCRIPTED, Placement, placements, truth_box
from detektor.services.capture.source_base import CATCH_UP_S, DecodedFrame, Image, Source

Scene = Literal[
    "person", "empty", "static", "crossing", "two_crossing", "parked", "stop_and_go", "flash"
]
SCENES: tuple[Scene, ...] = ("person", "empty", "static", *SCRIPTED)  # type: ignore[assignment]
EXAMPLE = "synthetic://?fps=10&size=640x480"
_KEYS = ("fps", "size", "scene", "seed", "stop")
_WALK_PERIOD_S = 10.0  # there and back again
_LIGHT_PERIOD_S = 60.0  # slow enough for the motion gate's background model to follow
_LIGHT_DEPTH = 0.10


@dataclass(frozen=True, slots=True)
class SceneSpec:
    fps: float = 10.0
    width: int = 640
    height: int = 480
    scene: Scene = "person"
    seed: int = 0
    stop_s: float = 30.0  # stop_and_go: how long the person stands still

    @classmethod
    def parse(cls, uri: str) -> SceneSpec:
        """The spec of a ``synthetic://?…`` URI; ``ValueError`` says what to fix."""
        parts = urlsplit(uri)
        if parts.scheme != "synthetic" or parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"a synthetic source looks like {EXAMPLE}, got {uri!r}")
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)
        unknown = sorted(set(query) - set(_KEYS))
        if unknown or len(query) != len(pairs):
            problem = f"unknown {unknown}" if unknown else "repeated parameters"
            raise ValueError(f"synthetic source: {problem}; use only {', '.join(_KEYS)}")
        spec = cls()
        fps, width, height, scene, seed = spec.fps, spec.width, spec.height, spec.scene, spec.seed
        stop_s = spec.stop_s
        if "stop" in query:
            try:
                stop_s = float(query["stop"])
            except ValueError:
                stop_s = math.nan
            if not 0 <= stop_s <= 3600:
                raise ValueError(
                    f"synthetic source: stop must be seconds in [0, 3600], got {query['stop']!r}"
                )
        if "fps" in query:
            try:
                fps = float(query["fps"])
            except ValueError:
                fps = math.nan
            if not 0 < fps <= 120:  # also rejects nan and inf
                raise ValueError(f"synthetic source: fps must be in (0, 120], got {query['fps']!r}")
        if "size" in query:
            width, height = _parse_size(query["size"])
        if "scene" in query:
            if query["scene"] not in SCENES:
                raise ValueError(
                    f"synthetic source: scene must be one of {', '.join(SCENES)}, "
                    f"got {query['scene']!r}"
                )
            scene = query["scene"]
        if "seed" in query:
            if not query["seed"].isdecimal():
                raise ValueError(
                    f"synthetic source: seed must be an integer >= 0, got {query['seed']!r}"
                )
            seed = int(query["seed"])
        return cls(fps=fps, width=width, height=height, scene=scene, seed=seed, stop_s=stop_s)


def _parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdecimal() and h.isdecimal()):
        raise ValueError(f"synthetic source: size must look like 640x480, got {text!r}")
    width, height = int(w), int(h)
    if not (32 <= width <= 7680 and 32 <= height <= 4320):
        raise ValueError(
            f"synthetic source: size must be between 32x32 and 7680x4320, got {text!r}"
        )
    return width, height


class SyntheticScene:
    """Renders frame ``index`` of a scene as a BGR uint8 image of the spec's size."""

    def __init__(self, spec: SceneSpec) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        self._walk_phase = float(rng.uniform(0, 1))
        self._light_phase = float(rng.uniform(0, 2 * math.pi))
        self._tint = rng.uniform(0.75, 1.0, size=3).astype(np.float32)
        self._texture_shift = (int(rng.integers(0, 256)), int(rng.integers(0, 256)))

    @cached_property
    def _background(self) -> NDArray[np.uint8]:
        """Gravel, softened and tinted, at the frame size (before lighting)."""
        gravel = np.roll(bundled("gravel"), self._texture_shift, axis=(0, 1))
        w, h = self.spec.width, self.spec.height
        resized = cv2.resize(gravel, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        soft = cast(NDArray[np.float32], cv2.GaussianBlur(resized, (0, 0), max(1.0, w / 640)))
        texture = 90.0 + soft * np.float32(80.0 / 255.0)  # low contrast, mid grey
        tinted = texture[:, :, None] * self._tint[None, None, :]
        background: NDArray[np.uint8] = np.clip(tinted, 0, 255).astype(np.uint8)
        return background

    @cached_property
    def _sprite(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The astronaut (alpha-premultiplied) and ``1 - alpha``, with feathered edges."""
        person = np.ascontiguousarray(bundled("astronaut")[:, 20:370, ::-1])  # RGB -> BGR
        sh = max(16, round(self.spec.height * 0.6))
        sw = max(8, min(self.spec.width // 2, round(sh * person.shape[1] / person.shape[0])))
        sprite = cv2.resize(person, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
        alpha = np.zeros((sh, sw), np.float32)
        feather = max(2, sw // 20)
        alpha[feather:-feather, feather:-feather] = 1.0
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather / 2)[:, :, None]
        return sprite * alpha, 1.0 - alpha

    @cached_property
    def _static_frame(self) -> NDArray[np.uint8]:
        return self._compose(light=1.0, index=0)

    def render(self, index: int) -> NDArray[np.uint8]:
        """Frame ``index`` (at ``index / fps`` seconds); a new array the caller may keep."""
        if self.spec.scene == "static":
            return self._static_frame.copy()
        t = index / self.spec.fps
        if self.spec.scene in SCRIPTED:
            frame = cast(
                NDArray[np.uint8], cv2.convertScaleAbs(self._background, alpha=self._light(t))
            )
            for placed in self.placements(index):
                self._draw(frame, placed)
            return frame
        return self._compose(light=self._light(t), index=index)

    def placements(self, index: int) -> list[Placement]:
        """What a scripted scene shows in frame ``index`` (nothing for the other scenes)."""
        spec = self.spec
        if spec.scene not in SCRIPTED:
            return []
        return placements(spec.scene, index, spec.fps, spec.stop_s)

    def truth(self, index: int) -> list[tuple[str, tuple[float, float, float, float]]]:
        """The photos in frame ``index`` as ``(sprite, unclipped box)``, for tests."""
        w, h = self.spec.width, self.spec.height
        return [
            (p.sprite, truth_box(p, aspect(photo(p.sprite)), w, h)) for p in self.placements(index)
        ]

    def _draw(self, frame: NDArray[np.uint8], placed: Placement) -> None:
        """Blend one photo in, feathered, clipped to the view."""
        picture = photo(placed.sprite)
        if placed.flip:
            picture = picture[:, ::-1]
        box = truth_box(placed, aspect(picture), frame.shape[1], frame.shape[0])
        x1, y1, x2, y2 = (round(v) for v in box)
        sw, sh = max(8, x2 - x1), max(8, y2 - y1)
        sprite = cv2.resize(picture, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
        flat = np.zeros((sh, sw), np.float32)
        feather = max(2, sw // 20)
        flat[feather:-feather, feather:-feather] = 1.0
        alpha = cv2.GaussianBlur(flat, (0, 0), sigmaX=feather / 2)[:, :, None]
        fx1, fy1 = max(x1, 0), max(y1, 0)
        fx2, fy2 = min(x1 + sw, frame.shape[1]), min(y1 + sh, frame.shape[0])
        if fx2 <= fx1 or fy2 <= fy1:
            return
        cut = (slice(fy1 - y1, fy2 - y1), slice(fx1 - x1, fx2 - x1))
        region = frame[fy1:fy2, fx1:fx2]
        blended = region * (1.0 - alpha[cut]) + sprite[cut] * alpha[cut]
        region[...] = np.clip(blended, 0, 255).astype(np.uint8)

    def person_box(self, index: int) -> tuple[int, int, int, int] | None:
        """Where the astronaut is in frame ``index`` as ``(x1, y1, x2, y2)``; None if absent."""
        if self.spec.scene == "empty":
            return None
        sprite, _ = self._sprite
        x, y = self._position(index)
        return x, y, x + sprite.shape[1], y + sprite.shape[0]

    def _light(self, t: float) -> float:
        return 1.0 + _LIGHT_DEPTH * math.sin(2 * math.pi * t / _LIGHT_PERIOD_S + self._light_phase)

    def _position(self, index: int) -> tuple[int, int]:
        sprite, _ = self._sprite
        sh, sw = sprite.shape[:2]
        span_x, span_y = self.spec.width - sw, self.spec.height - sh
        if self.spec.scene == "static":
            return span_x // 2, span_y // 2
        phase = (index / self.spec.fps / _WALK_PERIOD_S + self._walk_phase) % 1.0
        along = 1.0 - abs(2.0 * phase - 1.0)  # triangle wave: left, right, left
        bob = 0.5 + 0.25 * math.sin(4 * math.pi * phase)
        return round(span_x * along), round(span_y * bob)

    def _compose(self, light: float, index: int) -> NDArray[np.uint8]:
        frame = cast(NDArray[np.uint8], cv2.convertScaleAbs(self._background, alpha=light))
        if self.spec.scene != "empty":
            premultiplied, keep = self._sprite
            x, y = self._position(index)
            h, w = premultiplied.shape[:2]
            region = frame[y : y + h, x : x + w]
            region[...] = region * keep + premultiplied
        return frame


class SyntheticSource(Source):
    """The synthetic scene, paced at its fps unless ``realtime=False``; endless."""

    def __init__(self, spec: SceneSpec, *, realtime: bool = True) -> None:
        super().__init__(
            f"synthetic://?fps={spec.fps:g}&size={spec.width}x{spec.height}"
            f"&scene={spec.scene}&seed={spec.seed}",
            spec.fps,
        )
        self.scene = SyntheticScene(spec)
        self._realtime = realtime

    def frames(self) -> Iterator[DecodedFrame]:
        spec = self.scene.spec
        start = time.monotonic()
        index = 0
        while not self._closed.is_set():
            time_s = index / spec.fps
            if self._realtime:
                late = self._pace(start, time_s)
                if self._closed.is_set():
                    return
                if late > CATCH_UP_S:  # the consumer fell behind: drop frames, as a camera would
                    index = int((time.monotonic() - start) * spec.fps)
                    time_s = index / spec.fps
            yield DecodedFrame(
                self._renderer(index),
                width=spec.width,
                height=spec.height,
                pts=index,
                time_s=time_s,
                wall_ms=time.time_ns() // 1_000_000,
            )
            index += 1

    def _renderer(self, index: int) -> Callable[[], Image]:
        return lambda: self.scene.render(index)
