"""Build the bundled INT8 NanoDet from the FP32 one with ONNX Runtime's static quantiser.

    /work/main/.venv/bin/python scripts/quantize_model.py            # writes the bundled file
    /work/main/.venv/bin/python scripts/quantize_model.py --out /tmp/x.onnx

Dev tool (needs the ``onnx`` package of the dev extra), not run by CI: its output
``src/detektor/models/nanodet-g-416-int8.onnx`` and ``.sha256`` are committed, and the loader
checks that digest. What it does (ADR 29):

1. ``quant_pre_process`` (ONNX shape inference and graph optimisation; the symbolic shape
   inference for transformers is skipped, it needs sympy and this is a CNN).
2. ``quantize_static`` in QDQ format, uint8 activations and int8 weights, per tensor, MinMax
   calibration, as ONNX Runtime's guide recommends for x86 CPUs with VNNI.
   Calibration frames are ``sample_photos.CALIBRATION`` (CC0 / public domain photos shipped in
   scikit-image) and their mirror images, prepared by ``nanodet.prepare``, the detector's own
   letterbox and normalisation.
3. Two parts stay float (``float_nodes``, found by structure, not by name):
   - the Pad in front of the stem's MaxPool pads with -inf (TensorFlow's SAME max pooling);
     -inf has no int8 scale, so that Pad and its MaxPool stay float;
   - each output's tail, back to and including the head Conv that feeds it (Conv, Split,
     Sigmoid, Reshape, Transpose). Quantised, a score could not exceed the largest one seen
     in calibration: the first build capped the stride-8 scores at 0.35, stride 16 at 0.50
     and stride 32 at 0.72, so no small object could ever pass a camera's min_score of 0.4.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from detektor.detection import nanodet
from detektor.detection.sample_photos import CALIBRATION, photo

MODELS = Path(__file__).resolve().parents[1] / "src" / "detektor" / "models"
FP32 = MODELS / "nanodet-g-416.onnx"
INT8 = MODELS / "nanodet-g-416-int8.onnx"
BUILT_WITH = "1.32.0"
"""the onnxruntime that built the committed INT8 model; it rebuilds it byte for byte"""


class PhotoCalibration(CalibrationDataReader):  # type: ignore[misc]  # untyped base
    """Feeds the named photos, and each one mirrored, one frame per call, as the detector
    would: letterboxed and normalised by ``nanodet.prepare``. ValueError for an unknown
    photo or an empty list, before any calibration runs."""

    def __init__(self, input_name: str, names: Sequence[str] = CALIBRATION) -> None:
        if not names:
            raise ValueError("calibration needs at least one photo")
        frames = [photo(name) for name in names]
        self.input_name = input_name
        self.count = 2 * len(frames)
        self._frames: Iterator[npt.NDArray[np.uint8]] = (
            view for frame in frames for view in (frame, np.ascontiguousarray(frame[:, ::-1]))
        )

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        frame = next(self._frames, None)
        if frame is None:
            return None
        tensor, _ = nanodet.prepare([frame])
        return {self.input_name: tensor}


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes kept in float: Pads whose constant is not finite and the nodes that read
    their output, and each output's tail back to and including the Conv that feeds it."""
    constants = {
        init.name: numpy_helper.to_array(init) for init in model.graph.initializer if not init.dims
    }
    pads = {
        node.name: node.output[0]
        for node in model.graph.node
        if node.op_type == "Pad"
        and len(node.input) > 2
        and node.input[2] in constants
        and not np.isfinite(constants[node.input[2]]).all()
    }
    readers = [n.name for n in model.graph.node if set(n.input) & set(pads.values())]
    producers = {out: node for node in model.graph.node for out in node.output}
    tails: list[str] = []
    for output in model.graph.output:
        node = producers.get(output.name)
        while node is not None and node.name not in tails:
            tails.append(node.name)
            node = None if node.op_type == "Conv" else producers.get(node.input[0])
    return [*pads, *readers, *tails]


def quantize(source: Path, out: Path, names: Sequence[str] = CALIBRATION) -> str:
    """Write the INT8 model of ``source`` to ``out``; its sha256 hex digest."""
    input_name = onnx.load(str(source)).graph.input[0].name
    reader = PhotoCalibration(input_name, names)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        excluded = float_nodes(onnx.load(str(prepared)))
        # the excluded Pad's -inf output is still range-checked by the calibrator, which
        # divides by an infinite range for it and warns; that tensor is never quantised
        with np.errstate(invalid="ignore", divide="ignore"):
            quantize_static(
                str(prepared),
                str(out),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=False,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=excluded,
                calibration_providers=["CPUExecutionProvider"],
            )
    check_scales(onnx.load(str(out)))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.with_name(out.name + ".sha256").write_text(digest + "\n")
    return digest


def check_scales(model: onnx.ModelProto) -> None:
    """Every quantisation scale is finite and positive (a bad range would silence a layer)."""
    for init in model.graph.initializer:
        if init.name.endswith("_scale"):
            scale = numpy_helper.to_array(init)
            if not (np.isfinite(scale).all() and (scale > 0).all()):
                raise ValueError(f"quantisation scale {init.name} is {scale}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=FP32, help="the FP32 model")
    parser.add_argument("--out", type=Path, default=INT8, help="where the INT8 model goes")
    args = parser.parse_args(argv)
    digest = quantize(args.source, args.out)
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1e6:.1f} MB, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
