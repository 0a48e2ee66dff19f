"""Structural quantisation checks on int8 model files: depthwise convolutions must have per-channel weight scales.

Why a structural check beside the numeric ones: per-tensor int8 on depthwise layers (one scale for channels whose
BN-folded weights differ by 3-10x here, 100x+ in larger nets) silently drops small channels to a few levels. On
this project's small models the numeric damage on the golden set is of the same order as per-channel int8 noise
(measured: recapture max |delta| 0.015-0.05 vs 0.02 per-channel), so a tolerance alone cannot tell it apart
reliably; the file itself can. LiteRT: every int8 DEPTHWISE_CONV_2D filter tensor of an int8 model must carry one
scale per output channel (filters kept in float are not quantised and not checked). ONNX QDQ: every Conv with
group == input channels (> 1) must take its weight through a DequantizeLinear whose scale has one value per output
channel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Detail = tuple[str, bool, str]


def _litert(path: Path) -> list[Detail]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    out: list[Detail] = []
    for op in interpreter._get_ops_details():
        if op["op_name"] != "DEPTHWISE_CONV_2D":
            continue
        weight = tensors[op["inputs"][1]]
        if weight["dtype"] not in (np.int8, np.uint8):
            continue  # a layer the export keeps in float (bundle.INT8_FLOAT_MODULES) has no int8 scales to check
        channels = int(weight["shape"][-1])
        scales = len(weight["quantization_parameters"]["scales"])
        ok = scales == channels
        out.append((f"depthwise {weight['name'][:40]}", ok, f"{scales} weight scale(s) for {channels} channels"))
    return out


def _onnx(path: Path) -> list[Detail]:
    import onnx

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    out: list[Detail] = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        dq = producer.get(node.input[1])
        if group <= 1 or dq is None or dq.op_type != "DequantizeLinear":
            continue
        scale = inits.get(dq.input[1])
        n_scales = 1
        if scale is not None:
            for d in scale.dims:
                n_scales *= int(d)
        ok = n_scales == group
        out.append((f"depthwise {node.name[:40]}", ok, f"{n_scales} weight scale(s) for {group} channels"))
    return out


def depthwise_granularity(path: Path, runtime: str, precision: str) -> list[Detail]:
    """Sub-checks for an int8 LiteRT or ONNX file (empty for other files); one line per depthwise layer, or a single
    failing line when an int8 file has no quantised depthwise layer at all."""
    if precision != "int8" or runtime not in ("litert", "onnxruntime", "mediapipe"):
        return []
    details = _onnx(path) if runtime == "onnxruntime" else _litert(path)
    if not details:
        return [("depthwise per-channel", False, f"{path.name} has no int8 depthwise convolution to check")]
    bad = [d for d in details if not d[1]]
    if bad:
        return [
            (
                "depthwise per-channel",
                False,
                f"{len(bad)} of {len(details)} depthwise layers are per-tensor: {bad[0][0]}: {bad[0][2]}",
            )
        ]
    return [("depthwise per-channel", True, f"{len(details)} depthwise layers with per-channel weight scales")]
