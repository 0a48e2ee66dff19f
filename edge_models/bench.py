"""`cardlive bench models`: single-thread PyTorch latency of each model, per frame / per sequence.

Also times the preprocessing contract (patches + global view + mosaic) on a 1280x720 frame, so the model time can be
read against the work around it. Median of repeated runs after warm-up; torch.set_num_threads(1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from capture_sim.bench import machine_info
from edge_models.models import create_model, list_models
from edge_models.models.ovd import SequenceLayout
from edge_models.models.recapture import MosaicLayout
from edge_models.mosaic import build_mosaic


@dataclass(frozen=True)
class ModelBenchRow:
    name: str
    unit: str
    parameters: int
    fp32_kb: float
    median_ms: float


def median_ms(call: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of `call` in ms over `repeats` runs, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def run_model_bench(repeats: int = 30) -> list[ModelBenchRow]:
    torch.set_num_threads(1)
    rows = []
    inputs = {
        "recapture": torch.zeros(1, MosaicLayout().height, MosaicLayout().width, 3),
        "ovd": torch.zeros(1, SequenceLayout().frames, SequenceLayout().height, SequenceLayout().width, 3),
    }
    units = {"recapture": "frame", "ovd": f"sequence of {SequenceLayout().frames} frames"}
    for name in list_models():
        model = create_model(name).eval()
        params = sum(p.numel() for p in model.parameters())
        x = inputs[name]
        with torch.no_grad():
            ms = median_ms(partial(model, x), repeats)
        rows.append(ModelBenchRow(name, units[name], params, params * 4 / 1024, ms))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    quad = np.array([[240.0, 130.0], [1040.0, 150.0], [1030.0, 640.0], [250.0, 620.0]])
    rows.append(
        ModelBenchRow("preprocess+mosaic", "frame", 0, 0.0, median_ms(lambda: build_mosaic(frame, quad), repeats))
    )
    return rows


def write_model_report(rows: list[ModelBenchRow], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"benchmark": "models", "machine": machine_info(), "threads": 1, "rows": [asdict(r) for r in rows]},
            indent=2,
        )
    )
    return out


def format_model_table(rows: list[ModelBenchRow]) -> str:
    head = f"{'model':<20}{'unit':<24}{'params':>9}{'fp32 KB':>9}{'median ms':>11}"
    lines = [head, "-" * len(head)]
    lines += [f"{r.name:<20}{r.unit:<24}{r.parameters:>9}{r.fp32_kb:>9.1f}{r.median_ms:>11.2f}" for r in rows]
    return "\n".join(lines)
