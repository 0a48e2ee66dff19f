"""Building blocks restricted to ops that quantise well to int8 and convert to TFLite and CoreML.

Conv2d + BatchNorm2d (folded at export) + ReLU6, depthwise-separable convolutions, average pooling, max pooling over a
fixed window, linear layers. No hard-swish, no GELU, no LayerNorm, no dynamic shapes, no adaptive max pooling
(litert-torch cannot lower it).
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBnRelu(nn.Sequential):
    """3x3 (or k x k) convolution, batch norm, ReLU6."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class SeparableBlock(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU6."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(ConvBnRelu(c_in, c_in, 3, stride, groups=c_in), ConvBnRelu(c_in, c_out, 1))


class InputNorm(nn.Module):
    """uint8-range NHWC input (as float 0..255) -> normalised NCHW; the normalisation lives in the graph."""

    def __init__(self, mean: float = 127.5, scale: float = 1.0 / 127.5) -> None:
        super().__init__()
        self.mean = mean
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - self.mean) * self.scale).permute(0, 3, 1, 2)
