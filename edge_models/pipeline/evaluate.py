"""Measuring the pipeline on simulated data: the card finder (`cardlive bench cardfinder`) and end-to-end decisions on
tilt sequences (`cardlive evaluate-pipeline`).

End to end: every sequence of a folder (`cardlive simulate --frames 8`) runs twice, once with the card finder and
once with the true quads (so the finder's share of the errors shows). Expected outcome: genuine -> accept, screen ->
reject "screen", print -> reject "print" (rejecting an attack for another attack reason, e.g. no_live_hologram, counts
as a correct reject but a wrong reason). Genuine sequences are grouped by the simulator's own glare masks: "glare
free" (< 0.1 % of the card's area in every frame), "glare away from the fields" (glare on the card, but <= 1 % of any
field), "glare on the fields" (the rest); their acceptance rates answer the issue's laminate-glare question
between different sequences, and `cardlive glare-pairs` (glare_pairs.py) on the same sequences rendered without it.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from capture_sim.dataset import read_index
from cardlive.errors import InputError
from edge_models.datasets import split_folders
from edge_models.images import load_rgb
from edge_models.pipeline.cardfinder import find_card
from edge_models.pipeline.decision import Decision
from edge_models.pipeline.frozen_ovd import frozen_copy
from edge_models.pipeline.gates import field_glare
from edge_models.pipeline.quads import corner_error, rectify
from edge_models.pipeline.references import MASK_SIZE, load_references
from edge_models.pipeline.runner import CapturePipeline, Models
from edge_models.pipeline.simframes import NO_CARD_BASE, FrameCache, card_frame, no_card_frame

CORNER_TARGET = 0.015
FROZEN = "frozen_ovd"
EXPECTED = {
    "genuine": ("accept", None),
    "screen": ("reject", "screen"),
    "print": ("reject", "print"),
    FROZEN: ("retry", "hologram"),  # or rejected by the ovd model: never accepted
}


def glare_group(folder: Path, row: dict[str, Any]) -> str:
    """'free', 'away' (glare on the card, not on the fields) or 'fields', from the simulator's glare masks."""
    refs = load_references()
    fields = refs.field_masks(row["template_id"])
    card_share, field_share = 0.0, 0.0
    for path, quad in zip(row["glare_mask"], row["quad"], strict=True):
        mask = np.asarray(cv2.imread(str(folder / path), cv2.IMREAD_GRAYSCALE), np.uint8)
        q = np.asarray(quad, np.float64)
        card_share = max(card_share, float((rectify(mask, q, MASK_SIZE) > 127).mean()))
        field_share = max(field_share, max(field_glare(mask, q, fields).values()))
    if card_share < 0.001:
        return "free"
    return "away" if field_share <= 0.01 else "fields"


def _brief(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "reason": decision.reason,
        "attack_score": decision.fused_attack,
        "ovd_score": decision.ovd_score,
        "tilt_coverage_deg": round(decision.tilt_coverage_deg, 2),
        "hologram": None if decision.hologram is None else decision.hologram.statistic,
    }


def _rate(values: list[bool]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def evaluate_pipeline(
    data: Path,
    report: Path,
    strictness: str = "normal",
    limit: int | None = None,
    progress: bool = True,
    models: Models | None = None,
    frozen_ovd: bool = False,
) -> dict[str, Any]:
    """Decisions on every tilt sequence of `data` (one folder, or several separated by commas); writes
    report/report.json and returns it. `models`: the committed ones unless given (e.g. a candidate to compare).
    frozen_ovd: every genuine sequence also runs with its OVD frozen at one frame (label and species frozen_ovd,
    pipeline/frozen_ovd.py), an attack the pipeline must never accept."""
    rows = [(f, r) for f in split_folders(data) for r in read_index(f) if r["frames"] > 1][:limit]
    if not rows:
        raise InputError(f"{data} holds no tilt sequences; simulate them with --frames 8")
    models = models or Models.load()
    pipeline = CapturePipeline(models, strictness)
    per_row = []
    for index, (folder, row) in enumerate(tqdm(rows, desc="evaluate-pipeline", unit="sequence", disable=not progress)):
        frames = [load_rgb(folder / p) for p in row["path"]]
        truth = [np.asarray(q, np.float64) for q in row["quad"]]
        per_row.append(_run_row(pipeline, folder, row, frames, truth))
        ovd = pipeline.refs.ovd_mask(row["template_id"])
        if frozen_ovd and row["label"] == "genuine" and ovd is not None:
            frozen = frozen_copy(frames, truth, ovd, index)
            per_row.append(_run_row(pipeline, folder, {**row, "label": FROZEN, "species": FROZEN}, frozen, truth))
    result = {
        "data": str(data),
        "models": models.versions,
        "strictness": strictness,
        "frozen_ovd": frozen_ovd,
        "n": len(per_row),
        "summary": summarise(per_row),
        "rows": per_row,
    }
    report.mkdir(parents=True, exist_ok=True)
    (report / "report.json").write_text(json.dumps(result, indent=2))
    return result


def _run_row(
    pipeline: CapturePipeline,
    folder: Path,
    row: dict[str, Any],
    frames: list[NDArray[np.uint8]],
    truth: list[NDArray[np.float64]],
) -> dict[str, Any]:
    """One sequence with the card finder and with the true quads."""
    start = time.perf_counter()
    found = pipeline.run(frames)
    seconds = time.perf_counter() - start
    oracle = pipeline.run(frames, truth)
    errors = [
        corner_error(f.quad, t) if f.quad is not None else float("inf")
        for f, t in zip(found.frames, truth, strict=True)
    ]
    return {
        "id": row["id"],
        "label": row["label"],
        "species": row["species"],
        "glare": glare_group(folder, row) if row["label"] == "genuine" else None,
        "finder": _brief(found),
        "true_quads": _brief(oracle),
        "frames_within_target": int(sum(e <= CORNER_TARGET for e in errors)),
        "frames": len(errors),
        "seconds": round(seconds, 3),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per class and per species: accepted / rejected / retried shares and correct decisions, for both quad sources."""
    out: dict[str, Any] = {}
    for source in ("finder", "true_quads"):
        by_class: dict[str, Any] = {}
        for key in ("label", "species"):
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows:
                groups[r[key]].append(r)
            for name, group in sorted(groups.items()):
                outcomes = Counter(r[source]["outcome"] for r in group)
                expected = [EXPECTED[r["label"]] for r in group]
                by_class[f"{key}:{name}"] = {
                    "n": len(group),
                    **{o: round(outcomes[o] / len(group), 4) for o in ("accept", "reject", "retry")},
                    "correct_outcome": _rate(
                        [r[source]["outcome"] == e[0] for r, e in zip(group, expected, strict=True)]
                    ),
                    "correct_reason": _rate(
                        [(r[source]["outcome"], r[source]["reason"]) == e for r, e in zip(group, expected, strict=True)]
                    ),
                }
        genuine = [r for r in rows if r["label"] == "genuine"]
        glare = {
            g: {"n": len(sel), "accepted": _rate([r[source]["outcome"] == "accept" for r in sel])}
            for g in ("free", "away", "fields")
            for sel in [[r for r in genuine if r["glare"] == g]]
        }
        retry = Counter(r[source]["reason"] for r in rows if r[source]["outcome"] == "retry")
        out[source] = {"classes": by_class, "genuine_by_glare": glare, "retry_reasons": dict(retry)}
    frames = sum(r["frames"] for r in rows)
    out["finder_frames_within_1.5pct"] = round(sum(r["frames_within_target"] for r in rows) / max(frames, 1), 4)
    return out


def evaluate_cardfinder(
    seed: int, n: int, no_card: int, progress: bool = True, frames: Path | None = None
) -> dict[str, Any]:
    """Corner error of the card finder on n fresh simulated frames and false finds on no_card frames without a card.
    `frames`: a FrameCache folder the frames are read from where it holds them and written to where it does not.

    The finder's learned card mask runs with one torch thread, as on a phone core (more threads than free cores
    make the tiny network slower, not faster)."""
    torch.set_num_threads(1)
    cache = FrameCache(frames, seed) if frames is not None else None
    errors, times, found_templates = [], [], []
    for i in tqdm(range(n), desc="cardfinder", unit="frame", disable=not progress):
        frame, truth = cache.card_frame(i) if cache else card_frame(seed, i)
        start = time.perf_counter()
        det = find_card(frame)
        times.append(time.perf_counter() - start)
        errors.append(corner_error(det.quad, truth) if det is not None else float("inf"))
        found_templates.append(det is not None)
    false_finds = 0
    for i in tqdm(range(no_card), desc="no-card", unit="frame", disable=not progress):
        pair_id = NO_CARD_BASE + i
        false_finds += find_card(cache.no_card_frame(pair_id) if cache else no_card_frame(seed, pair_id)) is not None
    e = np.array(errors)
    finite = e[np.isfinite(e)]
    return {
        "seed": seed,
        "frames": n,
        "within_1.5pct": round(float(np.mean(e <= CORNER_TARGET)), 4),
        "found": round(float(np.mean(np.isfinite(e))), 4),
        "median_error_of_found": round(float(np.median(finite)), 5) if finite.size else None,
        "p90_error_of_found": round(float(np.percentile(finite, 90)), 5) if finite.size else None,
        "no_card_frames": no_card,
        "no_card_false_finds": false_finds,
        "median_ms": round(float(np.median(times) * 1000), 2),
        "target": "corner error <= 1.5 % of the diagonal on >= 95 % of frames; no card on frames without one",
    }
