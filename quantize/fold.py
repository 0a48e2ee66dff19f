"""Fold BatchNorm into the preceding convolution before export, and measure that folding changed nothing.

The edge models use Conv2d(bias=False) + BatchNorm2d + ReLU6 (edge_models.models.layers.ConvBnRelu). In eval mode
BN is the per-channel affine y = (x - mean) / sqrt(var + eps) * gamma + beta, which folds exactly (up to float
rounding) into the convolution's weights and a bias: w' = w * s, b' = (b - mean) * s + beta,
s = gamma / sqrt(var + eps).
Every exporter starts from the folded copy, so no runtime sees a BatchNorm and int8 weight scales are computed on the
weights that actually run.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn


def _fold_pair(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    assert bn.running_mean is not None
    assert bn.running_var is not None
    scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        conv.stride,  # type: ignore[arg-type]
        conv.padding,  # type: ignore[arg-type]
        conv.dilation,  # type: ignore[arg-type]
        conv.groups,
        bias=True,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        assert folded.bias is not None
        folded.bias.copy_((bias - bn.running_mean) * scale + shift)
    return folded


def _fold_in(module: nn.Module) -> int:
    count = 0
    for child in module.children():
        count += _fold_in(child)
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in itertools.pairwise(names):
            conv, bn = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module._modules[first] = _fold_pair(conv, bn)
                module._modules[second] = nn.Identity()
                count += 1
    return count


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of `model` with every Conv2d -> BatchNorm2d pair folded; (copy, number of pairs folded)."""
    folded = copy.deepcopy(model).eval()
    count = _fold_in(folded)
    return folded, count


def remaining_batchnorms(model: nn.Module) -> int:
    """How many BatchNorm layers a model still has (0 after folding)."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def max_output_difference(a: nn.Module, b: nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    """Largest absolute difference between the two models' outputs (all outputs) on `inputs`."""
    with torch.no_grad():
        out_a, out_b = a(*inputs), b(*inputs)
    outs_a = out_a if isinstance(out_a, tuple | list) else (out_a,)
    outs_b = out_b if isinstance(out_b, tuple | list) else (out_b,)
    return max(float((x - y).abs().max()) for x, y in zip(outs_a, outs_b, strict=True))


INT8_INPUT_MEAN = 128.0


def recentre_input(model: nn.Module, mean: float = INT8_INPUT_MEAN) -> tuple[nn.Module, int]:
    """A copy of a BN-folded `model` whose InputNorm subtracts `mean` instead of 127.5, the difference moved into
    the bias of every convolution that reads the image (the 3-channel ones); (copy, convolutions changed).

    Why: an int8 graph quantises the normalised input. (x - 127.5) for integer pixels x lies on half-integers, which
    no 8-bit grid over [-127.5, 127.5] holds, so every pixel picked up +-0.5 DN of rounding noise, on exactly the fine
    textures (moire, halftone) the model reads. (x - 128) is exactly representable. The move is exact except on the
    convolutions' zero-padded border taps, where it shifts the input by half a grey level; `max_output_difference`
    measures the result.
    """
    from edge_models.models.layers import InputNorm

    moved = copy.deepcopy(model).eval()
    norms = [m for m in moved.modules() if isinstance(m, InputNorm)]
    if len(norms) != 1:
        raise ValueError(f"expected one InputNorm, found {len(norms)}")
    norm = norms[0]
    delta = (mean - norm.mean) * norm.scale  # new normalised input = old - delta
    convs = [m for m in moved.modules() if isinstance(m, nn.Conv2d) and m.in_channels == 3 and m.groups == 1]
    with torch.no_grad():
        for conv in convs:
            if conv.bias is None:
                raise ValueError("recentre_input expects BatchNorm-folded convolutions (with a bias)")
            conv.bias.add_(delta * conv.weight.sum(dim=(1, 2, 3)))
    norm.mean = mean
    return moved, len(convs)
