"""`ovd`: a T-frame tilt sequence of aligned card crops -> P(the OVD responds like a real hologram) + glare maps.

Each frame goes through a shared encoder; a 1x1 head gives a per-frame glare coverage map. The OVD score comes from
how the features vary over the sequence (mean and mean absolute deviation across frames): a diffraction foil
changes colour with tilt, a printed or statically displayed one does not. The temporal features are pooled twice,
by their mean over the card and by their peak: the foil covers a few cells of the 16x10 grid, and in a mean alone
its change drowns in the rest of the card. Beside the learned features, the temporal block sees how each cell's
mean colour and chroma (colour minus its grey level) vary over the frames: a grating's first order sweeps the hue
as the card tilts, while shading, the torch and laminate glare mostly move brightness.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge_models.models.layers import ConvBnRelu, InputNorm, SeparableBlock
from edge_models.models.registry import register_model

# The colour and chroma deviations (typically 0.03 and 0.006, 99th percentile 0.32 and 0.064, on normalised pixels)
# are joined with encoder features that reach 6 (ReLU6), and an int8 concatenation shares one scale: unscaled, the
# chroma deviation fell below one quantisation step (int8 ovd max |delta| 0.45-0.53, SNR 19 dB). These gains bring
# their 99th percentiles to about 2.5 and 2.
COLOUR_GAIN = 8.0
CHROMA_GAIN = 32.0


@dataclass(frozen=True)
class SequenceLayout:
    frames: int = 8
    height: int = 80
    width: int = 128


class OvdNet(nn.Module):
    def __init__(self, layout: SequenceLayout | None = None) -> None:
        super().__init__()
        self.layout = layout or SequenceLayout()
        self.norm = InputNorm()
        self.encoder = nn.Sequential(ConvBnRelu(3, 16, 3, 2), SeparableBlock(16, 32, 2), SeparableBlock(32, 48, 2))
        self.glare_head = nn.Conv2d(48, 1, 1)
        self.colour_change = ColourChange()
        self.temporal = SeparableBlock(96 + 6, 64, 2)
        self.mean_pool = nn.AdaptiveAvgPool2d(1)
        # a max pool over the whole (static) grid: litert-torch has no lowering for adaptive max pooling
        self.peak_pool = nn.MaxPool2d((_after_strides(self.layout.height, 4), _after_strides(self.layout.width, 4)))
        self.score_head = nn.Linear(128, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames: (N, T, H, W, 3) in 0..255 -> (P(real OVD) (N, 1), glare coverage (N, T, H/8, W/8))."""
        n, t, h, w, c = frames.shape
        pixels = self.norm(frames.reshape(n * t, h, w, c))
        features = self.encoder(pixels)  # (N*T, 48, h', w')
        glare = torch.sigmoid(self.glare_head(features)).reshape(n, t, features.shape[2], features.shape[3])
        per_seq = features.reshape(n, t, *features.shape[1:])
        mean, deviation = per_seq.mean(dim=1), _deviation(per_seq)
        changes = self.colour_change(pixels, t)
        temporal = self.temporal(torch.cat([mean, deviation, changes], dim=1))
        pooled = torch.cat([self.mean_pool(temporal), self.peak_pool(temporal)], dim=1).flatten(1)
        return torch.sigmoid(self.score_head(pooled)), glare


class ColourChange(nn.Module):
    """How each 8x8 cell's mean colour and chroma (colour minus its grey level) vary over the frames:
    (N*T, 3, H, W) normalised pixels -> (N, 6, H/8, W/8). A grating's first order sweeps the hue as the card tilts;
    shading, the torch and laminate glare mostly move brightness.

    No parameters. The int8 exports keep it in float (quantize.bundle.INT8_FLOAT_MODULES): a frame's chroma spans
    far more than its change over the tilt, so an int8 chroma tensor leaves the change about one step.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(8)  # the encoder's grid: one mean colour per cell

    def forward(self, pixels: torch.Tensor, frames: int) -> torch.Tensor:
        colour = self.pool(pixels)
        colour = colour.reshape(-1, frames, *colour.shape[1:])
        chroma = colour - colour.mean(dim=2, keepdim=True)
        return torch.cat([COLOUR_GAIN * _deviation(colour), CHROMA_GAIN * _deviation(chroma)], dim=1)


def _after_strides(size: int, strides: int) -> int:
    """Feature-map size after `strides` 3x3 stride-2 convolutions with padding 1."""
    for _ in range(strides):
        size = (size - 1) // 2 + 1
    return size


def _deviation(per_frame: torch.Tensor) -> torch.Tensor:
    """(N, T, C, h, w) -> mean absolute deviation over T, (N, C, h, w)."""
    return (per_frame - per_frame.mean(dim=1, keepdim=True)).abs().mean(dim=1)


@register_model("ovd")
def ovd() -> nn.Module:
    return OvdNet()
