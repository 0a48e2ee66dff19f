"""ONNX export: the fp32 reference graph and a static int8 QDQ graph from ONNX Runtime's quantiser.

Decisions:
- Exported with the TorchScript-based exporter (`dynamo=False`, opset 17): the dynamo exporter needs onnxscript,
  which is not in the lock file, and these graphs use only Conv/Relu-clip/Slice/Concat/ReduceMean/Gemm/Softmax.
- Static batch 1 (like the LiteRT and CoreML files); quantize.runtimes loops over a batch.
- Names: recapture `mosaic` -> `probabilities`; ovd `sequence` -> `p_real`, `glare`.
- int8: QDQ format, per-channel symmetric int8 weights, uint8 activations (ONNX Runtime's advice for x86 with VNNI,
  which the servers and this machine have), MinMax calibration over the calibration set. The output Softmax /
  Sigmoid stay float (as in the LiteRT file): an 8-bit probability steps by 1/256 around a 0.125 threshold.
- The per-layer report runs the float graph that was quantised and the QDQ graph on a few calibration samples
  with every intermediate tensor exposed (onnxruntime.quantization.qdq_loss_debug) and reports, per activation in
  graph order, the SQNR (dB) of the quantised graph's tensor against the float graph's (`sqnr_db`; includes the
  error accumulated upstream).
  Low values show the layers that hurt. (ORT's per-tensor "pre vs post QDQ" number is left out: for Clip outputs
  whose QDQ absorbed the clip it compares different tensors and reads as ~3 dB.)
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization import qdq_loss_debug as qdq_debug
from torch import nn

IO_NAMES = {
    "recapture": (["mosaic"], ["probabilities"]),
    "ovd": (["sequence"], ["p_real", "glare"]),
}
OPSET = 17
onnxruntime.set_default_logger_severity(3)


def export_onnx_fp32(model: nn.Module, name: str, example: np.ndarray, path: Path) -> Path:
    """Write the fp32 ONNX graph of an eval-mode (BN-folded) model with a static batch of 1."""
    inputs, outputs = IO_NAMES[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model.eval(),
            (torch.from_numpy(np.ascontiguousarray(example[:1], dtype=np.float32)),),
            str(path),
            input_names=inputs,
            output_names=outputs,
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(str(path))
    return path


class _Reader(CalibrationDataReader):
    def __init__(self, input_name: str, batches: list[np.ndarray]) -> None:
        self._items = iter([{input_name: b.astype(np.float32)} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


FLOAT_OUTPUT_OPS = ("Softmax", "Sigmoid")


def _scope(module: str) -> str:
    parts = module.split(".")
    return "/" + "/".join(".".join(parts[: i + 1]) for i in range(len(parts))) + "/"


def float_nodes(graph: onnx.GraphProto, float_modules: tuple[str, ...]) -> list[str]:
    """Nodes left in float: those of `float_modules` and the output Softmax / Sigmoid (float outputs, as in the
    LiteRT file). The exporter names a node of module "a.b" "/a/a.b/<Op>" (each scope the full dotted path)."""
    prefixes = tuple(_scope(module) for module in float_modules)
    return [n.name for n in graph.node if n.name.startswith(prefixes) or n.op_type in FLOAT_OUTPUT_OPS]


def quantize_onnx_int8(
    fp32_path: Path,
    out_path: Path,
    batches: list[np.ndarray],
    float_modules: tuple[str, ...] = (),
    per_channel: bool = True,
) -> Path:
    """Static int8 QDQ quantisation of `fp32_path` calibrated on `batches` (each a batch-1 input); the nodes of
    `float_modules` and the output activations stay float. `per_channel=False` is the tests' negative control."""
    graph = onnx.load(str(fp32_path)).graph
    input_name = graph.input[0].name
    quantize_static(
        str(fp32_path),
        str(out_path),
        _Reader(input_name, batches),
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=float_nodes(graph, float_modules),
    )
    return out_path


def _activations(model_path: Path, input_name: str, batches: list[np.ndarray], work: Path) -> dict[str, Any]:
    augmented = work / f"augmented_{model_path.name}"
    qdq_debug.modify_model_output_intermediate_tensors(str(model_path), str(augmented))
    result: dict[str, Any] = qdq_debug.collect_activations(str(augmented), _Reader(input_name, batches))
    return result


def onnx_layer_report(fp32_path: Path, int8_path: Path, batches: list[np.ndarray]) -> list[dict[str, Any]]:
    """Per activation tensor, in graph order: SQNR (dB) of the int8 graph against the fp32 graph."""
    input_name = onnx.load(str(fp32_path)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        float_acts = _activations(fp32_path, input_name, batches, work)
        qdq_acts = _activations(int8_path, input_name, batches, work)
    matching = qdq_debug.create_activation_matching(qdq_acts, float_acts)
    errors = qdq_debug.compute_activation_error(matching)
    order: dict[str, tuple[int, str]] = {}
    for index, node in enumerate(onnx.load(str(fp32_path)).graph.node):
        for output in node.output:
            order.setdefault(output, (index, node.op_type))
    rows = []
    for tensor, err in errors.items():
        index, op_type = order.get(tensor, (len(order), "input"))
        rows.append(
            {
                "tensor": tensor,
                "op": op_type,
                "position": index,
                "sqnr_db": float(err["xmodel_err"]) if "xmodel_err" in err else None,
            }
        )
    return sorted(rows, key=lambda r: (r["position"], r["tensor"]))


def onnx_io(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of an ONNX file as manifest entries {name, shape, dtype}."""
    graph = onnx.load(str(path)).graph

    def entry(value: onnx.ValueInfoProto) -> dict[str, Any]:
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        return {"name": value.name, "shape": shape, "dtype": dtype}

    return [entry(v) for v in graph.input], [entry(v) for v in graph.output]
