"""Post-training quantisation and export (LiteRT, CoreML, ONNX) with a signed manifest. Built in issue 5."""
