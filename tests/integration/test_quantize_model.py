"""``scripts/quantize_model.py``: its calibration frames are the detector's own input, and a
run on a few photos writes an INT8 model (and its sha256) that still finds the astronaut.

Calibrating on all of ``sample_photos.CALIBRATION`` takes a few seconds. With only two of
the photos (grass and the clock) the astronaut was lost: the set's size is not incidental.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from detektor.detection import nanodet
from detektor.detection.config import ModelConfig
from detektor.detection.onnx_backend import OnnxDetector, bundled_model
from detektor.detection.sample_photos import CALIBRATION, EVALUATION, photo

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "quantize_model.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quantize_model", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_calibration_feeds_each_photo_and_its_mirror_as_the_detector_would(
    script: ModuleType,
) -> None:
    reader = script.PhotoCalibration("x", ["astronaut"])
    fed = [reader.get_next(), reader.get_next()]
    assert reader.get_next() is None
    expected, _ = nanodet.prepare([photo("astronaut")])
    assert fed[0].keys() == {"x"}
    np.testing.assert_array_equal(fed[0]["x"], expected)
    mirrored, _ = nanodet.prepare([np.ascontiguousarray(photo("astronaut")[:, ::-1])])
    np.testing.assert_array_equal(fed[1]["x"], mirrored)
    assert fed[1]["x"].dtype == np.float32
    assert fed[1]["x"].shape == (1, 3, 416, 416)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "at least one photo"),
        (["nope"], "not one of the sample photos"),
        (["download_all"], "not one of the sample photos"),
    ],
)
def test_calibration_refuses_no_photos_or_unknown_ones(
    script: ModuleType, names: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        script.PhotoCalibration("x", names)


def test_calibration_and_evaluation_photos_are_apart() -> None:
    assert not set(CALIBRATION) & set(EVALUATION)
    for name in CALIBRATION:
        frame = photo(name)
        assert frame.dtype == np.uint8
        assert frame.shape[2:] == (3,)


def test_the_minus_infinity_pad_and_the_score_outputs_are_kept_float(script: ModuleType) -> None:
    kept = [n.split("_")[0] for n in script.float_nodes(onnx.load(str(bundled_model("fp32"))))]
    assert kept[:2] == ["Pad", "MaxPool"]
    # per output: Transpose <- Reshape <- (Sigmoid <-) Split <- Conv, shared tails once
    assert kept.count("Conv") == 3
    assert kept.count("Sigmoid") == 3
    assert kept.count("Transpose") == 6


def test_scores_are_not_capped_by_the_calibration_range(script: ModuleType) -> None:
    """The first build capped every stride-8 score at 0.35: calibration photos have no
    confident small objects. The head stays float, so scores reach what FP32 gives."""
    model = onnx.load(str(bundled_model("int8")))
    quantised = {n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    assert {producers[o.name] for o in model.graph.output} == {"Transpose"}
    assert not {n.output[0] for n in model.graph.node if n.op_type == "Sigmoid"} & quantised


def test_a_quantize_run_rebuilds_the_bundled_model(script: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "q.onnx"
    digest = script.quantize(bundled_model("fp32"), out)
    assert (tmp_path / "q.onnx.sha256").read_text().split()[0] == digest
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    assert out.stat().st_size < bundled_model("fp32").stat().st_size / 3
    found = OnnxDetector(ModelConfig(model=out, device="cpu")).detect([photo("astronaut")])[0]
    assert any(d["label"] == "person" and d["score"] >= 0.5 for d in found), found
    if ort.__version__ == script.BUILT_WITH:  # other versions quantise to other bytes
        committed = bundled_model("int8").with_name("nanodet-g-416-int8.onnx.sha256")
        assert committed.read_text().split()[0] == digest
