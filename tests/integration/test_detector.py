"""The detector on the bundled model: synthetic scenes through the processor framework,
device metrics, and every way a model can be unusable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from pydantic import SecretStr

from detektor.detection import onnx_backend
from detektor.detection.config import ModelConfig
from detektor.detection.onnx_backend import ModelError, OnnxDetector
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.services.capture.settings import CameraSettings
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene
from support.detector_run import run_detector


def scene_messages(scene: str, camera: str, count: int) -> list[FrameMessage]:
    spec = SceneSpec.parse(f"synthetic://?fps=10&size=640x480&scene={scene}")
    render = SyntheticScene(spec)
    out = []
    for i in range(count):
        ok, jpeg = cv2.imencode(".jpg", render.render(i * 5), [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        out.append(
            FrameMessage(
                FrameId.make(camera, 1_764_230_400_000 + i, i),
                1_764_230_400_000 + i,
                i,
                640,
                480,
                jpeg.tobytes(),
            )
        )
    return out


def camera(name: str, **extra: object) -> CameraSettings:
    return CameraSettings(name=name, source=SecretStr("synthetic://"), **extra)  # type: ignore[arg-type]


def test_a_person_in_the_synthetic_scene_is_detected_and_an_empty_scene_gives_nothing() -> None:
    people = scene_messages("person", "walkway", 4)
    empty = scene_messages("empty", "garden", 4)
    sink, metrics = run_detector(people + empty, [camera("walkway"), camera("garden")])
    processed = {e.frame_id: e for e in sink.events if e.type is EventType.PROCESSED}
    assert len(processed) == 8
    for m in people:
        found = processed[m.frame_id].data["detections"]
        persons = [d for d in found if d["label"] == "person"]
        assert persons, f"no person in {m.frame_id}: {found}"
        assert max(d["score"] for d in persons) >= 0.4
    for m in empty:
        assert processed[m.frame_id].data["detections"] == ()
    text = metrics.expose(None)[0].decode()
    # detector.precision auto runs the INT8 model on the CPU (ADR 29)
    count = 'detektor_inference_duration_seconds_count{device="cpu",model="nanodet-g-416-int8"}'
    assert count in text
    assert 'provider="CPUExecutionProvider"' in text
    assert "detektor_gpu_utilization_ratio" not in text  # absent without a GPU, not zero


def test_per_camera_filters_drop_other_labels_and_low_scores() -> None:
    people = scene_messages("person", "porch", 2)
    sink, _ = run_detector(people, [camera("porch", labels=["car"])])
    processed = [e for e in sink.events if e.type is EventType.PROCESSED]
    assert all(e.data["detections"] == () for e in processed)
    sink, _ = run_detector(people, [camera("porch", min_score=0.99)])
    assert all(e.data["detections"] == () for e in sink.events if e.type is EventType.PROCESSED)


def test_missing_or_corrupt_model_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxDetector(ModelConfig(model=tmp_path / "nope.onnx"))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="cannot load model"):
        OnnxDetector(ModelConfig(model=garbage))


def test_a_bundled_model_that_fails_its_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = onnx_backend.bundled_model()
    copy = tmp_path / bundled.name
    data = bytearray(bundled.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    shutil.copy(bundled.with_name(bundled.name + ".sha256"), tmp_path)
    monkeypatch.setattr(onnx_backend, "bundled_model", lambda precision: copy)
    with pytest.raises(ModelError, match="sha256"):
        OnnxDetector(ModelConfig(precision="fp32"))
    (tmp_path / (bundled.name + ".sha256")).unlink()
    with pytest.raises(ModelError, match="checksum"):
        OnnxDetector(ModelConfig(precision="fp32"))


def test_outputs_that_do_not_fit_the_format_are_refused() -> None:
    bundled = onnx_backend.bundled_model()
    with pytest.raises(ModelError, match="does not fit format 'yolo'"):
        OnnxDetector(ModelConfig(model=bundled, format="yolo", labels=("a", "b")))
    with pytest.raises(ModelError, match="does not fit format 'nanodet'"):
        OnnxDetector(ModelConfig(model=bundled, labels=("only", "three", "labels")))


def test_cuda_required_without_cuda_is_refused() -> None:
    with pytest.raises(ModelError, match="no CUDA provider"):
        OnnxDetector(ModelConfig(device="cuda"))


def test_serve_detector_with_a_bad_model_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "serve", "detector"],
        env={"PATH": "/usr/bin:/bin", "DETEKTOR_DETECTOR__MODEL": str(tmp_path / "x.onnx")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "model file not found" in done.stderr


def test_serve_detector_with_cuda_required_and_no_cuda_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "serve", "detector"],
        env={"PATH": "/usr/bin:/bin", "DETEKTOR_DETECTOR__DEVICE": "cuda"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "detector.device is cuda but ONNX Runtime" in done.stderr


def test_warm_up_runs_one_inference_of_the_whole_batch() -> None:
    """A detector service starts with its largest batch already run (ONNX Runtime's memory
    arena then has its steady size; the stack test's leak check saw a 1.5x step without)."""
    detector = OnnxDetector(ModelConfig())
    shapes: list[tuple[int, ...]] = []
    real_run = detector.session.run

    class Recording:
        def run(self, names: object, feeds: dict[str, object]) -> object:
            shapes.extend(getattr(v, "shape", ()) for v in feeds.values())
            return real_run(names, feeds)  # type: ignore[arg-type]

    detector.session = Recording()  # type: ignore[assignment]
    took = detector.warm_up(4)
    assert took > 0
    assert [shape[0] for shape in shapes] == [4]
