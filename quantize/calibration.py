"""Representative calibration inputs for post-training quantisation, rendered by the simulator from an explicit seed.

Coverage is by construction, not by chance: sample i is rendered with the species `ALL_SPECIES[i % 9]` (genuine and
all eight attack families, round robin), as capture `i // 9` of a SimConfig restricted to that species, so every
class and family appears once `count >= 9`. recapture samples are mosaics (288 x 256, the model input); ovd samples
are 8-frame tilt sequences rectified with the OVD spec (edge_models.ovd_data.align_sequence), lit by the phone's
torch as the tilt check captures them (edge_models.ovd_data.TILT_CHECK_TORCH).

Rendering costs about a second per frame on this machine, so a calibration set is cached as an .npz keyed by model,
seed, count, frames, simulator version and spec digest (`cache_dir`); the cache is only an accelerator, the key
fully determines content.
Defaults (256 mosaics, 32 sequences) keep an export within a few minutes on 2 cores; with 16 sequences the ovd int8
LiteRT glare map missed the conformance ceiling (max |delta| 0.101), with 32 it is 0.028 and the score 0.038. With
256 recapture mosaics instead of 64 the LiteRT int8 model's largest attack-score delta on the 3,000 held-out captures
fell from 0.080 to 0.051 (the ONNX int8 one is unchanged: its MinMax ranges are already reached by 64).

Every rendered sample is also used once more as a *dark* copy (scene radiance x 0.18, i.e. about 2.5 stops under,
through the sRGB-like 2.2 gamma, with seeded sensor-like noise): without it the activation ranges are fitted to
well-exposed captures only, and int8 clips the scores of dark and blurred frames (measured by the conformance suite:
ovd int8 max |delta| 0.25 without, 0.08 with). The darkening is pixel-wise, so it commutes with the preprocessing up
to the global view's interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from capture_sim.capture import SIMULATOR_VERSION, SimConfig, render_capture
from capture_sim.species import ALL_SPECIES
from cardlive.errors import ParameterError
from edge_models.models.ovd import SequenceLayout
from edge_models.mosaic import RECAPTURE_SPEC, build_mosaic
from edge_models.ovd_data import OVD_SPEC, TILT_CHECK_TORCH, align_sequence

DEFAULT_COUNTS = {"recapture": 256, "ovd": 32}
DEFAULT_SEED = 7001
DARK_GAIN = 0.18  # linear exposure of the dark copies


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


def _torch_lit(model: str) -> bool:
    """Whether `model`'s calibration captures are lit by the phone's torch (the ovd tilt check's protocol)."""
    return model == "ovd" and TILT_CHECK_TORCH


def _render_sample(model: str, seed: int, index: int, frames: int) -> tuple[np.ndarray, str]:
    species = ALL_SPECIES[index % len(ALL_SPECIES)]
    config = SimConfig(seed=seed, species=(species,), frames=frames if model == "ovd" else 1, torch=_torch_lit(model))
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
        lit = "_torch" if _torch_lit(model) else ""
        version = SIMULATOR_VERSION.replace(".", "")
        cache = Path(cache_dir) / f"{model}_s{seed}_n{count}_f{frames}{lit}_v{version}_{spec.digest()[:12]}.npz"
        if cache.exists():
            stored = np.load(cache)
            names = tuple(str(s) for s in stored["species"])
            return _with_dark_copies(Calibration(model, seed, stored["inputs"].astype(np.float32), names))
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
    return _with_dark_copies(Calibration(model, seed, inputs, tuple(species)))


def darken(pixels: np.ndarray, rng: np.random.Generator, gain: float = DARK_GAIN) -> np.ndarray:
    """uint8-range pixels -> the same scene `gain` times as bright (gamma 2.2), with 2 DN of noise, as float32."""
    linear = (np.asarray(pixels, dtype=np.float64) / 255.0) ** 2.2 * gain
    out = 255.0 * linear ** (1.0 / 2.2) + rng.normal(0.0, 2.0, size=linear.shape)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.float32)


def _with_dark_copies(calibration: Calibration) -> Calibration:
    """The samples followed by a dark copy of each (seeded by the calibration seed)."""
    rng = np.random.default_rng([calibration.seed, 1])
    dark = darken(calibration.inputs, rng)
    return Calibration(
        calibration.model,
        calibration.seed,
        np.concatenate([calibration.inputs, dark]),
        calibration.species * 2,
        calibration.source + "+dark",
    )


def constant_calibration(reference: Calibration, value: float = 127.0) -> Calibration:
    """A degenerate calibration set (every pixel `value`): the negative control for the accuracy check."""
    inputs = np.full_like(reference.inputs, value, dtype=np.float32)
    return Calibration(reference.model, reference.seed, inputs, reference.species, source=f"constant:{value}")
