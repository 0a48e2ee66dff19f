"""Reference scorer for tilt sequences (`cardlive score --sequence DIR`): the `ovd` model and the classical baseline.

A sequence folder holds the frames of one tilt sequence as images, in name order (`frame_00.jpg`, `frame_01.jpg`, ...
as `cardlive simulate --frames 8` writes them; mask files named `ovd_*` / `glare_*` are ignored). Each frame needs the
card quad, from `--quads` rows keyed by the frame's path. The frames are spread over the model's T frames exactly as
in training (`frame_indices`), rectified with the OVD spec, and scored by both the learned model and the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cardlive.errors import InputError
from edge_models.images import load_rgb
from edge_models.models.ovd import SequenceLayout
from edge_models.ovd_baseline import ovd_baseline
from edge_models.ovd_data import align_sequence, frame_indices
from edge_models.weights import LoadedModel

DEFAULT_OVD_WEIGHTS = Path(__file__).parent / "weights" / "ovd.pt"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_PREFIXES = ("ovd_", "glare_")


def sequence_frames(folder: Path) -> list[Path]:
    """The frame images of one sequence folder, in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of sequence frames")
    frames = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(MASK_PREFIXES)
    )
    if len(frames) < 2:
        raise InputError(f"{folder} holds {len(frames)} frame image(s); a tilt sequence needs at least 2")
    return frames


def score_sequence(
    loaded: LoadedModel, frames: Sequence[np.ndarray], quads: Sequence[Sequence[Sequence[float]]]
) -> dict[str, Any]:
    """P(real OVD) from the model and from the classical baseline, the decision, and the mean glare per frame."""
    if loaded.name != "ovd":
        raise InputError(f"sequence scoring needs the ovd model, not {loaded.name!r}")
    if len(frames) != len(quads) or len(frames) < 2:
        raise InputError(f"need >= 2 frames with one quad each, got {len(frames)} frames and {len(quads)} quads")
    layout: SequenceLayout = getattr(loaded.model, "layout", SequenceLayout())
    pick = frame_indices(len(frames), layout.frames)
    crops, _ = align_sequence(
        [frames[i] for i in pick], [np.asarray(quads[i], dtype=np.float64) for i in pick], None, loaded.spec
    )
    with torch.no_grad():
        p_real, glare = loaded.model(torch.from_numpy(crops)[None].float())
    probability = float(p_real[0, 0])
    attack = 1.0 - probability
    baseline = ovd_baseline(crops)
    return {
        "p_real_ovd": probability,
        "attack_score": attack,
        "threshold": loaded.threshold,
        "decision": "attack" if attack >= loaded.threshold else "genuine",
        "baseline": {"p_real_ovd": baseline.probability, "hologram_share": baseline.hologram_share},
        "frames_used": pick,
        "glare_coverage": [float(v) for v in glare[0].mean(dim=(1, 2))],
    }


def score_sequence_folder(loaded: LoadedModel, folder: Path, quads: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Score one sequence folder; every frame must have a quad keyed by its path as given."""
    paths = sequence_frames(folder)
    missing = [str(p) for p in paths if str(p) not in quads]
    if missing:
        raise InputError(
            f"{len(missing)} frame(s) of {folder} have no quad, e.g. {missing[0]}; pass --quads FILE.jsonl with a "
            'row {"path": ..., "quad": [[x, y] x 4]} per frame'
        )
    frames = [load_rgb(p) for p in paths]
    result = score_sequence(loaded, frames, [quads[str(p)] for p in paths])
    return {"path": str(folder), "frames": [str(p) for p in paths], **result}
