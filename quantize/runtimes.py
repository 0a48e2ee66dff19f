"""One calling convention for every runtime a bundle ships to: PyTorch, ONNX Runtime, LiteRT, MediaPipe, CoreML.

`open_runner(path, runtime, threads)` returns a `Runner` whose `run(inputs)` takes exactly the PyTorch model's inputs
(float32 numpy, any batch size N) and returns exactly its outputs in order, as float32 numpy:

- recapture: [mosaic (N, 288, 256, 3) in 0..255] -> [probabilities (N, 3)] (genuine, screen, print)
- ovd: [sequence (N, 8, 80, 128, 3) in 0..255] -> [P(real OVD) (N, 1), glare (N, 8, 10, 16)]

Decisions:
- Exported files have a static batch of 1 (mobile runtimes prefer static shapes); runners loop over N.
- Precision comes from the file name (`<model>.<precision>.<ext>`, e.g. `recapture.int8.tflite`); `.pt` is fp32.
- LiteRT output order is the signature's `output_<i>` order (litert-torch names outputs by their PyTorch position);
  files without signatures fall back to the interpreter's output order. Integer-typed inputs or outputs (should a
  model be exported with quantised I/O) are (de)quantised with the tensor's scale and zero point.
- MediaPipe runs only image models with classifier metadata (the recapture `.int8.metadata.tflite`): each mosaic is
  rounded to uint8 (MediaPipe takes images), classified with every category kept, and the scores are put back in
  label order. MediaPipe's Python API has no thread setting; `threads` is ignored there.
- CoreML runs only on macOS. On other systems `open_runner` still loads the spec (for structural checks via
  `CoreMLRunner.spec`) and `run` raises NotBuiltError("not-run: needs macOS").
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cardlive.errors import InputError, NotBuiltError, ParameterError

RUNTIMES = ("pytorch", "onnxruntime", "litert", "mediapipe", "coreml")
PRECISIONS = ("fp32", "fp16", "int8", "int8w")
NOT_ON_THIS_OS = "not-run: needs macOS"


class Runner(Protocol):
    runtime: str
    precision: str
    path: Path

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def precision_of(path: Path) -> str:
    """`recapture.int8.tflite` -> "int8"; `.pt` files are fp32."""
    path = Path(path)
    if path.suffix == ".pt":
        return "fp32"
    parts = path.name.split(".")
    for part in parts[1:]:
        if part in PRECISIONS:
            return part
    raise ParameterError(f"cannot tell the precision of {path.name}; expected <model>.<{'|'.join(PRECISIONS)}>.<ext>")


def runtime_available(runtime: str) -> tuple[bool, str]:
    """(True, "") when `runtime` can run models here, else (False, reason)."""
    if runtime not in RUNTIMES:
        return False, f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}"
    modules = {
        "pytorch": "torch",
        "onnxruntime": "onnxruntime",
        "litert": "ai_edge_litert.interpreter",
        "mediapipe": "mediapipe.tasks.python.vision",
        "coreml": "coremltools",
    }
    try:
        __import__(modules[runtime])
    except ImportError as exc:
        return False, f"not-run: {modules[runtime]} is not installed ({exc})"
    if runtime == "coreml" and sys.platform != "darwin":
        return False, NOT_ON_THIS_OS
    return True, ""


def _as_float_inputs(inputs: list[np.ndarray], expected: int) -> list[np.ndarray]:
    if len(inputs) != expected:
        raise ParameterError(f"the model takes {expected} input(s), got {len(inputs)}")
    arrays = [np.ascontiguousarray(np.asarray(x, dtype=np.float32)) for x in inputs]
    batch = {a.shape[0] for a in arrays}
    if len(batch) != 1:
        raise ParameterError(f"inputs disagree on the batch size: {sorted(batch)}")
    return arrays


def _loop_batch(arrays: list[np.ndarray], static_batch_one: bool, call: Any) -> list[np.ndarray]:
    """Run `call(list of arrays) -> list of arrays` once, or once per sample for batch-1 models, and stack."""
    if not static_batch_one:
        return [np.asarray(o, dtype=np.float32) for o in call(arrays)]
    n = arrays[0].shape[0]
    per_sample = [call([a[i : i + 1] for a in arrays]) for i in range(n)]
    return [np.concatenate([np.asarray(s[k], dtype=np.float32) for s in per_sample]) for k in range(len(per_sample[0]))]


class _Closing:
    def close(self) -> None:
        """Release the runtime now. Most hold nothing that needs it; a MediaPipe task left to the garbage collector
        can deadlock whatever code the collector interrupts (seen inside torch.export), so runners are closed
        (`opened_runner`)."""


class TorchRunner(_Closing):
    """The fp32 reference: `<model>.pt` with its card, through edge_models.weights.load_weights."""

    runtime = "pytorch"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import torch

        from edge_models.weights import load_weights

        self.path = Path(path)
        self.precision = "fp32"
        self.threads = threads
        self.loaded = load_weights(self.path)
        self._torch = torch
        self.num_inputs = 1

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        arrays = _as_float_inputs(inputs, self.num_inputs)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                out = self.loaded.model(*[torch.from_numpy(a) for a in arrays])
        finally:
            torch.set_num_threads(previous)
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.detach().numpy().astype(np.float32) for o in outs]


class OnnxRunner(_Closing):
    """ONNX Runtime on CPU, sequential execution, `threads` intra-op threads."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)  # errors only: unused-initializer notices are not actionable
        self.path = Path(path)
        self.precision = precision_of(self.path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f"ONNX Runtime cannot load {self.path}: {exc}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.static_batch_one = self.session.get_inputs()[0].shape[0] == 1

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        arrays = _as_float_inputs(inputs, len(self.input_names))

        def call(batch: list[np.ndarray]) -> list[np.ndarray]:
            result: list[np.ndarray] = self.session.run(
                self.output_names, dict(zip(self.input_names, batch, strict=True))
            )
            return result

        return _loop_batch(arrays, self.static_batch_one, call)


def _signature_index(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else 0


class LiteRTRunner(_Closing):
    """ai_edge_litert Interpreter (XNNPACK on CPU) with `threads` threads."""

    runtime = "litert"

    def __init__(self, path: Path, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.precision = precision_of(self.path)
        self.threads = threads
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"LiteRT cannot load {self.path}: {exc}") from None
        self.interpreter.allocate_tensors()
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        signatures = self.interpreter.get_signature_list()
        if signatures:
            sig = self.interpreter.get_signature_runner(next(iter(signatures)))
            sig_in, sig_out = sig.get_input_details(), sig.get_output_details()
            by_index = {d["index"]: d for d in inputs + outputs}
            self.inputs = [by_index[sig_in[n]["index"]] for n in sorted(sig_in, key=_signature_index)]
            self.outputs = [by_index[sig_out[n]["index"]] for n in sorted(sig_out, key=_signature_index)]
        else:
            self.inputs, self.outputs = list(inputs), list(outputs)
        self.static_batch_one = int(self.inputs[0]["shape"][0]) == 1

    def _set(self, detail: dict[str, Any], value: np.ndarray) -> None:
        dtype = detail["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero = detail["quantization"]
            info = np.iinfo(dtype)
            value = np.clip(np.round(value / scale + zero), info.min, info.max)
        self.interpreter.set_tensor(detail["index"], np.ascontiguousarray(value.astype(dtype)))

    def _get(self, detail: dict[str, Any]) -> np.ndarray:
        value = self.interpreter.get_tensor(detail["index"])
        if np.issubdtype(value.dtype, np.integer):
            scale, zero = detail["quantization"]
            return ((value.astype(np.float32) - zero) * scale).astype(np.float32)
        return np.array(value, dtype=np.float32)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        arrays = _as_float_inputs(inputs, len(self.inputs))

        def call(batch: list[np.ndarray]) -> list[np.ndarray]:
            for detail, value in zip(self.inputs, batch, strict=True):
                self._set(detail, value)
            self.interpreter.invoke()
            return [self._get(d) for d in self.outputs]

        return _loop_batch(arrays, self.static_batch_one, call)


class MediaPipeRunner(_Closing):
    """MediaPipe Tasks ImageClassifier over a `.tflite` with image-classifier metadata; returns label-ordered scores."""

    runtime = "mediapipe"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self.path = Path(path)
        self.precision = precision_of(self.path)
        self._mp = mp
        options = vision.ImageClassifierOptions(
            base_options=BaseOptions(model_asset_path=str(self.path)), max_results=-1, score_threshold=0.0
        )
        self.classifier: Any = None
        try:
            self.classifier = vision.ImageClassifier.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"MediaPipe cannot load {self.path} as an image classifier: {exc}") from None

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (mosaics,) = _as_float_inputs(inputs, 1)
        if mosaics.ndim != 4 or mosaics.shape[-1] != 3:
            raise ParameterError(f"MediaPipe classifies RGB images (N, H, W, 3), got shape {mosaics.shape}")
        if self.classifier is None:
            raise ParameterError(f"the MediaPipe runner for {self.path} is closed")
        rows = []
        for mosaic in mosaics:
            pixels = np.ascontiguousarray(np.clip(np.round(mosaic), 0, 255).astype(np.uint8))
            image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=pixels)
            result = self.classifier.classify(image)
            categories = result.classifications[0].categories
            scores = np.zeros(len(categories), dtype=np.float32)
            for category in categories:
                scores[category.index] = category.score
            rows.append(scores)
        return [np.stack(rows)]

    def close(self) -> None:
        if self.classifier is not None:
            self.classifier.close()
            self.classifier = None

    def __del__(self) -> None:
        if getattr(self, "classifier", None) is not None:
            warnings.warn(f"MediaPipe runner for {self.path} was not closed", ResourceWarning, stacklevel=1)


class CoreMLRunner(_Closing):
    """CoreML `.mlpackage`: the spec loads anywhere (structural checks); predictions need macOS."""

    runtime = "coreml"

    def __init__(self, path: Path, threads: int = 1) -> None:
        import coremltools as ct

        self.path = Path(path)
        self.precision = precision_of(self.path)
        if not self.path.is_dir():
            raise InputError(f"{self.path} is not an .mlpackage directory")
        try:
            self.spec = ct.utils.load_spec(str(self.path))
        except Exception as exc:  # coremltools raises several unrelated types
            raise InputError(f"coremltools cannot read {self.path}: {exc}") from None
        self.input_names = [i.name for i in self.spec.description.input]
        self.output_names = [o.name for o in self.spec.description.output]
        self._model: Any = None
        if sys.platform == "darwin":
            self._model = ct.models.MLModel(str(self.path))

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        if self._model is None:
            raise NotBuiltError(NOT_ON_THIS_OS)
        arrays = _as_float_inputs(inputs, len(self.input_names))

        def call(batch: list[np.ndarray]) -> list[np.ndarray]:
            result = self._model.predict(dict(zip(self.input_names, batch, strict=True)))
            return [np.asarray(result[name], dtype=np.float32) for name in self.output_names]

        return _loop_batch(arrays, True, call)


_RUNNERS: dict[str, type] = {
    "pytorch": TorchRunner,
    "onnxruntime": OnnxRunner,
    "litert": LiteRTRunner,
    "mediapipe": MediaPipeRunner,
    "coreml": CoreMLRunner,
}


def open_runner(path: Path, runtime: str, threads: int = 1) -> Runner:
    """A runner for the model file `path` on `runtime` ("pytorch", "onnxruntime", "litert", "mediapipe", "coreml")."""
    if runtime not in _RUNNERS:
        raise ParameterError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if threads < 1:
        raise ParameterError(f"threads must be >= 1, got {threads}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"no model file at {path}")
    runner: Runner = _RUNNERS[runtime](path, threads)
    return runner


@contextmanager
def opened_runner(path: Path, runtime: str, threads: int = 1) -> Iterator[Runner]:
    """open_runner as a context: the runner is closed when the block ends, however it ends."""
    runner = open_runner(path, runtime, threads)
    try:
        yield runner
    finally:
        runner.close()


def runtime_for(path: Path) -> str:
    """The runtime that runs a bundle file, from its extension (metadata .tflite files -> litert as well)."""
    name = Path(path).name
    if name.endswith(".pt"):
        return "pytorch"
    if name.endswith(".onnx"):
        return "onnxruntime"
    if name.endswith(".tflite"):
        return "litert"
    if name.endswith(".mlpackage"):
        return "coreml"
    raise ParameterError(f"no runtime runs {name}; expected .pt, .onnx, .tflite or .mlpackage")
