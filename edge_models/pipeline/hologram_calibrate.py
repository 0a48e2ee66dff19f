"""Calibrating the hologram check (`cardlive calibrate-hologram`), written into hologram.json.

On tilt sequences that `cardlive simulate --frames 8` wrote (true quads and templates from the index), the response
statistic of pipeline/hologram.py is measured three ways: every genuine sequence, the same sequence with its OVD
frozen at one frame (pipeline/frozen_ovd.py: the attack the check exists for), and every static attack (prints and
replays of a still; video replays are left out: a video of a tilted card is the ovd model's and the recapture
model's case). A sequence without a statistic (too little unglared OVD) counts as not seen.

Rules: the negatives are the frozen copies and the static attacks. Each level's threshold is the quantile of the
negatives' statistics that lets STRICT_, NORMAL_ or RELAXED_NEGATIVE_PASS of them through (rounded up). The
spec records the command, the data and, per level, the shares of genuine sequences seen and of negatives passing.
Calibrate on training seeds and evaluate on others (`cardlive evaluate-pipeline --frozen-ovd`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from capture_sim.dataset import read_index
from cardlive.errors import InputError
from edge_models.images import load_rgb
from edge_models.ovd_data import is_video_replay
from edge_models.pipeline.frozen_ovd import frozen_copy
from edge_models.pipeline.hologram import SPEC_PATH, rectified_cards, response_statistic
from edge_models.pipeline.references import load_references

STRICT_NEGATIVE_PASS = 0.002
NORMAL_NEGATIVE_PASS = 0.01
RELAXED_NEGATIVE_PASS = 0.03


def is_static_sequence(row: dict[str, Any]) -> bool:
    """A tilt sequence the check applies to: genuine, a print, or a replay of a still image."""
    return int(row["frames"]) > 1 and not is_video_replay(row["label"], row.get("params", {}))


def measure(folders: list[Path], limit: int | None, progress: bool = True) -> dict[str, list[float | None]]:
    """Statistics of the genuine sequences, their frozen copies and the static attacks."""
    refs = load_references()
    rows = [(f, r) for f in folders for r in read_index(f) if is_static_sequence(r)][:limit]
    if not rows:
        raise InputError(f"{', '.join(map(str, folders))} hold no tilt sequences; simulate them with --frames 8")
    out: dict[str, list[float | None]] = {"genuine": [], "frozen": [], "attack": []}
    for index, (folder, row) in enumerate(tqdm(rows, desc="calibrate-hologram", unit="sequence", disable=not progress)):
        ovd = refs.ovd_mask(row["template_id"])
        if ovd is None:
            raise InputError(f"template {row['template_id']!r} of {row['id']} has no OVD mask in the references")
        frames = [load_rgb(folder / p) for p in row["path"]]
        quads = [np.asarray(q, np.float64) for q in row["quad"]]
        statistic = response_statistic(rectified_cards(frames, quads), ovd)
        if row["label"] != "genuine":
            out["attack"].append(statistic)
            continue
        out["genuine"].append(statistic)
        frozen = frozen_copy(frames, quads, ovd, index)
        out["frozen"].append(response_statistic(rectified_cards(frozen, quads), ovd))
    return out


def _passing(values: list[float | None], threshold: float) -> float:
    return round(float(np.mean([v is not None and v >= threshold for v in values])), 4) if values else 0.0


def derive(m: dict[str, list[float | None]]) -> dict[str, Any]:
    """Thresholds per level by the module's rules, and the shares they give on the measured data."""
    negatives = np.array([v for v in m["frozen"] + m["attack"] if v is not None], np.float64)
    if negatives.size == 0 or not m["genuine"]:
        raise InputError("calibrating the hologram check needs genuine sequences and static attacks")
    levels = {
        "strict": float(np.quantile(negatives, 1.0 - STRICT_NEGATIVE_PASS)),
        "normal": float(np.quantile(negatives, 1.0 - NORMAL_NEGATIVE_PASS)),
        "relaxed": float(np.quantile(negatives, 1.0 - RELAXED_NEGATIVE_PASS)),
    }
    levels = {k: math.ceil(v * 1e4) / 1e4 for k, v in levels.items()}  # rounded up: no negative gains a pass
    shares = {
        level: {group: _passing(values, threshold) for group, values in m.items()}
        for level, threshold in levels.items()
    }
    counts = {group: len(values) for group, values in m.items()}
    unmeasured = {group: sum(v is None for v in values) for group, values in m.items()}
    medians = {g: round(float(np.median([v for v in vs if v is not None])), 4) for g, vs in m.items() if any(vs)}
    return {"levels": levels, "passing": shares, "counts": counts, "no_statistic": unmeasured, "medians": medians}


def calibrate(folders: list[Path], limit: int | None, out: Path = SPEC_PATH, progress: bool = True) -> dict[str, Any]:
    """Measure, derive and write the spec with its provenance."""
    derived = derive(measure(folders, limit, progress))
    doc = {
        "schema_version": 1,
        "description": "Hologram response thresholds per strictness level (edge_models/pipeline/hologram.py).",
        "levels": derived["levels"],
        "calibration": {
            "command": "cardlive calibrate-hologram "
            + " ".join(f"--data {f}" for f in folders)
            + ("" if limit is None else f" --limit {limit}"),
            "data": [str(f) for f in folders],
            "rules": (__doc__ or "").split("\n\n", 2)[2].split("\n\n")[0].strip(),
            **{k: v for k, v in derived.items() if k != "levels"},
        },
    }
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc
