"""Training data for the recapture model: mosaics (the model input) with labels and species.

Two sources, both deterministic: a folder with index.jsonl (`cardlive simulate` output or a user's captures),
preprocessed once into memory; or the simulator on the fly (capture `index` of a SimConfig renders the same bytes
in any worker process).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset
from tqdm import tqdm

from capture_sim.capture import SimConfig, plan, render_capture
from capture_sim.sampler import sample_presentation
from cardlive.errors import InputError
from edge_models.augment import jittered_quad
from edge_models.datasets import CaptureRecord, read_index_folder, split_folders
from edge_models.images import load_rgb
from edge_models.models.recapture import LABELS
from edge_models.mosaic import RECAPTURE_SPEC, build_mosaic
from edge_models.preprocess import InputSpec


@dataclass(frozen=True)
class Sample:
    mosaic: NDArray[np.uint8]  # (H, W, 3)
    label: int  # index into LABELS
    species: str
    group: str
    variants: tuple[NDArray[np.uint8], ...] = ()  # the same capture cut around card-finder-like quad errors


def _item(sample: Sample) -> tuple[torch.Tensor, int]:
    return torch.from_numpy(np.ascontiguousarray(sample.mosaic)), sample.label


def _sample(
    record: CaptureRecord, spec: InputSpec, variants: int, rng: np.random.Generator, side_shift: float = 0.0
) -> Sample:
    frame = load_rgb(record.path)
    quad = np.asarray(record.quad)
    extra = tuple(
        build_mosaic(frame, jittered_quad(quad, rng, side_shift=side_shift), spec) for _ in range(variants - 1)
    )
    return Sample(build_mosaic(frame, quad, spec), LABELS.index(record.label), record.species, record.group, extra)


class FolderMosaics(Dataset[tuple[torch.Tensor, int]]):
    """Every single-frame capture with a quad in a folder's index.jsonl, preprocessed into mosaics in memory.

    `folder` may name several folders separated by commas (e.g. two simulator runs with different seeds).
    `variants` > 1 also keeps variants - 1 mosaics per capture cut around jittered quads (`edge_models.augment`),
    drawn from (seed, capture number); `side_shift` adds a shifted side to each jittered quad.
    """

    def __init__(
        self,
        folder: Path,
        spec: InputSpec = RECAPTURE_SPEC,
        progress: bool = True,
        variants: int = 1,
        seed: int = 0,
        side_shift: float = 0.0,
    ) -> None:
        records = [r for f in split_folders(folder) for r in read_index_folder(f) if isinstance(r, CaptureRecord)]
        usable = [r for r in records if r.quad is not None]
        if not usable:
            raise InputError(f"{folder} holds no single-frame captures with a card quad to train on")
        if variants < 1:
            raise InputError(f"variants must be at least 1, got {variants}")
        self.samples = [
            _sample(r, spec, variants, np.random.default_rng([seed, i]), side_shift)
            for i, r in enumerate(tqdm(usable, desc="preprocess", unit="capture", disable=not progress))
        ]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return _item(self.samples[index])

    @property
    def species(self) -> list[str]:
        return [s.species for s in self.samples]


class SimulatedMosaics(Dataset[tuple[torch.Tensor, int]]):
    """Captures rendered on demand: item i is capture i of `config` (safe in DataLoader worker processes)."""

    def __init__(self, config: SimConfig, n: int, spec: InputSpec = RECAPTURE_SPEC) -> None:
        self.config, self.n, self.spec = config, n, spec

    def __len__(self) -> int:
        return self.n

    def sample(self, index: int) -> Sample:
        cv2.setNumThreads(1)
        capture = render_capture(self.config, index)
        frame = capture.frames[0]
        mosaic = build_mosaic(frame.rgb, frame.quad, self.spec)
        return Sample(mosaic, LABELS.index(capture.label), capture.species, f"pair-{capture.pair_id}")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return _item(self.sample(index))

    @property
    def species(self) -> list[str]:
        """Species of every capture, from the drawn parameters alone (nothing is rendered)."""
        out = []
        for index in range(self.n):
            pair, label = plan(self.config, index)
            out.append(sample_presentation(self.config.seed, pair, label, self.config.species).species)
        return out


D = TypeVar("D")


def subset(dataset: D, indices: Sequence[int]) -> D:
    """A copy of an in-memory dataset (anything with a `samples` list) holding only `indices`."""
    view = copy.copy(dataset)
    view.samples = [dataset.samples[i] for i in indices]  # type: ignore[attr-defined]
    return view
