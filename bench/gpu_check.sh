#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU (run from the repository root):
# installs detektor with the gpu extra (onnxruntime-gpu, nvidia-ml-py) in its own venv, then
# prints the execution provider, the device name, and ms/frame at batch 1 and 8 on CUDA,
# followed by the same measures on the CPU. Paste its output into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
venv=${GPU_VENV:-.venv-gpu}
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[gpu]'
# onnxruntime (CPU) and onnxruntime-gpu share a module name; keep only the GPU build.
"$venv/bin/python" -m pip uninstall -q -y onnxruntime || true
"$venv/bin/python" -m pip install -q --force-reinstall 'onnxruntime-gpu[cuda,cudnn]>=1.20,<2'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$venv/bin/python" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
echo "--- CUDA"
"$venv/bin/python" bench/detector.py --device cuda --batches 1,8 --skip-throughput
echo "--- CPU"
"$venv/bin/python" bench/detector.py --device cpu --batches 1,8 --skip-throughput
