"""`ovd`: a T-frame tilt sequence of aligned card crops -> P(the OVD responds like a real hologram) + glare maps.

Each frame goes through a shared encoder; a 1x1 head gives a per-frame glare coverage map. The OVD score comes from
how the features vary over the sequence (mean and mean absolute deviation across frames): a diffraction foil
changes colour with tilt, a printed or statically displayed one does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge_models.models.layers import ConvBnRelu, InputNorm, SeparableBlock
from edge_models.models.registry import register_model


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
        self.temporal = nn.Sequential(SeparableBlock(96, 64, 2), nn.AdaptiveAvgPool2d(1))
        self.score_head = nn.Linear(64, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames: (N, T, H, W, 3) in 0..255 -> (P(real OVD) (N, 1), glare coverage (N, T, H/8, W/8))."""
        n, t, h, w, c = frames.shape
        features = self.encoder(self.norm(frames.reshape(n * t, h, w, c)))  # (N*T, 48, h', w')
        glare = torch.sigmoid(self.glare_head(features)).reshape(n, t, features.shape[2], features.shape[3])
        per_seq = features.reshape(n, t, *features.shape[1:])
        mean = per_seq.mean(dim=1)
        deviation = (per_seq - mean.unsqueeze(1)).abs().mean(dim=1)
        pooled = self.temporal(torch.cat([mean, deviation], dim=1)).flatten(1)
        return torch.sigmoid(self.score_head(pooled)), glare


@register_model("ovd")
def ovd() -> nn.Module:
    return OvdNet()
