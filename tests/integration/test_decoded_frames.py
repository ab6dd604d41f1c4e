"""Issue 16: in one process frames reach the detector as decoded arrays, not as JPEG.

The real bundled detector is run on real photographs twice through the processor framework and
the in-memory bus: once as the Redis bus carries them (a JPEG, decoded by the processor) and
once as ``detektor run`` now carries them (the decoded image itself). The detections must be
the same within what JPEG's loss moves: same labels, boxes overlapping (IoU >= 0.5), scores
close. The capture side is checked too: with ``send_images`` it publishes the image and
encodes nothing; the wire form of such a message is refused, so it can never reach Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from pydantic import SecretStr
from skimage import data

from detektor.adapters.memory_bus import MemoryFrameBus
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.pipeline.decoding import decode, jpeg_of
from detektor.ports import Delivery
from detektor.services.capture.settings import CameraSettings
from support.detector_run import run_detector

Image = NDArray[np.uint8]
Detection = dict[str, Any]  # {"label", "score", "box"}
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field")


def photo(name: str) -> Image:
    rgb = getattr(data, name)()
    image: Image = np.ascontiguousarray(cv2.resize(rgb[:, :, ::-1], (640, 480)))
    return image


def frame_message(camera: str, seq: int, image: Image, *, as_jpeg: bool) -> FrameMessage:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    common = FrameMessage(FrameId.make(camera, now_ms, seq), now_ms, seq, 640, 480, b"")
    if not as_jpeg:
        return replace(common, image=image)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return replace(common, jpeg=buf.tobytes())


def detect(messages: list[FrameMessage]) -> dict[FrameId, list[Detection]]:
    """Each frame's detections from the real detector, through the runner and the memory bus."""
    cameras = [CameraSettings(name="cam", source=SecretStr("synthetic://"), min_score=0.3)]
    sink, _ = run_detector(messages, cameras)
    return {
        e.frame_id: list(cast(Iterable[Detection], e.data["detections"]))
        for e in sink.events
        if e.type is EventType.PROCESSED
    }


def delivered(msg: FrameMessage) -> Delivery:
    """``msg`` published on the memory bus and consumed back."""

    async def scenario() -> list[Delivery]:
        bus = MemoryFrameBus()
        await bus.publish(msg)
        return await bus.consume("t", 10, block_ms=0)

    (delivery,) = asyncio.run(scenario())
    return delivery


def iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def unmatched(mine: list[Detection], theirs: list[Detection], floor: float) -> list[Detection]:
    """Mine scoring at least ``floor`` that have no twin in ``theirs`` (same label, IoU >= 0.5,
    score within 0.1)."""
    missing = []
    for d in mine:
        if d["score"] < floor:
            continue
        twin = any(
            t["label"] == d["label"]
            and iou(t["box"], d["box"]) >= 0.5
            and abs(t["score"] - d["score"]) <= 0.1
            for t in theirs
        )
        if not twin:
            missing.append(d)
    return missing


def test_decoded_frames_give_the_detections_of_the_jpeg_path_on_real_photos() -> None:
    images = [photo(name) for name in PHOTOS]
    jpeg = [frame_message("cam", i + 1, im, as_jpeg=True) for i, im in enumerate(images)]
    decoded = [frame_message("cam", i + 101, im, as_jpeg=False) for i, im in enumerate(images)]
    found = detect(jpeg + decoded)
    total = 0
    for name, j, d in zip(PHOTOS, jpeg, decoded, strict=True):
        via_jpeg, direct = found[j.frame_id], found[d.frame_id]
        total += len(direct)
        # A detection near the 0.3 floor may fall either side of it after JPEG's loss; a
        # clear one must be found both ways, in the same place, with a close score.
        assert not unmatched(direct, via_jpeg, 0.4), (name, direct, via_jpeg)
        assert not unmatched(via_jpeg, direct, 0.4), (name, via_jpeg, direct)
    assert total >= 3, "the photos gave too few detections for the comparison to mean much"
    labels = {d["label"] for d in found[decoded[0].frame_id]}
    assert "person" in labels  # the astronaut


def test_a_decoded_message_is_used_as_it_is_and_checked_against_its_size() -> None:
    image = photo("coffee")
    msg = frame_message("cam", 1, image, as_jpeg=False)
    delivery = delivered(msg)
    frame, problem = decode(delivery)
    assert problem is None
    assert frame is not None
    assert frame.image is image  # no copy, no JPEG round trip
    assert b"jpeg" not in delivery.fields
    # A JPEG is still there for whoever needs one, made on demand.
    picture = jpeg_of(msg)
    assert picture[:2] == b"\xff\xd8"
    again = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert again is not None
    assert again.shape == image.shape
    # The wire form of an image-only message is refused: it cannot reach Redis.
    with pytest.raises(ValueError, match="no wire form"):
        msg.to_fields()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.zeros((480, 640), np.uint8), "image is (480, 640) but the entry says 640x480"),
        (np.zeros((240, 320, 3), np.uint8), "image is (240, 320, 3) but the entry says 640x480"),
        (np.zeros((480, 640, 3), np.float32), "image is a ndarray of float32, not uint8"),
        ([[0] * 640] * 480, "image is a list of ?, not uint8"),
    ],
)
def test_a_carried_image_of_the_wrong_shape_or_type_is_refused_with_the_reason(
    bad: object, reason: str
) -> None:
    delivery = delivered(frame_message("cam", 1, bad, as_jpeg=False))  # type: ignore[arg-type]
    frame, problem = decode(delivery)
    assert frame is None
    assert problem == reason
