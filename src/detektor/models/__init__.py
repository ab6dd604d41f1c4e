"""Model files shipped inside the package (no download at run time).

``nanodet-g-416.onnx`` is the default detector (COCO, 80 classes); ``nanodet-g-416.onnx.sha256``
holds its hex sha256, which the loader checks; ``NOTICE`` gives its origin and licences. It was
built by ``tools/convert_nanodet.py``, which CI does not run. ``nanodet-g-416-int8.onnx`` (and
its ``.sha256``) is its INT8 version, built by ``scripts/quantize_model.py`` (ADR 29), which
``detector.precision`` auto runs on the CPU.
"""
