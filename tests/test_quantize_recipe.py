"""The int8 recipe's parts, each beside the broken variant it replaces: input recentring, fused conv + ReLU6
(LiteRT) and float nodes (ONNX)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from edge_models.weights import load_weights
from quantize.fold import fold_batchnorm, max_output_difference, recentre_input
from quantize.litert_export import export_litert_int8
from quantize.onnx_export import export_onnx_fp32, float_nodes, quantize_onnx_int8


def _mosaics(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 288, 256, 3)).astype(np.float32)


def test_recentred_input_keeps_the_outputs_and_the_bias_move_is_what_keeps_them() -> None:
    folded, _ = fold_batchnorm(load_weights().model)
    moved, convs = recentre_input(folded)
    x = (torch.from_numpy(_mosaics(4)),)
    assert convs == 2  # the patch and global branches' first convolutions read the image
    assert moved.norm.mean == 128.0  # type: ignore[union-attr]
    exact = max_output_difference(folded, moved, x)
    assert exact < 2e-3
    # negative control: the same mean without moving the difference into the biases changes the outputs
    shifted, _ = fold_batchnorm(load_weights().model)
    shifted.norm.mean = 128.0  # type: ignore[union-attr]
    assert max_output_difference(folded, shifted, x) > 5 * exact


class _ConvRelu6(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU6())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.permute(0, 3, 1, 2)).mean(dim=(2, 3))


def _conv_output_ranges(path: Path) -> list[tuple[float, float]]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ranges = []
    for op in interpreter._get_ops_details():
        if op["op_name"] == "CONV_2D":
            scale, zero = tensors[op["outputs"][0]]["quantization"]
            ranges.append((scale * (-128 - zero), scale * (127 - zero)))
    return ranges


def test_int8_conv_relu6_outputs_cover_the_clamped_range_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _ConvRelu6().eval()
    batches = [np.random.default_rng(i).uniform(-4, 4, size=(1, 16, 16, 3)).astype(np.float32) for i in range(8)]
    fused = _conv_output_ranges(export_litert_int8(model, batches, tmp_path / "fused.tflite"))
    assert len(fused) == 2
    for low, high in fused:
        assert abs(low) < 1e-6
        assert high <= 6.05
    # negative control: litert-torch's own annotation observes the convolution before the clamp
    plain = _conv_output_ranges(export_litert_int8(model, batches, tmp_path / "plain.tflite", fuse_relu6=False))
    assert any(low < -0.1 for low, _ in plain)


def test_onnx_float_nodes_stay_float(tmp_path: Path) -> None:
    folded, _ = fold_batchnorm(load_weights().model)
    x = _mosaics(2)
    fp32 = export_onnx_fp32(folded, "recapture", x, tmp_path / "r.fp32.onnx")
    graph = onnx.load(str(fp32)).graph
    assert set(float_nodes(graph, ())) == {n.name for n in graph.node if n.op_type == "Softmax"}
    deep = float_nodes(graph, ("patch_trunk.3",))
    assert deep
    assert all(n == "/Softmax" or n.startswith("/patch_trunk/patch_trunk.3/") for n in deep)
    batches = [x[i : i + 1] for i in range(2)]

    def gemm_weight_is_dequantised(path: Path) -> bool:
        int8 = onnx.load(str(path)).graph
        producers = {out: node.op_type for node in int8.node for out in node.output}
        gemm = next(n for n in int8.node if n.op_type == "Gemm")
        return producers.get(gemm.input[1]) == "DequantizeLinear"

    head_float = quantize_onnx_int8(fp32, tmp_path / "head_float.onnx", batches, float_modules=("head",))
    assert not gemm_weight_is_dequantised(head_float)
    assert gemm_weight_is_dequantised(quantize_onnx_int8(fp32, tmp_path / "all.onnx", batches))
