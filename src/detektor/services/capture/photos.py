"""The photos the synthetic camera shows, all shipped inside scikit-image's wheel (no
download): gravel for the ground, the astronaut and the cameraman (people), a motorcycle."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray


def aspect(photo: NDArray[np.uint8]) -> float:
    return float(photo.shape[1] / photo.shape[0])


@cache
def photo(sprite: str) -> NDArray[np.uint8]:
    """A scripted scene's photo (BGR), cropped to its subject."""
    if sprite == "astronaut":
        return np.ascontiguousarray(bundled("astronaut")[:, 20:370, ::-1])
    if sprite == "cameraman":
        gray = bundled("camera")[20:, 40:330]
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    from skimage import data

    found = cv2.imread(str(Path(data.__file__).parent / "motorcycle_left.png"))
    if found is None:
        raise RuntimeError("scikit-image ships no motorcycle_left.png: reinstall it")
    return np.ascontiguousarray(found)


def bundled(name: str) -> NDArray[np.uint8]:
    """An image shipped inside scikit-image's wheel (no download): gravel, astronaut."""
    from skimage import data

    image: NDArray[np.uint8] = getattr(data, name)()
    return image
