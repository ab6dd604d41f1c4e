"""Accuracy smoke of the bundled NanoDet-g-416 on scikit-image's photos, with its sha256.

Runs the model file shipped in the package through ONNX Runtime on the CPU, with this
package's letterbox, preprocessing and GFL decode. The expected boxes (source pixels) were read
off the photos and the model's output; the test wants IoU >= 0.5 with them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from skimage import data

import detektor.models
from detektor.detection import nanodet
from detektor.detection.nms import RawDetection, iou

MODEL = Path(detektor.models.__file__).parent / "nanodet-g-416.onnx"

# label; the subject's box in source pixels (x1, y1, x2, y2), read off the photo by eye; photo.
# The model gave (2026-11-27): astronaut person 0.734 [14.2, 14.4, 364.2, 507.9], cameraman
# person 0.877 [3.5, 68.1, 318.7, 512.0], chelsea cat 0.564 [1.8, 0.1, 441.0, 295.8].
CASES: dict[str, tuple[str, list[float], Callable[[], np.ndarray]]] = {
    "astronaut": (  # 512 x 512: from the hair to the bottom edge, left arm to right shoulder
        "person",
        [20, 15, 365, 512],
        lambda: cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
    ),
    "cameraman": (  # 512 x 512, grey: the man, from his head down, coat to the left edge
        "person",
        [0, 65, 320, 512],
        lambda: cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR),
    ),
    "chelsea": (  # 451 x 300: the cat's head fills the frame
        "cat",
        [0, 0, 451, 300],
        lambda: cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR),
    ),
}


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])


def detect(session: ort.InferenceSession, frames: list[np.ndarray]) -> list[list[RawDetection]]:
    tensor, letterboxed = nanodet.prepare(frames)
    outputs = session.run(None, {session.get_inputs()[0].name: tensor})
    return nanodet.decode(outputs, letterboxed, score_threshold=0.3)


def test_the_bundled_model_matches_its_sha256() -> None:
    expected = MODEL.with_name(MODEL.name + ".sha256").read_text().split()[0]
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == expected


@pytest.mark.parametrize("name", list(CASES))
def test_the_subject_is_found_where_it_is(session: ort.InferenceSession, name: str) -> None:
    label, box, load = CASES[name]
    (found,) = detect(session, [load()])
    best = max((d for d in found if d["label"] == label), key=lambda d: d["score"], default=None)
    assert best is not None, f"no {label} in {name}: {found}"
    assert best["score"] >= 0.4, found
    overlap = iou(np.array(box, float), np.array([best["box"]], float))[0]
    assert overlap >= 0.5, f"{name}: {best} overlaps {box} by IoU {overlap:.2f}"


def test_a_batch_gives_the_same_detections_as_single_frames(
    session: ort.InferenceSession,
) -> None:
    frames = [load() for _, _, load in CASES.values()]
    if session.get_inputs()[0].shape[0] == 1:
        pytest.fail("the bundled model has a fixed batch of 1")
    batched = detect(session, frames)
    for frame, detections in zip(frames, batched, strict=True):
        (single,) = detect(session, [frame])
        assert [d["label"] for d in detections] == [d["label"] for d in single]
        for a, b in zip(detections, single, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-3)
            np.testing.assert_allclose(a["box"], b["box"], atol=0.5)
