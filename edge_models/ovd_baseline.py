"""The classical OVD baseline: per-pixel hue / saturation statistics accumulated over a tilt sequence.

After the MIDV-Holo baseline (Koliaskina et al. 2023): a hologram pixel is one that becomes strongly saturated in
some frames and whose hue changes across frames; glare (very bright, unsaturated) is ignored. The score is the share
of such pixels in the OVD region, mapped through a logistic so that it reads as a probability. The learned `ovd`
model must beat this scorer on the same sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from cardlive.errors import ParameterError


@dataclass(frozen=True)
class BaselineParams:
    saturation_min: float = 0.35  # a pixel must reach this HSV saturation in some frame
    hue_spread_min_deg: float = 25.0  # circular spread of its hue over the saturated frames
    glare_value_min: float = 0.96  # brighter than this (and unsaturated) counts as glare, not colour
    logistic_centre: float = 0.05  # share of hologram-like pixels that maps to probability 0.5
    logistic_slope: float = 60.0


@dataclass(frozen=True)
class BaselineResult:
    probability: float
    hologram_share: float
    hologram_map: NDArray[np.bool_]


def ovd_baseline(
    frames: NDArray[np.uint8], mask: NDArray[np.bool_] | None = None, params: BaselineParams | None = None
) -> BaselineResult:
    """Score a sequence of aligned RGB uint8 crops (T, H, W, 3); `mask` restricts it to the OVD region."""
    p = params or BaselineParams()
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ParameterError(f"expected frames of shape (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if frames.shape[0] < 2:
        raise ParameterError("the OVD baseline needs at least 2 frames")
    hsv = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2HSV_FULL) for f in frames]).astype(np.float32)
    hue = hsv[..., 0] * np.float32(2.0 * np.pi / 256.0)
    sat = hsv[..., 1] / 255.0
    val = hsv[..., 2] / 255.0
    coloured = (sat >= p.saturation_min) & (val < p.glare_value_min)
    weight = coloured.astype(np.float32)
    count = weight.sum(axis=0)
    c = (np.cos(hue) * weight).sum(axis=0) / np.maximum(count, 1.0)
    s = (np.sin(hue) * weight).sum(axis=0) / np.maximum(count, 1.0)
    resultant = np.clip(np.hypot(c, s), 1e-6, 1.0)
    spread_deg = np.degrees(np.sqrt(-2.0 * np.log(resultant)))  # circular standard deviation
    hologram = (count >= 2) & (spread_deg >= p.hue_spread_min_deg)
    region = np.ones(hologram.shape, bool) if mask is None else mask.astype(bool)
    if region.shape != hologram.shape:
        raise ParameterError(f"mask shape {region.shape} does not match the frames {hologram.shape}")
    share = float(hologram[region].mean()) if region.any() else 0.0
    probability = float(1.0 / (1.0 + np.exp(-p.logistic_slope * (share - p.logistic_centre))))
    return BaselineResult(probability, share, hologram & region)
