"""Calibrating the gate thresholds on simulated frames (`cardlive calibrate-gates`), written into gates.json.

Measures are taken at the TRUE quads of a simulated folder (index.jsonl), so the gates are calibrated apart from the
card finder. Rules (the same for every run; the measured percentiles are stored beside the thresholds):
- blur: frames whose camera drew no defocus and < 1 px motion are "sharp", defocus >= 1.5 px or motion >= 4 px
  "blurred"; normal = the focus threshold with the best balanced accuracy, relaxed = the 1st percentile of sharp
  frames, strict = the 90th percentile of blurred frames (clipped so relaxed <= normal <= strict).
- size (px/mm) and oblique (degrees): the models were trained on the simulator's range only; normal = its 1st /
  99th percentile, strict = 10th / 90th, relaxed = 0.8x / +10 degrees of normal.
- exposure: the lower limit is the 0.5th (normal) / 2nd (strict) percentile of the card's median grey, relaxed 15
  levels below normal; the simulator's auto exposure never washes a card out, so the upper limit is policy
  (EXPOSURE_MAX: a median above it leaves the print without contrast).
- glare: the grey level of the glare detector is the one whose field coverage best matches the simulator's own
  glare masks (mean absolute error); on brighter cards the detector's level rises with the card's median grey
  (median + GLARE_MARGIN, policy), so a well-lit white card is not glare; the field-coverage limits are fixed by
  policy (strict 0.02, normal 0.08, relaxed 0.2) and the share of frames each rejects is reported.
- motion: per-frame corner motion of the true quads of tilt sequences; normal = 1.25x the 99th percentile, strict =
  the 95th percentile, relaxed = 2x normal.
- tilt coverage (ovd): fixed policy, strict 15 / normal 10 / relaxed 6 degrees; the estimated coverage of the
  simulated sweeps (amplitude 8-25 degrees each way) is reported beside it.
- out of frame: fixed policy, strict 1.0 / normal 0.995 / relaxed 0.98 of the card's area inside the frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from edge_models.images import load_rgb
from edge_models.pipeline.gates import SPEC_PATH, card_crop, detected_field_glare, field_glare, focus_measure
from edge_models.pipeline.quads import CARD_W_MM, inside_fraction, side_lengths, tilt_deg
from edge_models.pipeline.references import load_references
from edge_models.pipeline.tilt import tilt_coverage_deg

GLARE_LEVELS = (200, 215, 230, 240, 248)
FIELD_GLARE_POLICY = {"strict": 0.02, "normal": 0.08, "relaxed": 0.2}
EXPOSURE_MAX = {"strict": 225.0, "normal": 235.0, "relaxed": 245.0}
GLARE_MARGIN = 60


def _frames(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    return [(r, t) for r in rows for t in range(r["frames"])]


def measure(folder: Path, limit: int, progress: bool = True) -> dict[str, list[float]]:
    """Gate measures at the true quads of up to `limit` frames of a simulated folder."""
    rows = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines() if line.strip()]
    refs = load_references()
    out: dict[str, list[float]] = {k: [] for k in ("size", "tilt", "grey", "inside", "focus", "label_blur")}
    out.update({f"glare_err_{g}": [] for g in GLARE_LEVELS})
    out.update({f"glare_{g}": [] for g in GLARE_LEVELS})
    out["motion"], out["coverage"] = [], []
    for row, t in tqdm(_frames(rows)[:limit], desc="calibrate", unit="frame", disable=not progress):
        seq = row["frames"] > 1
        quad = np.asarray(row["quad"][t] if seq else row["quad"], np.float64)
        frame = load_rgb(folder / (row["path"][t] if seq else row["path"]))
        h, w = frame.shape[:2]
        grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
        crop, mask = card_crop(np.asarray(grey, np.uint8), quad)
        cam = row["params"]["scene"]["camera"]
        sharp = cam["defocus_px"] == 0 and cam["motion_px"] < 1.0
        blurred = cam["defocus_px"] >= 1.5 or cam["motion_px"] >= 4.0
        out["label_blur"].append(0.0 if sharp else 1.0 if blurred else 0.5)
        out["focus"].append(focus_measure(crop, mask))
        out["size"].append(float(side_lengths(quad)[[0, 2]].mean() / CARD_W_MM))
        out["tilt"].append(tilt_deg(quad, w, h))
        out["inside"].append(inside_fraction(quad, w, h))
        out["grey"].append(float(np.median(crop[mask])) if mask.any() else 0.0)
        fields = refs.field_masks(row.get("template_id"))
        true_mask = np.asarray(
            cv2.imread(str(folder / (row["glare_mask"][t] if seq else row["glare_mask"])), 0), np.uint8
        )
        truth = max(field_glare(true_mask, quad, fields).values())
        for g in GLARE_LEVELS:
            found = max(detected_field_glare(frame, quad, fields, g).values())
            out[f"glare_{g}"].append(found)
            out[f"glare_err_{g}"].append(abs(found - truth))
        if seq and t > 0:
            prev = np.asarray(row["quad"][t - 1], np.float64)
            diag = 0.5 * (np.linalg.norm(quad[2] - quad[0]) + np.linalg.norm(quad[3] - quad[1]))
            out["motion"].append(float(np.mean(np.linalg.norm(quad - prev, axis=1)) / diag))
        if seq and t == row["frames"] - 1:
            out["coverage"].append(tilt_coverage_deg([np.asarray(q) for q in row["quad"]], w, h))
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _blur_thresholds(focus: np.ndarray, label: np.ndarray) -> tuple[float, float, float]:
    sharp, blurred = focus[label == 0.0], focus[label == 1.0]
    if len(sharp) == 0 or len(blurred) == 0:
        raise ValueError("calibrating blur needs both sharp and blurred frames")
    grid = np.unique(np.concatenate([sharp, blurred]))
    bal = [0.5 * (np.mean(sharp >= c) + np.mean(blurred < c)) for c in grid]
    normal = float(grid[int(np.argmax(bal))])
    relaxed = min(float(np.percentile(sharp, 1)), normal)
    strict = max(float(np.percentile(blurred, 90)), normal)
    return strict, normal, relaxed


def derive(m: dict[str, list[float]]) -> dict[str, Any]:
    """Thresholds per strictness level from the measures, by the rules in the module docstring."""
    strict_f, normal_f, relaxed_f = _blur_thresholds(np.array(m["focus"]), np.array(m["label_blur"]))
    glare_level = min(GLARE_LEVELS, key=lambda g: float(np.mean(m[f"glare_err_{g}"])))
    motion99 = _pct(m["motion"], 99) if m["motion"] else 0.05
    motion95 = _pct(m["motion"], 95) if m["motion"] else 0.04
    normal = {
        "min_px_per_mm": _pct(m["size"], 1),
        "min_inside": 0.995,
        "max_tilt_deg": _pct(m["tilt"], 99),
        "min_focus": normal_f,
        "min_grey": _pct(m["grey"], 0.5),
        "max_grey": EXPOSURE_MAX["normal"],
        "glare_level": glare_level,
        "glare_margin": GLARE_MARGIN,
        "max_field_glare": FIELD_GLARE_POLICY["normal"],
        "max_motion": 1.25 * motion99,
        "min_tilt_coverage_deg": 10.0,
    }
    strict = {
        **normal,
        "min_px_per_mm": _pct(m["size"], 10),
        "min_inside": 1.0,
        "max_tilt_deg": _pct(m["tilt"], 90),
        "min_focus": strict_f,
        "min_grey": _pct(m["grey"], 2),
        "max_grey": EXPOSURE_MAX["strict"],
        "max_field_glare": FIELD_GLARE_POLICY["strict"],
        "max_motion": motion95,
        "min_tilt_coverage_deg": 15.0,
    }
    relaxed = {
        **normal,
        "min_px_per_mm": 0.8 * normal["min_px_per_mm"],
        "min_inside": 0.98,
        "max_tilt_deg": normal["max_tilt_deg"] + 10.0,
        "min_focus": relaxed_f,
        "min_grey": normal["min_grey"] - 15.0,
        "max_grey": EXPOSURE_MAX["relaxed"],
        "max_field_glare": FIELD_GLARE_POLICY["relaxed"],
        "max_motion": 2.0 * normal["max_motion"],
        "min_tilt_coverage_deg": 6.0,
    }
    levels = {"strict": strict, "normal": normal, "relaxed": relaxed}
    for level in levels.values():
        level["glare_level"] = int(level["glare_level"])
        for key, value in level.items():
            if isinstance(value, float):
                level[key] = round(value, 4)
    glare = np.array(m[f"glare_{glare_level}"])
    stats = {
        "frames": len(m["focus"]),
        "sequences": len(m["coverage"]),
        "sharp_frames": int(np.sum(np.array(m["label_blur"]) == 0)),
        "blurred_frames": int(np.sum(np.array(m["label_blur"]) == 1)),
        "percentiles": {
            key: {str(q): round(_pct(m[key], q), 4) for q in (0.5, 1, 5, 50, 95, 99)}
            for key in ("size", "tilt", "grey", "focus", "inside", "motion", "coverage")
            if m[key]
        },
        "glare_detector_mean_abs_error": {str(g): round(float(np.mean(m[f"glare_err_{g}"])), 5) for g in GLARE_LEVELS},
        "field_glare_rejected_share": {k: round(float(np.mean(glare > v)), 4) for k, v in FIELD_GLARE_POLICY.items()},
    }
    return {"levels": levels, "stats": stats}


def calibrate(folders: list[Path], limit: int, out: Path = SPEC_PATH, progress: bool = True) -> dict[str, Any]:
    """Measure the folders (up to `limit` frames each), derive thresholds, write the spec with its provenance."""
    merged: dict[str, list[float]] = {}
    for folder in folders:
        for key, values in measure(folder, limit, progress).items():
            merged.setdefault(key, []).extend(values)
    derived = derive(merged)
    doc = {
        "schema_version": 1,
        "description": "Quality-gate thresholds of the capture pipeline per strictness level (edge_models.pipeline).",
        "levels": derived["levels"],
        "calibration": {
            "command": "cardlive calibrate-gates " + " ".join(f"--data {f}" for f in folders) + f" --limit {limit}",
            "data": [str(f) for f in folders],
            "rules": (__doc__ or "").split("\n\n", 1)[1].strip(),
            **derived["stats"],
        },
    }
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc
