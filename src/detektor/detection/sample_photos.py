"""The photos shipped inside scikit-image's wheel that the INT8 model is built and judged on.

Two disjoint sets, so the INT8 model is never judged on a photo it was calibrated on:

* ``CALIBRATION``: what ``scripts/quantize_model.py`` feeds ONNX Runtime's static quantiser to
  measure activation ranges. Each is CC0 or public domain by scikit-image's own notes
  (``skimage/data/_fetchers.py``; the colour wheel and the coins, whose notes grant less, are
  left out), so a model derived from them may be shipped. None of them
  shows the people, cats or vehicles of the evaluation set; they cover outdoor textures,
  colour, night sky, text and fine detail, which is what sets the activation ranges.
* ``EVALUATION``: what ``bench/int8.py`` and the tests compare FP32 and INT8 on: the photos
  with COCO objects in them (people, a cat, a cup, a motorcycle, a rocket) and two scenes
  without any (the moon, a scanned page), where extra detections would show.

No other installed package ships a photograph (only plots and test patterns), so these are all.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

CALIBRATION = (
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "retina",
    "text",
    "clock",
    "horse",
    "microaneurysms",
    "cell",
)
EVALUATION = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle_left",
    "motorcycle_right",
    "moon",
    "page",
)
_FILES = {"motorcycle_left": "motorcycle_left.png", "motorcycle_right": "motorcycle_right.png"}


def photo(name: str) -> npt.NDArray[np.uint8]:
    """scikit-image's photo ``name`` as an ``H x W x 3`` BGR uint8 frame, as a camera gives.

    Raises ValueError for a name outside ``CALIBRATION`` and ``EVALUATION``."""
    from skimage import data

    if name in _FILES:
        found = cv2.imread(str(Path(data.__file__).parent / _FILES[name]), cv2.IMREAD_COLOR)
        if found is None:
            raise ValueError(f"scikit-image ships no {_FILES[name]}: reinstall scikit-image")
        return np.ascontiguousarray(found, dtype=np.uint8)
    if name not in CALIBRATION + EVALUATION:
        raise ValueError(f"{name!r} is not one of the sample photos: {CALIBRATION + EVALUATION}")
    image = np.asarray(getattr(data, name)())
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"scikit-image's {name!r} is not an 8-bit picture ({image.dtype})")
    if image.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    code = cv2.COLOR_RGBA2BGR if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    return np.ascontiguousarray(cv2.cvtColor(image, code), dtype=np.uint8)
