"""`cardlive bench simulate`: captures per second per core, per class and frame size, against a baseline.

The baseline, measured in the same run on the same scenes, is what a simulator without physics does: one OpenCV
perspective warp of the card artwork onto the background and a JPEG encode. Augraphy's published Moire transform
(~1 image/s on a 2-core machine) is quoted as an external anchor; it is not measured here.
The per-pair artwork time is a holder's card (artwork, albedo, scan) with each template's holder-independent
layers already built: a process builds those once per template, and timing them in the first frame size's pairs
made its artwork time look twice the other's.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from capture_sim import appearance
from capture_sim.capture import SimConfig, plan, render_capture
from capture_sim.cards.background import static_layers
from capture_sim.cards.templates import TEMPLATES
from capture_sim.geometry import CARD_HEIGHT_MM, CARD_WIDTH_MM, plane_homography
from capture_sim.sampler import sample_scene
from capture_sim.scene.background import render_background

AUGRAPHY_MOIRE_IMAGES_PER_S_2CORES = 1.0  # published anchor (Augraphy benchmark table), not measured here


@dataclass(frozen=True)
class BenchRow:
    size: str
    supersample: int
    label: str
    captures: int
    render_s_per_capture: float
    card_artwork_s_per_pair: float
    captures_per_s_per_core: float
    baseline_per_s_per_core: float
    slowdown_vs_baseline: float
    ratio_vs_augraphy_anchor: float


def _baseline_seconds(config: SimConfig, pair_id: int) -> float:
    scene = sample_scene(config.seed, pair_id, config.size)
    art = appearance.card_artwork(scene.template_id, scene.identity_seed)
    start = time.perf_counter()
    bg = render_background(scene.background, scene.width, scene.height)
    frame = np.round(np.clip(bg, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    h = plane_homography(scene.pose, scene.camera_model, CARD_WIDTH_MM, CARD_HEIGHT_MM)
    texel = np.diag([CARD_WIDTH_MM / art.rgb.shape[1], CARD_HEIGHT_MM / art.rgb.shape[0], 1.0])
    cv2.warpPerspective(art.rgb, h @ texel, (scene.width, scene.height), dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
    cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, scene.camera.jpeg_quality])
    return time.perf_counter() - start


def run_bench(
    pairs: int = 4,
    seed: int = 1234,
    sizes: tuple[tuple[int, int], ...] = ((1280, 720), (1920, 1080)),
    progress: bool = True,
    supersample: int = 2,
) -> list[BenchRow]:
    """Render `pairs` pairs per frame size on one core; time each class and the baseline on the same scenes."""
    cv2.setNumThreads(1)
    for template_id in TEMPLATES:  # a template's holder-independent layers are built once per process, not per pair
        static_layers(template_id, appearance.CARD_TEXTURE_WIDTH)
    rows = []
    for size in sizes:
        config = SimConfig(seed=seed, size=size, supersample=supersample)
        per_label: dict[str, list[float]] = {label: [] for label in config.variants}
        artwork_s: list[float] = []
        baseline_s: list[float] = []
        for pair in range(pairs):
            scene = sample_scene(seed, pair, size)
            appearance.clear_caches()
            t0 = time.perf_counter()
            appearance.card_artwork(scene.template_id, scene.identity_seed)
            appearance.albedo_linear(scene.template_id, scene.identity_seed)
            appearance.scan_content(scene.template_id, scene.identity_seed)
            artwork_s.append(time.perf_counter() - t0)
            for v in range(len(config.variants)):
                index = pair * len(config.variants) + v
                _, label = plan(config, index)
                t0 = time.perf_counter()
                render_capture(config, index)
                per_label[label].append(time.perf_counter() - t0)
            baseline_s.append(_baseline_seconds(config, pair))
            if progress:
                print(f"  bench {size[0]}x{size[1]}: pair {pair + 1}/{pairs}", flush=True)
        base_rate = 1.0 / float(np.median(baseline_s))
        art = float(np.median(artwork_s))
        for label, times in per_label.items():
            render = float(np.median(times))
            per_capture = render + art / len(config.variants)
            rate = 1.0 / per_capture
            rows.append(
                BenchRow(
                    size=f"{size[0]}x{size[1]}",
                    supersample=supersample,
                    label=label,
                    captures=len(times),
                    render_s_per_capture=render,
                    card_artwork_s_per_pair=art,
                    captures_per_s_per_core=rate,
                    baseline_per_s_per_core=base_rate,
                    slowdown_vs_baseline=base_rate / rate,
                    ratio_vs_augraphy_anchor=rate * 2.0 / AUGRAPHY_MOIRE_IMAGES_PER_S_2CORES,
                )
            )
    return rows


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }


def write_report(rows: list[BenchRow], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "simulate",
        "machine": machine_info(),
        "anchor": {
            "augraphy_moire_images_per_s_2cores": AUGRAPHY_MOIRE_IMAGES_PER_S_2CORES,
            "measured_here": False,
        },
        "rows": [row.__dict__ for row in rows],
    }
    out.write_text(json.dumps(report, indent=2))
    return out


def format_table(rows: list[BenchRow]) -> str:
    head = (
        f"{'size':<10}{'ss':>3} {'class':<9}{'n':>3}{'render s':>10}{'art s/pair':>11}{'cap/s/core':>11}"
        f"{'baseline/s':>11}{'x slower':>9}{'x Augraphy':>11}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.size:<10}{r.supersample:>3} {r.label:<9}{r.captures:>3}{r.render_s_per_capture:>10.3f}"
            f"{r.card_artwork_s_per_pair:>11.3f}{r.captures_per_s_per_core:>11.2f}"
            f"{r.baseline_per_s_per_core:>11.1f}{r.slowdown_vs_baseline:>9.1f}"
            f"{r.ratio_vs_augraphy_anchor:>11.1f}"
        )
    return "\n".join(lines)
