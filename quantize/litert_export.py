"""LiteRT (.tflite) export: full-integer int8 via litert-torch PT2E, fp16 weights, MediaPipe classifier metadata.

Decisions:
- int8: PT2E static quantisation with litert-torch's PT2EQuantizer, per-channel symmetric int8 weights and int8
  activations (histogram observers), calibrated on the calibration set. Input and output stay float32: the graph
  starts with QUANTIZE and ends with DEQUANTIZE (+ float softmax / sigmoid), so integrators feed 0..255 floats
  exactly as for the fp32 model, and MediaPipe feeds it through the NormalizationOptions (mean 0, std 1). The
  output sigmoid / softmax are left unannotated (no fixed 1/256 output scale) so outputs are float32 too.
  Each conv + ReLU6 is one quantised partition observed after the clamp (`_annotate_conv_relu6`), and the model is
  quantised from quantize.fold.recentre_input's copy (the bundle does this). On the 3,000 held-out captures these
  two moved recapture 0.2.0's LiteRT int8 from 20 decision flips (max |delta score| 0.13) to 10 (0.07). The bundle
  also keeps each model's final linear classifier in float (quantize.bundle.INT8_FLOAT_MODULES).
- fp16: the fp32 conversion with every supported op's weights cast to float16 by ai-edge-quantizer (FLOAT_CASTING;
  compute stays float32 on CPU, GPU delegates run fp16).
- MediaPipe metadata: mediapipe 1.2.3's wheel lacks its compiled `_pywrap_metadata_version` helper, which only
  computes the metadata's minimum parser version. We provide that module: the image-classifier metadata we write
  (ImageProperties, NormalizationOptions, one TENSOR_AXIS_LABELS file) uses only schema 1.0.0 features, and the shim
  refuses metadata that uses anything else rather than guessing a version.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cardlive.errors import ConversionError

os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")

METADATA_MIN_PARSER_VERSION = "1.0.0"
_SHIM = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"


def _example(inputs: np.ndarray) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(np.ascontiguousarray(inputs[:1], dtype=np.float32)),)


def export_litert_fp32(model: nn.Module, example: np.ndarray, path: Path) -> Path:
    """Plain float32 conversion (the starting point of the fp16 file)."""
    import litert_torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with _conversion(path):
        litert_torch.convert(model.eval(), _example(example)).export(str(path))
    return path


@contextmanager
def _conversion(path: Path) -> Iterator[None]:
    """Turns a converter failure (an op without a lowering, say) into one line naming the file and the cause."""
    try:
        yield
    except Exception as exc:  # the converter raises RuntimeError, ValueError, KeyError... for unsupported graphs
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"LiteRT conversion of {path.name} failed: {cause}") from exc


def in_float_module(node: Any, float_modules: tuple[str, ...]) -> bool:
    """True when an exported graph node was traced inside one of `float_modules` (dotted module paths)."""
    paths = [str(entry[0]) for entry in node.meta.get("nn_module_stack", {}).values()]
    return any(p == m or p.startswith(m + ".") for p in paths for m in float_modules)


_CONV_TARGETS = ("aten.conv2d.default", "aten.convolution.default")
_RELU6_TARGETS = ("aten.hardtanh.default", "aten.hardtanh_.default")


def _annotate_conv_relu6(graph: Any, config: Any, keep: Any) -> None:
    """Annotate conv -> ReLU6 (hardtanh 0..6) as one fused partition: the output is observed after the clamp.

    litert-torch fuses conv + ReLU but not conv + ReLU6; left alone, each conv's int8 output range was fitted to the
    pre-activation values (e.g. -11.7..11.3 instead of 0..6), a quarter of the resolution the clamped output needs.
    """
    from litert_torch.quantize import pt2e_quantizer_utils as utils

    for clamp in graph.graph.nodes:
        if clamp.op != "call_function" or str(clamp.target) not in _RELU6_TARGETS:
            continue
        low, high = (*clamp.args[1:3], -1.0, 1.0)[:2]  # hardtanh's defaults are -1, 1
        conv = clamp.args[0]
        if (low, high) != (0.0, 6.0) or getattr(conv, "op", None) != "call_function":
            continue
        if str(conv.target) not in _CONV_TARGETS or len(conv.users) != 1:
            continue
        partition = [clamp, conv, conv.args[1]]
        qspecs = {conv.args[0]: utils.get_input_act_qspec(config), conv.args[1]: utils.get_weight_qspec(config)}
        bias = conv.args[2] if len(conv.args) > 2 else None
        if bias is not None:
            qspecs[bias] = utils.get_bias_qspec(config)
            partition.append(bias)
        if utils._is_annotated(partition) or not all(keep(node) for node in partition):
            continue
        conv.meta["quantization_annotation"] = utils.QuantizationAnnotation(input_qspec_map=qspecs, _annotated=True)
        clamp.meta["quantization_annotation"] = utils.QuantizationAnnotation(
            output_qspec=utils.get_output_act_qspec(config), _annotated=True
        )
        utils._mark_nodes_as_annotated(partition)


def _quantizer(config: Any, float_modules: tuple[str, ...], fuse_relu6: bool) -> Any:
    """litert-torch's PT2E quantizer with conv + ReLU6 fused and the nodes of `float_modules` left in float.

    litert-torch 0.10's own `set_module_name` cannot express "no quantisation" (it asserts on None) and its module
    filter does not match the module-stack keys torch.export writes, so the annotation is filtered here.
    """
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from litert_torch.quantize.pt2e_quantizer_utils import propagate_annotation

    def keep(node: Any) -> bool:
        return not in_float_module(node, float_modules)

    class PartialQuantizer(PT2EQuantizer):
        def annotate(self, model: Any) -> Any:
            if fuse_relu6:
                _annotate_conv_relu6(model, self.global_config, keep)
            self._annotate_all_static_patterns(model, self.global_config, keep)
            propagate_annotation(model)
            return model

    return PartialQuantizer().set_global(config)


def _int8_config(per_channel: bool) -> Any:
    """int8 weights (per-channel or per-tensor symmetric), per-tensor affine int8 activations (histogram observers)."""
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config

    # No fixed-qparams spec: sigmoid/softmax at the outputs run in float, so every output is float32.
    return dataclasses.replace(get_symmetric_quantization_config(is_per_channel=per_channel), fixed_qparams=None)


def export_litert_int8(
    model: nn.Module,
    batches: list[np.ndarray],
    path: Path,
    float_modules: tuple[str, ...] = (),
    per_channel: bool = True,
    fuse_relu6: bool = True,
) -> Path:
    """int8 (per-channel weights, float32 I/O) calibrated on batch-1 `batches`; full-integer without `float_modules`.

    `float_modules` (dotted submodule paths, e.g. ``("head",)``) are left in float32 with (de)quantise ops around
    them; everything else is int8. `per_channel=False` (per-tensor weights) and `fuse_relu6=False` (the library's
    own conv + ReLU6 handling) exist for the negative controls of the tests.
    """
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    example = _example(batches[0])
    quantizer = _quantizer(_int8_config(per_channel), float_modules, fuse_relu6)
    graph = torch.export.export(copy.deepcopy(model).eval(), example).module()
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    converted = convert_pt2e(prepared, fold_quantize=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _conversion(path):
        litert_torch.convert(converted, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(str(path))
    return path


def export_litert_fp16(model: nn.Module, example: np.ndarray, path: Path) -> Path:
    """float16 weights (ai-edge-quantizer float casting of the fp32 conversion)."""
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer import quantizer as aeq

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_litert_fp32(model, example, Path(tmp) / "model.fp32.tflite")
        q = aeq.Quantizer(str(fp32))
        q.update_quantization_recipe(
            regex=".*",
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            algorithm_key=aeq.AlgorithmName.FLOAT_CASTING,
            op_config=qtyping.OpQuantizationConfig(
                weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
                compute_precision=qtyping.ComputePrecision.FLOAT,
            ),
        )
        result = q.quantize(enable_progress_report=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(result.quantized_model))
    return path


def _min_parser_version(metadata: bytes) -> str:
    """Stand-in for mediapipe's compiled helper, for the metadata features `add_classifier_metadata` writes."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    root = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(bytearray(metadata), 0))
    allowed_units = {fb.ProcessUnitOptions.NormalizationOptions}
    allowed_files = {fb.AssociatedFileType.TENSOR_AXIS_LABELS}
    for subgraph in root.subgraphMetadata or []:
        if subgraph.inputProcessUnits or subgraph.outputProcessUnits or subgraph.customMetadata:
            raise ValueError("metadata uses subgraph process units or custom metadata (newer than 1.0.0)")
        for tensor in (subgraph.inputTensorMetadata or []) + (subgraph.outputTensorMetadata or []):
            for unit in tensor.processUnits or []:
                if unit.optionsType not in allowed_units:
                    raise ValueError(f"metadata process unit type {unit.optionsType} is not supported by this shim")
            for file in tensor.associatedFiles or []:
                if file.type not in allowed_files or file.version:
                    raise ValueError(f"associated file type {file.type} is not supported by this shim")
    return METADATA_MIN_PARSER_VERSION


def _install_metadata_shim() -> None:
    if _SHIM in sys.modules:
        return
    try:
        __import__(_SHIM)
        return
    except ImportError:
        pass
    parent = "mediapipe.tasks.cc.metadata.python"
    for name in ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", parent):
        sys.modules.setdefault(name, types.ModuleType(name))
    shim: Any = types.ModuleType(_SHIM)
    shim.GetMinimumMetadataParserVersion = _min_parser_version
    sys.modules[_SHIM] = shim
    sys.modules[parent]._pywrap_metadata_version = shim  # type: ignore[attr-defined]


def add_classifier_metadata(tflite: Path, out: Path, labels: list[str], name: str, version: str) -> dict[str, Any]:
    """Copy `tflite` to `out` with MediaPipe image-classifier metadata; returns the metadata as JSON-able dict."""
    import json

    _install_metadata_shim()
    from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer

    writer = image_classifier.MetadataWriter.create(
        bytearray(tflite.read_bytes()),
        input_norm_mean=[0.0],
        input_norm_std=[1.0],
        labels=metadata_writer.Labels().add(labels),
    )
    writer.writer.add_general_info(model_name=name, model_description=f"cardlive {name} {version}: P(label)")
    model, metadata_json = writer.populate()
    out.write_bytes(model)
    del writer  # cleans its temporary folder now, not at interpreter shutdown
    parsed: dict[str, Any] = json.loads(metadata_json)
    return parsed


def tflite_io(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(inputs, outputs) of a .tflite file, outputs in PyTorch order, as manifest entries {name, shape, dtype}."""
    from quantize.runtimes import LiteRTRunner

    runner = LiteRTRunner(path, threads=1)

    def entry(detail: dict[str, Any]) -> dict[str, Any]:
        shape = [int(v) for v in detail["shape"]]
        return {"name": str(detail["name"]), "shape": shape, "dtype": np.dtype(detail["dtype"]).name}

    return [entry(d) for d in runner.inputs], [entry(d) for d in runner.outputs]


def tflite_op_types(path: Path) -> dict[str, int]:
    """Count of each builtin op in a .tflite file (to check that an int8 model really is integer)."""
    from ai_edge_litert.interpreter import Interpreter

    counts: dict[str, int] = {}
    for op in Interpreter(model_path=str(path))._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return counts
