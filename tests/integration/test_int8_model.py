"""The bundled INT8 NanoDet through the real loader: it finds what FP32 finds, it is checked
against its sha256, and ``detector.precision`` picks it (ADR 29).

Real models, real ONNX Runtime on the CPU, scikit-image's photos; the only stand-in is a CUDA
build's provider list at the one seam (``ort_session.available_providers``), since this
machine's onnxruntime has no CUDA.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import detektor
from detektor.detection import onnx_backend, ort_session
from detektor.detection.config import ModelConfig
from detektor.detection.nms import RawDetection, iou
from detektor.detection.onnx_backend import ModelError, OnnxDetector, bundled_precision
from detektor.detection.sample_photos import photo
from detektor.services.detector.settings import DetectorSettings


def person(found: list[RawDetection]) -> RawDetection:
    people = [d for d in found if d["label"] == "person"]
    assert people, found
    return max(people, key=lambda d: d["score"])


@pytest.fixture(scope="module")
def models() -> dict[str, OnnxDetector]:
    return {p: OnnxDetector(ModelConfig(precision=p, device="cpu")) for p in ("fp32", "int8")}


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_int8_finds_the_person_where_fp32_does(models: dict[str, OnnxDetector], name: str) -> None:
    frame = photo(name)
    fp32, int8 = (person(models[p].detect([frame])[0]) for p in ("fp32", "int8"))
    overlap = iou(np.array(fp32["box"]), np.array([int8["box"]]))[0]
    assert overlap >= 0.5, (fp32, int8)
    assert int8["score"] >= 0.5, int8
    assert models["int8"].name == "nanodet-g-416-int8"
    assert models["fp32"].name == "nanodet-g-416"


def test_info_says_which_model_and_precision_run(models: dict[str, OnnxDetector]) -> None:
    device = models["int8"].device
    assert device.to_dict()["model"] == "nanodet-g-416-int8"
    assert device.to_dict()["precision"] == "int8"
    assert device.summary().startswith("cpu: ")
    assert device.summary().endswith(", nanodet-g-416-int8")


def test_auto_is_int8_on_the_cpu() -> None:
    detector = OnnxDetector(ModelConfig(device="auto"))  # this onnxruntime has no CUDA
    assert (detector.name, detector.precision) == ("nanodet-g-416-int8", "int8")


def test_auto_is_fp32_where_cuda_may_run(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort_session, "available_providers", lambda: listed)
    assert bundled_precision("auto", "auto") == "fp32"
    assert bundled_precision("auto", "cuda") == "fp32"
    assert bundled_precision("auto", "cpu") == "int8"
    assert bundled_precision("int8", "cuda") == "int8"  # asked for: given


def test_a_corrupt_or_unchecked_int8_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = onnx_backend.bundled_model("int8")
    copy = tmp_path / bundled.name
    data = bytearray(bundled.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    shutil.copy(bundled.with_name(bundled.name + ".sha256"), tmp_path)
    monkeypatch.setattr(onnx_backend, "bundled_model", lambda precision: copy)
    with pytest.raises(ModelError, match=r"nanodet-g-416-int8\.onnx has sha256 .*reinstall"):
        OnnxDetector(ModelConfig(precision="int8"))
    (tmp_path / (bundled.name + ".sha256")).unlink()
    with pytest.raises(ModelError, match=r"checksum .*int8\.onnx\.sha256 is missing"):
        OnnxDetector(ModelConfig(precision="int8"))


def test_a_precision_with_a_model_of_ones_own_is_a_clear_error(tmp_path: Path) -> None:
    own = onnx_backend.bundled_model("fp32")
    with pytest.raises(ValidationError, match=r"used as given: unset detector\.precision"):
        DetectorSettings(model=own, precision="int8")
    with pytest.raises(ValidationError, match=r"detector\.precision fp32 picks one of the bundled"):
        DetectorSettings(model=own, precision="fp32")
    with pytest.raises(ModelError, match="used as given"):
        OnnxDetector(ModelConfig(model=own, precision="int8"))
    own_auto = OnnxDetector(ModelConfig(model=own, precision="auto", device="cpu"))
    assert (own_auto.path, own_auto.precision) == (own, None)
    assert DetectorSettings(model=own).detection_config().precision == "auto"


@pytest.mark.parametrize("bad", ["fp16", "INT8", "", 8, None])
def test_a_precision_outside_fp32_int8_auto_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError, match=r"precision\n.*'auto', 'fp32' or 'int8'"):
        DetectorSettings.model_validate({"precision": bad})


def test_the_precision_reaches_the_model_config() -> None:
    assert DetectorSettings().precision == "auto"
    assert DetectorSettings(precision="fp32").detection_config().precision == "fp32"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {
                "DETEKTOR_DETECTOR__MODEL": "/nowhere/own.onnx",
                "DETEKTOR_DETECTOR__PRECISION": "int8",
            },
            "detector.precision int8 picks one of the bundled models",
        ),
        (
            {"DETEKTOR_DETECTOR__PRECISION": "fp16"},
            "detector.precision (DETEKTOR_DETECTOR__PRECISION): Input should be 'auto', 'fp32' "
            "or 'int8' (got 'fp16')",
        ),
    ],
)
def test_serve_detector_with_a_bad_precision_exits_2_saying_why(
    env: dict[str, str], said: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "serve", "detector"],
        # the package under test, wherever it is imported from here (a worktree, say)
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(detektor.__file__).parents[1]), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert said in done.stderr
