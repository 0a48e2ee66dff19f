"""`cardlive bench pipeline`: the pipeline's own work per 1280x720 frame on one core, against the models' time.

Frames are fresh simulated captures (landscape 1280x720). Per frame: the card finder's full search, tracking (the
finder refining the previous frame's quad, as on a stream), the gates, and the overhead of a streamed frame (tracking
+ gates); the models: the recapture model on one frame (preprocessing + forward) and the ovd model per sequence of 8
frames, divided by 8. The ratio overhead / recapture model is the same-run baseline. Median of repeats after warm-up;
torch and OpenCV limited to one thread.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from capture_sim.bench import machine_info
from edge_models.bench import median_ms
from edge_models.pipeline.cardfinder import find_card
from edge_models.pipeline.gates import load_gate_spec, run_gates
from edge_models.pipeline.references import load_references
from edge_models.pipeline.runner import Models, score_ovd, score_recapture
from edge_models.pipeline.simframes import card_frame

TARGET_MS = 15.0


def _landscape_frames(seed: int, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out: list[tuple[np.ndarray, np.ndarray]] = []
    index = 0
    while len(out) < n:
        frame, quad = card_frame(seed, index)
        index += 1
        if frame.shape[:2] == (720, 1280):
            out.append((frame, quad))
    return out


def run_pipeline_bench(seed: int = 4321, frames: int = 6, repeats: int = 5) -> dict[str, Any]:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    refs = load_references()
    spec = load_gate_spec("normal")
    models = Models.load()
    rows: dict[str, list[float]] = {k: [] for k in ("find", "track", "gates", "recapture", "ovd_per_frame")}
    for frame, quad in _landscape_frames(seed, frames):
        det = find_card(frame, refs)
        q = det.quad if det is not None else quad
        fields = refs.field_masks(det.template_id if det is not None else None)
        rows["find"].append(median_ms(partial(find_card, frame, refs), repeats, warmup=1))
        rows["track"].append(median_ms(partial(find_card, frame, refs, previous=q), repeats, warmup=1))
        rows["gates"].append(median_ms(partial(run_gates, frame, q, fields, spec, q), repeats, warmup=1))
        rows["recapture"].append(median_ms(partial(score_recapture, models.recapture, frame, q), repeats, warmup=1))
        ovd_call = partial(score_ovd, models.ovd, [frame] * 8, [q] * 8)
        rows["ovd_per_frame"].append(median_ms(ovd_call, repeats, warmup=1) / 8.0)
    med = {k: float(np.median(v)) for k, v in rows.items()}
    streamed = med["track"] + med["gates"]
    return {
        "benchmark": "pipeline",
        "machine": machine_info(),
        "threads": 1,
        "frame_size": [1280, 720],
        "frames": frames,
        "median_ms": {k: round(v, 3) for k, v in med.items()},
        "overhead_ms_streamed": round(streamed, 3),
        "overhead_ms_full_search": round(med["find"] + med["gates"], 3),
        "overhead_per_recapture_model": round(streamed / med["recapture"], 3),
        "target_ms": TARGET_MS,
    }


def format_pipeline_table(result: dict[str, Any]) -> str:
    med = result["median_ms"]
    lines = [f"{'step (1280x720, 1 thread)':<40}{'median ms':>10}", "-" * 50]
    names = {
        "find": "card finder, full search",
        "track": "card finder, tracking",
        "gates": "gates",
        "recapture": "model: recapture (preprocess + fp32)",
        "ovd_per_frame": "model: ovd, per frame of 8",
    }
    lines += [f"{names[k]:<40}{med[k]:>10.2f}" for k in names]
    lines.append("-" * 50)
    lines.append(f"{'overhead per streamed frame':<40}{result['overhead_ms_streamed']:>10.2f}")
    lines.append(f"{'overhead with a full search':<40}{result['overhead_ms_full_search']:>10.2f}")
    lines.append(f"{'overhead / recapture model':<40}{result['overhead_per_recapture_model']:>10.2f}")
    return "\n".join(lines)


def write_report(result: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return out
