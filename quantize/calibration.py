"""Representative calibration inputs for post-training quantisation, rendered by the simulator from an explicit seed.

Coverage is by construction, not by chance: sample i is rendered with the species `ALL_SPECIES[i % 9]` (genuine and
all eight attack families, round robin), as capture `i // 9` of a SimConfig restricted to that species, so every
class and family appears once `count >= 9`. recapture samples are mosaics (288 x 256, the model input); ovd samples
are 8-frame tilt sequences rectified with the OVD spec (edge_models.ovd_data.align_sequence).

Rendering costs about a second per frame on this machine, so a calibration set is cached as an .npz keyed by model,
seed, count, frames and spec digest (`cache_dir`); the cache is only an accelerator, the key fully determines content.
Defaults (64 mosaics, 16 sequences) keep an export within a few minutes on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from capture_sim.capture import SimConfig, render_capture
from capture_sim.species import ALL_SPECIES
from cardlive.errors import ParameterError
from edge_models.models.ovd import SequenceLayout
from edge_models.mosaic import RECAPTURE_SPEC, build_mosaic
from edge_models.ovd_data import OVD_SPEC, align_sequence

DEFAULT_COUNTS = {"recapture": 64, "ovd": 16}
DEFAULT_SEED = 7001


@dataclass(frozen=True)
class Calibration:
    """Model inputs (float32, as the PyTorch model takes them) and where they came from."""

    model: str
    seed: int
    inputs: np.ndarray  # (count, ...) float32 in 0..255
    species: tuple[str, ...]  # per sample
    source: str = "simulator"

    @property
    def count(self) -> int:
        return int(self.inputs.shape[0])

    def info(self) -> dict[str, Any]:
        """The manifest's calibration entry: seed, count and the species covered."""
        return {"seed": self.seed, "count": self.count, "species": sorted(set(self.species))}

    def batches(self, limit: int | None = None) -> list[np.ndarray]:
        """Batch-1 arrays, as the exported (static batch 1) models take them."""
        n = self.count if limit is None else min(limit, self.count)
        return [self.inputs[i : i + 1] for i in range(n)]


def _render_sample(model: str, seed: int, index: int, frames: int) -> tuple[np.ndarray, str]:
    species = ALL_SPECIES[index % len(ALL_SPECIES)]
    config = SimConfig(seed=seed, species=(species,), frames=frames if model == "ovd" else 1)
    capture = render_capture(config, index // len(ALL_SPECIES))
    if model == "recapture":
        frame = capture.frames[0]
        return build_mosaic(frame.rgb, frame.quad, RECAPTURE_SPEC), capture.species
    crops, _ = align_sequence([f.rgb for f in capture.frames], [np.asarray(f.quad) for f in capture.frames], None)
    return crops, capture.species


def simulate_calibration(
    model: str,
    seed: int = DEFAULT_SEED,
    count: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> Calibration:
    """`count` simulator samples for `model` ("recapture" or "ovd"), covering every species round robin."""
    if model not in DEFAULT_COUNTS:
        raise ParameterError(f"no calibration recipe for model {model!r}; expected recapture or ovd")
    count = DEFAULT_COUNTS[model] if count is None else count
    if count < 1:
        raise ParameterError(f"the calibration count must be >= 1, got {count}")
    frames = SequenceLayout().frames
    spec = RECAPTURE_SPEC if model == "recapture" else OVD_SPEC
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{model}_s{seed}_n{count}_f{frames}_{spec.digest()[:12]}.npz"
        if cache.exists():
            stored = np.load(cache)
            names = tuple(str(s) for s in stored["species"])
            return Calibration(model, seed, stored["inputs"].astype(np.float32), names)
    samples: list[np.ndarray] = []
    species: list[str] = []
    for index in tqdm(range(count), desc=f"calibration {model}", unit="sample", disable=not progress):
        array, name = _render_sample(model, seed, index, frames)
        samples.append(array)
        species.append(name)
    inputs = np.stack(samples).astype(np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache, inputs=inputs.astype(np.uint8), species=np.array(species))
    return Calibration(model, seed, inputs, tuple(species))


def constant_calibration(reference: Calibration, value: float = 127.0) -> Calibration:
    """A degenerate calibration set (every pixel `value`): the negative control for the accuracy check."""
    inputs = np.full_like(reference.inputs, value, dtype=np.float32)
    return Calibration(reference.model, reference.seed, inputs, reference.species, source=f"constant:{value}")
