"""How much does a small card-quad error move the recapture decision? (`cardlive quad-sensitivity`)

The card finder's target allows a mean corner error of 1.5 % of the card diagonal; the model's patches and global
view are cut through the quad, so its decisions must survive errors of that size. For every capture with a quad,
one side (drawn from the seed per capture) is moved along its outward normal by each signed shift (a share of the
diagonal: > 0 shows a sliver of the desk around the card, < 0 cuts the card's border off), the model scores the
frame again and the decision at the model's default operating threshold is compared with the one at the true quad.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cardlive.errors import InputError
from edge_models.augment import shift_side
from edge_models.datasets.folder import read_index_folder
from edge_models.datasets.records import CaptureRecord
from edge_models.images import load_rgb
from edge_models.pipeline.runner import score_recapture
from edge_models.weights import LoadedModel

DEFAULT_SHIFTS = (-0.015, -0.01, -0.005, 0.005, 0.01, 0.015)


def quad_sensitivity(
    model: LoadedModel,
    data: Path,
    limit: int | None = None,
    shifts: tuple[float, ...] = DEFAULT_SHIFTS,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Per class (genuine / attack) and shift: share rejected and share of decisions that flip."""
    records = [r for r in read_index_folder(data) if isinstance(r, CaptureRecord) and r.quad is not None][:limit]
    if not records:
        raise InputError(f"{data}: no single-frame captures with quads to measure")
    threshold = model.threshold
    rejected: dict[str, list[list[bool]]] = {"genuine": [], "attack": []}
    for k, record in enumerate(tqdm(records, desc="quad-sensitivity", unit="capture", disable=not progress)):
        frame = load_rgb(record.path)
        quad = np.asarray(record.quad, np.float64)
        diagonal = float(np.linalg.norm(quad[2] - quad[0]))
        side = int(np.random.default_rng([seed, k]).integers(4))
        quads = [quad] + [shift_side(quad, side, s * diagonal) for s in shifts]
        row = [1.0 - score_recapture(model, frame, q)["genuine"] >= threshold for q in quads]
        rejected["genuine" if record.label == "genuine" else "attack"].append(row)
    result: dict[str, Any] = {"data": str(data), "threshold": threshold, "shifts": list(shifts), "classes": {}}
    for name, rows in rejected.items():
        if not rows:
            continue
        table = np.asarray(rows, bool)
        result["classes"][name] = {
            "captures": len(rows),
            "rejected_at_true_quad": round(float(table[:, 0].mean()), 4),
            "rejected": [round(float(table[:, j + 1].mean()), 4) for j in range(len(shifts))],
            "flipped": [round(float((table[:, j + 1] != table[:, 0]).mean()), 4) for j in range(len(shifts))],
        }
    return result
