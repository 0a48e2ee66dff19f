"""CoreML export (.mlpackage, ML Program) in fp16 and with int8 weights, and a structural check that runs on Linux.

Decisions:
- Converted from `torch.export` (coremltools 9 supports ExportedProgram; TorchScript tracing bakes the batch size
  into an int cast that coremltools rejects), static batch 1, minimum deployment target iOS 16 (the first with
  ML Program weight compression ops; spec version 7).
- fp16: compute precision FLOAT16 (what the Neural Engine runs); input and outputs stay float32 at the interface.
- int8w: the fp16 program with every weight linearly quantised to int8, symmetric, per output channel
  (coremltools.optimize.coreml.linear_quantize_weights, weight_threshold 0 so even the small layers are
  compressed); activations stay fp16.
- Predictions need macOS; on Linux `validate_coreml` checks what can be checked: spec version, input/output names,
  shapes and dtypes, the precision actually stored (weight constant dtypes, dequantise ops) and that the weight
  blob file exists and holds every referenced offset.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from quantize.onnx_export import IO_NAMES

MIN_SPEC_VERSION = 7  # iOS 16 / macOS 13
_ARRAY_DTYPES = {65568: "float32", 65552: "float16", 131104: "int32", 65600: "float64"}


def export_coreml(model: nn.Module, name: str, example: np.ndarray, path: Path, precision: str) -> Path:
    """Write `<path>` (.mlpackage) in precision "fp16" or "int8w"."""
    import coremltools as ct

    if precision not in ("fp16", "int8w"):
        raise ValueError(f"CoreML precision must be fp16 or int8w, got {precision!r}")
    inputs, outputs = IO_NAMES[name]
    x = torch.from_numpy(np.ascontiguousarray(example[:1], dtype=np.float32))
    program = torch.export.export(copy.deepcopy(model).eval(), (x,)).run_decompositions({})
    mlmodel = ct.convert(
        program,
        inputs=[ct.TensorType(name=inputs[0], shape=tuple(x.shape), dtype=np.float32)],
        outputs=[ct.TensorType(name=o, dtype=np.float32) for o in outputs],
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT16,
        minimum_deployment_target=ct.target.iOS16,
    )
    if precision == "int8w":
        config = ct.optimize.coreml.OptimizationConfig(
            global_config=ct.optimize.coreml.OpLinearQuantizerConfig(
                mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0
            )
        )
        mlmodel = ct.optimize.coreml.linear_quantize_weights(mlmodel, config)
    mlmodel.short_description = f"cardlive {name} ({precision})"
    path.parent.mkdir(parents=True, exist_ok=True)
    mlmodel.save(str(path))
    return path


def _feature(desc: Any) -> dict[str, Any]:
    array = desc.type.multiArrayType
    return {"name": desc.name, "shape": [int(v) for v in array.shape], "dtype": _ARRAY_DTYPES.get(array.dataType, "?")}


def coreml_io(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of an .mlpackage as manifest entries {name, shape, dtype} (works on Linux)."""
    import coremltools as ct

    spec = ct.utils.load_spec(str(path))
    return [_feature(d) for d in spec.description.input], [_feature(d) for d in spec.description.output]


def _operations(spec: Any) -> list[Any]:
    function = spec.mlProgram.functions["main"]
    return list(function.block_specializations[function.opset].operations)


def weight_summary(path: Path) -> dict[str, Any]:
    """Counts of weight-bearing ops and how their weights are stored (float16 consts, int8 dequantise ops)."""
    import coremltools as ct
    from coremltools.proto import MIL_pb2

    spec = ct.utils.load_spec(str(path))
    ops = _operations(spec)
    counts = {"conv": 0, "linear": 0, "fp16_weight_consts": 0, "fp32_weight_consts": 0, "int8_dequantize": 0}
    blob_refs: list[int] = []
    for op in ops:
        if op.type in ("conv", "linear"):
            counts[op.type] += 1
        if op.type == "const":
            value = op.attributes["val"]
            dims = value.type.tensorType.dimensions
            elements = int(np.prod([d.constant.size for d in dims])) if dims else 1
            if elements >= 8:
                dtype = value.type.tensorType.dataType
                counts["fp16_weight_consts"] += dtype == MIL_pb2.DataType.FLOAT16
                counts["fp32_weight_consts"] += dtype == MIL_pb2.DataType.FLOAT32
            if value.HasField("blobFileValue"):
                blob_refs.append(int(value.blobFileValue.offset))
        if op.type in ("constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"):
            data = op.attributes.get("quantized_data") or op.attributes.get("data")
            if data is not None and data.type.tensorType.dataType == MIL_pb2.DataType.INT8:
                counts["int8_dequantize"] += 1
            if data is not None and data.HasField("blobFileValue"):
                blob_refs.append(int(data.blobFileValue.offset))
    weights = Path(path) / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    size = weights.stat().st_size if weights.exists() else 0
    counts["weight_file_bytes"] = size
    counts["blob_refs_out_of_range"] = sum(offset >= size for offset in blob_refs)
    counts["spec_version"] = int(spec.specificationVersion)
    return counts


def validate_coreml(path: Path, name: str, precision: str, example_shape: tuple[int, ...]) -> list[str]:
    """Problems found in an exported .mlpackage (empty = it has the expected structure, precision and weights)."""
    problems: list[str] = []
    try:
        inputs, outputs = coreml_io(path)
        summary = weight_summary(path)
    except Exception as exc:  # a broken package can fail in many ways inside coremltools
        return [f"{path.name}: cannot read the CoreML spec ({exc})"]
    in_names, out_names = IO_NAMES[name]
    if summary["spec_version"] < MIN_SPEC_VERSION:
        problems.append(f"{path.name}: spec version {summary['spec_version']} < {MIN_SPEC_VERSION} (iOS 16)")
    if [i["name"] for i in inputs] != in_names or inputs[0]["shape"] != [1, *example_shape[1:]]:
        problems.append(f"{path.name}: inputs {inputs} differ from {in_names} with shape [1, *{example_shape[1:]}]")
    if any(i["dtype"] != "float32" for i in inputs + outputs):
        problems.append(f"{path.name}: interface dtypes are not all float32: {inputs + outputs}")
    if [o["name"] for o in outputs] != out_names:
        problems.append(f"{path.name}: outputs {[o['name'] for o in outputs]} differ from {out_names}")
    layers = summary["conv"] + summary["linear"]
    if layers == 0:
        problems.append(f"{path.name}: no conv or linear layers")
    if summary["weight_file_bytes"] == 0 or summary["blob_refs_out_of_range"]:
        problems.append(f"{path.name}: weight file missing, empty or too short ({summary})")
    if summary["fp32_weight_consts"]:
        problems.append(f"{path.name}: {summary['fp32_weight_consts']} weight constants are still float32")
    if precision == "int8w" and summary["int8_dequantize"] < layers:
        problems.append(f"{path.name}: {summary['int8_dequantize']} int8 weight tensors for {layers} layers")
    if precision == "fp16" and summary["int8_dequantize"]:
        problems.append(f"{path.name}: fp16 package holds int8 weights")
    return problems
