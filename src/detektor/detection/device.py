"""Which device inference runs on, and the GPU's live utilisation and memory (NVML).

NVML (``nvidia-ml-py``, from the ``gpu`` extra) is optional: without it, or without a GPU,
the GPU gauges are simply not registered, so dashboards show no data rather than a false 0.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from detektor.kit.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    provider: str  # e.g. CUDAExecutionProvider
    kind: str  # cuda | cpu
    name: str
    memory_bytes: int | None
    model: str | None = None
    """the model's file name without .onnx, e.g. nanodet-g-416-int8"""
    precision: str | None = None
    """fp32 or int8 for a bundled model; None for a model of one's own"""

    def to_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "kind": self.kind,
            "name": self.name,
            "memory_bytes": self.memory_bytes,
            "model": self.model,
            "precision": self.precision,
        }

    def summary(self) -> str:
        """One line for /info: ``cpu: AMD EPYC (2 cores), nanodet-g-416-int8``."""
        line = f"{self.kind}: {self.name}"
        return f"{line}, {self.model}" if self.model else line


def describe_device(provider: str) -> DeviceInfo:
    if provider == "CUDAExecutionProvider":
        nvml = _nvml()
        if nvml is not None:
            handle = nvml.nvmlDeviceGetHandleByIndex(0)
            name = nvml.nvmlDeviceGetName(handle)
            memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            return DeviceInfo(provider, "cuda", str(name), memory)
        return DeviceInfo(provider, "cuda", "CUDA device (install nvidia-ml-py for details)", None)
    return DeviceInfo(provider, "cpu", _cpu_name(), _memory_bytes())


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"CPU ({os.cpu_count()} cores)"


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def _nvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no package, no driver or no GPU: NVML is simply unavailable
        return None


class GpuGauges:
    """GPU utilisation and memory gauges, registered only when NVML answers."""

    def __init__(self, metrics: Metrics) -> None:
        self.nvml = _nvml()
        self.utilization: Gauge | None = None
        self.memory_used: Gauge | None = None
        if self.nvml is None:
            return
        self.utilization = metrics.gauge(
            "detektor_gpu_utilization_ratio", "GPU busy share over the last sample", ["gpu"]
        )
        self.memory_used = metrics.gauge(
            "detektor_gpu_memory_used_bytes", "GPU memory in use", ["gpu"]
        )

    def sample(self) -> None:
        if self.nvml is None or self.utilization is None or self.memory_used is None:
            return
        for index in range(self.nvml.nvmlDeviceGetCount()):
            handle = self.nvml.nvmlDeviceGetHandleByIndex(index)
            rates = self.nvml.nvmlDeviceGetUtilizationRates(handle)
            self.utilization.labels(str(index)).set(rates.gpu / 100)
            self.memory_used.labels(str(index)).set(self.nvml.nvmlDeviceGetMemoryInfo(handle).used)
