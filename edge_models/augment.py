"""Training-time variants of a capture that a deployed pipeline really produces.

The card finder's quad is never exact: on the phone the corners are off by up to ~1.5 % of the card diagonal (the
pipeline's target). Re-cutting the native-resolution patches and re-warping the global view around a perturbed quad
gives the model the same texture seen through that error, without resampling the patches. Each epoch picks one
variant per capture, deterministically from (seed, epoch, index), so training stays reproducible and resumable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

JITTER_SIGMA = 0.005  # per-corner standard deviation, as a fraction of the card diagonal
JITTER_LIMIT = 0.015  # no corner moves further than the card finder's target error


def shift_side(quad: Any, side: int, shift_px: float) -> NDArray[np.float64]:
    """`quad` with side `side` (corners side, side + 1) moved by shift_px along its outward normal."""
    q = np.asarray(quad, np.float64).reshape(4, 2).copy()
    a, b = q[side], q[(side + 1) % 4]
    along = b - a
    normal = np.array([along[1], -along[0]]) / max(float(np.linalg.norm(along)), 1e-9)
    if float(np.dot(normal, (a + b) / 2 - q.mean(axis=0))) < 0:
        normal = -normal
    q[side] += shift_px * normal
    q[(side + 1) % 4] += shift_px * normal
    return q


def jittered_quad(
    quad: Any, rng: np.random.Generator, sigma: float = JITTER_SIGMA, side_shift: float = 0.0
) -> NDArray[np.float64]:
    """`quad` (4x2) with each corner moved by a clipped Gaussian offset scaled to the card diagonal; with
    `side_shift` > 0 also one random side moved by a uniform share of the diagonal in [-side_shift, side_shift]
    along its normal (a finder that took an inner band or a shadow for the edge; no extra draws when 0)."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    diagonal = float(np.linalg.norm(q[2] - q[0]))
    offsets = np.clip(rng.normal(0.0, sigma, size=(4, 2)), -JITTER_LIMIT, JITTER_LIMIT) * diagonal
    if side_shift <= 0.0:
        return q + offsets
    side = int(rng.integers(4))
    return shift_side(q + offsets, side, float(rng.uniform(-side_shift, side_shift)) * diagonal)


class EpochVariants(Dataset[tuple[torch.Tensor, int]]):
    """Wraps an in-memory mosaic dataset whose samples carry `variants`; item i is one of them, chosen per epoch."""

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset.samples)

    def _pick(self, index: int, options: tuple[NDArray[np.uint8], ...]) -> torch.Tensor:
        """One of `options`, drawn from (seed, epoch, index)."""
        pick = int(np.random.default_rng([self.seed, self.epoch, index]).integers(len(options)))
        return torch.from_numpy(np.ascontiguousarray(options[pick]))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        sample = self.dataset.samples[index]
        return self._pick(index, (sample.mosaic, *sample.variants)), sample.label


class EpochSequenceVariants(EpochVariants):
    """EpochVariants for in-memory tilt sequences: item i is (frames, glare, label) with the frames of one variant."""

    def __getitem__(self, index: int) -> Any:
        sample = self.dataset.samples[index]
        frames = self._pick(index, (sample.frames, *sample.variants))
        return frames, torch.from_numpy(sample.glare), torch.tensor([sample.label], dtype=torch.float32)
