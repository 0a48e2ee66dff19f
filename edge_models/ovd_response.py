"""Does the hologram move? A data diagnostic for tilt sequences (`cardlive ovd-response`).

For every sequence with an OVD mask, on the rectified crops the ovd model sees: the mean temporal standard
deviation (over the T frames, averaged over RGB) inside the OVD region, divided by the same outside it, both
without the cells that glare touches in any frame. A real hologram under a tilt changes colour and brightness far
more than printed ink does, so genuine sequences should sit well above 1; a print or a replayed static image
freezes the OVD and sits near 1 (camera noise, tremor and shading move both regions alike).

Why it exists: a model cannot learn to read a hologram that does not respond in its training data. This measures,
per species, how often it does (e.g. simulator 0.2.0's torch mode against room light), on any folder that
`cardlive simulate --frames T` writes or a user's own sequences with OVD masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardlive.errors import InputError
from edge_models.ovd_data import GLARE_CELL, FolderSequences, SequenceSample

RESPONDS = 2.0  # ratio above which a sequence's OVD counts as visibly responding
_MIN_PIXELS = 20
_GLARE_CELL_THRESHOLD = 0.02


@dataclass(frozen=True)
class SpeciesResponse:
    species: str
    sequences: int
    median_ratio: float
    share_responding: float  # ratio > RESPONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "sequences": self.sequences,
            "median_ratio": round(self.median_ratio, 3),
            "share_responding": round(self.share_responding, 4),
        }


def response_ratio(
    frames: NDArray[np.uint8], ovd: NDArray[np.bool_], glare: NDArray[np.float32] | None = None
) -> float | None:
    """OVD / rest temporal-std ratio of one (T, H, W, 3) sequence; None when too little unglared OVD is visible."""
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise InputError(f"expected (T >= 2, H, W, 3) frames, got shape {frames.shape}")
    std = frames.astype(np.float32).std(axis=0).mean(axis=-1)
    clear = np.ones(std.shape, bool)
    if glare is not None:
        cells = glare.max(axis=0) > _GLARE_CELL_THRESHOLD
        clear = ~np.repeat(np.repeat(cells, GLARE_CELL, 0), GLARE_CELL, 1)[: std.shape[0], : std.shape[1]]
    inside, outside = std[ovd & clear], std[~ovd & clear]
    if inside.size < _MIN_PIXELS or outside.size < _MIN_PIXELS:
        return None
    return float(inside.mean() / max(float(outside.mean()), 1e-3))


def _ratios(samples: list[SequenceSample]) -> dict[str, list[float]]:
    by_species: dict[str, list[float]] = {}
    for sample in samples:
        if sample.ovd is None or not sample.ovd.any():
            continue
        ratio = response_ratio(sample.frames, sample.ovd, sample.glare)
        if ratio is not None:
            by_species.setdefault(sample.species, []).append(ratio)
    return by_species


def ovd_response(data: Path, progress: bool = True) -> dict[str, Any]:
    """Per species: sequences measured, median ratio and share above RESPONDS, on a folder of tilt sequences."""
    samples = FolderSequences(data, progress=progress).samples
    by_species = _ratios(samples)
    if not by_species:
        raise InputError(f"{data}: no sequence with an OVD mask and enough unglared OVD to measure")
    rows = [
        SpeciesResponse(name, len(r), float(np.median(r)), float(np.mean(np.asarray(r) > RESPONDS)))
        for name, r in sorted(by_species.items())
    ]
    attacks = [v for name, r in by_species.items() if name != "genuine" for v in r]
    return {
        "data": str(data),
        "responds_above": RESPONDS,
        "species": [r.to_json() for r in rows],
        "attacks_share_responding": round(float(np.mean(np.asarray(attacks) > RESPONDS)), 4) if attacks else None,
    }
