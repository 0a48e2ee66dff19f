"""What training needs to know per model: its data, its loss and its attack score."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from edge_models.data import FolderMosaics
from edge_models.models.recapture import LABELS
from edge_models.mosaic import RECAPTURE_SPEC
from edge_models.ovd_data import OVD_SPEC, FolderSequences
from edge_models.preprocess import InputSpec

GLARE_WEIGHT = 0.5


@dataclass(frozen=True)
class Task:
    name: str
    spec: InputSpec
    load: Callable[[Path, bool, int, int, float], Any]  # (folder, progress, variants, seed, side_shift) -> dataset
    loss: Callable[[nn.Module, list[torch.Tensor]], torch.Tensor]
    outputs: Callable[[nn.Module, list[torch.Tensor]], torch.Tensor]  # P(attack) for a batch


def _recapture_loss(net: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    x, y = batch
    # Probabilities come out of the graph (the exported contract); train on their log.
    return nn.functional.nll_loss(torch.log(net(x.float()).clamp_min(1e-7)), y)


def _recapture_attack(net: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    return 1.0 - net(batch[0].float())[:, LABELS.index("genuine")]


def _ovd_loss(net: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    frames, glare, label = batch
    real, glare_map = net(frames.float())
    bce = nn.functional.binary_cross_entropy
    return bce(real.clamp(1e-6, 1 - 1e-6), label) + GLARE_WEIGHT * bce(glare_map.clamp(1e-6, 1 - 1e-6), glare)


def _ovd_attack(net: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    real, _ = net(batch[0].float())
    return 1.0 - real[:, 0]


TASKS = {
    "recapture": Task(
        "recapture",
        RECAPTURE_SPEC,
        lambda folder, progress, variants, seed, side_shift: FolderMosaics(
            folder, progress=progress, variants=variants, seed=seed, side_shift=side_shift
        ),
        _recapture_loss,
        _recapture_attack,
    ),
    "ovd": Task(
        "ovd",
        OVD_SPEC,
        lambda folder, progress, variants, seed, _side_shift: FolderSequences(
            folder, progress=progress, variants=variants, seed=seed
        ),
        _ovd_loss,
        _ovd_attack,
    ),
}


def attack_scores_of(task: Task, model: nn.Module, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """P(attack) for every item of a dataset, in order (eval mode, no gradients)."""
    model.eval()
    out = []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            out.append(task.outputs(model, list(batch)).numpy())
    return np.concatenate(out)


def class_probabilities(model: nn.Module, dataset: Any, batch_size: int = 32) -> np.ndarray:
    """The recapture model's class probabilities (N, 3) for every item, in order."""
    model.eval()
    out = []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            out.append(model(batch[0].float()).numpy())
    return np.concatenate(out)
