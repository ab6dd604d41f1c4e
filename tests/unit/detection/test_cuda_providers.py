"""``device: cuda`` is refused unless the ONNX Runtime session really took CUDA, with ORT's
reason; ``auto`` falls back to the CPU and says why.

This machine's onnxruntime is the CPU build, so "no CUDA provider at all" is the real path.
"CUDA listed but the session did not take it" (a broken CUDA install) is reached by standing
in a CUDA build's provider list at the one seam, ``available_providers``: the session is then
really created with CUDA requested, and ONNX Runtime really falls back to the CPU.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from detektor.detection import ort_session
from detektor.detection.config import Device, ModelConfig
from detektor.detection.onnx_backend import ModelError, OnnxDetector
from detektor.detection.ort_session import captured_stderr
from support.onnx_models import yolo_like


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return yolo_like(tmp_path / "m.onnx")


def detector(model: Path, device: Device) -> OnnxDetector:
    return OnnxDetector(ModelConfig(model=model, format="yolo", device=device))


@pytest.fixture
def cuda_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort_session, "available_providers", lambda: listed)


def test_cuda_without_a_cuda_provider_is_refused_before_the_session(model: Path) -> None:
    with pytest.raises(ModelError, match=r"no CUDA provider.*set detector\.device to auto or cpu"):
        detector(model, "cuda")


@pytest.mark.usefixtures("cuda_listed")
def test_cuda_that_the_session_did_not_take_is_refused_with_ort_s_reason(model: Path) -> None:
    with pytest.raises(ModelError) as refused:
        detector(model, "cuda")
    message = str(refused.value)
    assert "did not take the CUDA provider (session providers: CPUExecutionProvider)" in message
    # ONNX Runtime's own words, which it used to say only on stderr (or not at all)
    assert "not in available provider names" in message


@pytest.mark.usefixtures("cuda_listed")
def test_auto_falls_back_to_the_cpu_and_logs_why(
    model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="detektor.detection.ort_session"):
        found = detector(model, "auto")
    assert found.provider == "CPUExecutionProvider"
    assert found.device.kind == "cpu"
    why = [r.getMessage() for r in caplog.records if "could not use CUDA" in r.getMessage()]
    assert why, [r.getMessage() for r in caplog.records]
    assert "not in available provider names" in why[0]


def test_native_stderr_is_captured_and_restored() -> None:
    lines: list[str] = []
    with captured_stderr(lines):
        os.write(2, b"2026 [W:onnxruntime:, provider_bridge] libcudnn.so.9: not found\n\n")
    assert lines == ["2026 [W:onnxruntime:, provider_bridge] libcudnn.so.9: not found"]
    os.write(2, b"")  # fd 2 is usable again
    with captured_stderr(lines):
        pass
    assert len(lines) == 1
