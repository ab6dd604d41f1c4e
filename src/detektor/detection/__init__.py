"""Pure pre- and post-processing for object detection models (numpy and OpenCV only).

No inference runtime is imported here: the ``onnx`` detector backend runs the model and hands
its raw outputs to these modules.

* ``letterbox``: frames onto the model canvas and boxes back to source pixels;
* ``nanodet``: the bundled NanoDet-g-416's input normalisation and GFL decode;
* ``yolo``: YOLO-format ONNX exports (Ultralytics v5/v8/v9/v11);
* ``nms``: candidates to detections (class-aware NMS, top-k, plain result dicts);
* ``labels``: the 80 COCO labels.

Results are plain dicts ``{"label": str, "score": float, "box": [x1, y1, x2, y2]}``, the box in
source-frame pixels rounded to 0.1 px.
"""
