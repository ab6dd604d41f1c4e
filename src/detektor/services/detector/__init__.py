"""The detector service: a processor on the frame bus (motion regions until ONNX lands)."""
