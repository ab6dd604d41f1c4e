"""Opening an ONNX Runtime session on the requested device, and proving it got that device.

ONNX Runtime lists a provider as available when its library is installed, yet may still fail
to create it (missing cuDNN, driver mismatch): it then logs why on stderr (or warns in Python)
and silently runs on the CPU. So the providers are checked twice: before creation (is CUDA
installed at all?) and after (did the session take it?). While a cuda/auto session is created,
ONNX Runtime's warnings are captured (native stderr and Python warnings) and relayed to our
log, and their text is the reason given when ``device: cuda`` is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnxruntime as ort

from detektor.detection.config import Device

log = logging.getLogger(__name__)
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class DeviceError(Exception):
    """The requested device cannot be used; the message says why and what to change."""


def available_providers() -> list[str]:
    """The providers this ONNX Runtime build has (a seam: tests stand in a CUDA build)."""
    return list(ort.get_available_providers())


def choose_providers(device: Device) -> list[str]:
    available = available_providers()
    has_cuda = CUDA in available
    if device == "cuda" and not has_cuda:
        raise DeviceError(
            "detector.device is cuda but ONNX Runtime has no CUDA provider (available: "
            f"{', '.join(available)}); install detektor[gpu] on a machine with an NVIDIA GPU, "
            "or set detector.device to auto or cpu"
        )
    if device == "auto" and not has_cuda:
        log.warning("no CUDA provider in ONNX Runtime: the detector runs on the CPU")
    if device in ("auto", "cuda") and has_cuda:
        return [CUDA, CPU]
    return [CPU]


@contextlib.contextmanager
def captured_stderr(into: list[str]) -> Iterator[None]:
    """Route the process's native stderr (fd 2) to a file meanwhile; its lines go to ``into``.

    ONNX Runtime's C++ logger writes there, out of reach of Python's logging.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            into.extend(line for line in text.splitlines() if line.strip())


def open_session(
    path: Path, device: Device, threads: int
) -> tuple[ort.InferenceSession, list[str]]:
    """The session and ONNX Runtime's messages from its creation; DeviceError when
    ``device`` is cuda and the session did not take CUDA. Other ORT errors propagate."""
    providers = choose_providers(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Chosen by measurement (ADR 31, bench/inprocess.py): one operator at a time (the
    # parallel executor cost twice the CPU), and pool threads that sleep between operators
    # rather than spin, which took a quarter off the CPU per frame on two cores for the same
    # or a better wall time, CPU that capture and the rest of the pipeline need.
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # warnings (2) when a GPU is wanted: a CUDA fallback is logged there; CPU: errors only
    options.log_severity_level = 3 if device == "cpu" else 2
    messages: list[str] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught, captured_stderr(messages):
            warnings.simplefilter("always")
            session: Any = ort.InferenceSession(str(path), options, providers=providers)
    finally:  # relayed even when creation fails: they may say why
        messages[:0] = [str(w.message) for w in caught]
        for message in messages:
            log.warning("onnxruntime: %s", message)
    taken = list(session.get_providers())
    if CUDA in providers and CUDA not in taken:
        reason = "; ".join(messages)[-600:] or "it gave no reason"
        if device == "cuda":
            raise DeviceError(
                f"detector.device is cuda but ONNX Runtime did not take the CUDA provider "
                f"(session providers: {', '.join(taken)}); ONNX Runtime said: {reason}. Check "
                "the CUDA and cuDNN libraries onnxruntime-gpu needs, or set detector.device "
                "to auto or cpu"
            )
        log.warning("ONNX Runtime could not use CUDA, the detector runs on the CPU: %s", reason)
    return session, messages
