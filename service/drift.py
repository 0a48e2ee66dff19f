"""Drift of edge scores per (app version, device model, runtime), from the stored reports.

Decisions: the reference window is the first `reference_size` reports the service stored (by id, all groups
together: the population the tolerance bands were accepted on); every later report belongs to the current window
of its group. PSI = sum over 10 equal-width bins of [0, 1] of (cur - ref) * ln(cur / ref) on bin proportions,
each floored at 1e-4 so that empty bins stay finite. Bands (the usual credit-scoring convention the issue names):
PSI < 0.1 stable, 0.1 <= PSI < 0.25 moderate, >= 0.25 significant. Per group also: mismatch rate (verdict not
"consistent") and decision-flip rate. Groups with fewer than MIN_GROUP reports get PSI null (too few to say).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from service import db

BINS = np.linspace(0.0, 1.0, 11)
FLOOR = 1e-4
MIN_GROUP = 5


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two score samples in [0, 1]."""
    ref = np.histogram(np.clip(reference, 0, 1), BINS)[0] / max(len(reference), 1)
    cur = np.histogram(np.clip(current, 0, 1), BINS)[0] / max(len(current), 1)
    ref, cur = np.maximum(ref, FLOOR), np.maximum(cur, FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def band(value: float | None) -> str:
    if value is None:
        return "too_few"
    return "stable" if value < 0.1 else "moderate" if value < 0.25 else "significant"


def drift_table(engine: Engine, reference_size: int = 200) -> list[dict[str, Any]]:
    """One row per (app_version, device_model, runtime) of the current window."""
    r = db.reports.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(r.app_version, r.device_model, r.runtime, r.edge_score, r.verdict).order_by(r.id)
        ).all()
    if len(rows) <= reference_size:
        return []
    reference = np.array([row.edge_score for row in rows[:reference_size]])
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for row in rows[reference_size:]:
        groups.setdefault((row.app_version, row.device_model, row.runtime), []).append(row)
    out = []
    for (app_version, device, runtime), members in sorted(groups.items()):
        scores = np.array([m.edge_score for m in members])
        value = psi(reference, scores) if len(members) >= MIN_GROUP else None
        out.append(
            {
                "app_version": app_version,
                "device_model": device,
                "runtime": runtime,
                "n": len(members),
                "psi": value,
                "band": band(value),
                "mismatch_rate": float(np.mean([m.verdict != "consistent" for m in members])),
                "flip_rate": float(np.mean([m.verdict == "decision_flip" for m in members])),
            }
        )
    return out


def plot_drift(rows: list[dict[str, Any]], out: Path) -> Path:
    """Bar chart: PSI per group with the 0.1 / 0.25 bands, and mismatch / flip rates beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['app_version']}\n{r['device_model']}\n{r['runtime']}" for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(rows) + 4), 4.5))
    ax1.bar(
        x,
        [r["psi"] or 0.0 for r in rows],
        color=[
            "#c0392b" if r["band"] == "significant" else "#e67e22" if r["band"] == "moderate" else "#27ae60"
            for r in rows
        ],
    )
    for level in (0.1, 0.25):
        ax1.axhline(level, color="grey", linestyle="--", linewidth=1)
    ax1.set_title("PSI of edge scores vs reference window")
    ax2.bar(x - 0.2, [r["mismatch_rate"] for r in rows], 0.4, label="mismatch rate")
    ax2.bar(x + 0.2, [r["flip_rate"] for r in rows], 0.4, label="decision-flip rate")
    ax2.set_ylim(0, 1)
    ax2.legend()
    ax2.set_title("verdict rates")
    for ax in (ax1, ax2):
        ax.set_xticks(x, names, fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def format_drift(rows: list[dict[str, Any]], reference_size: int) -> str:
    """Plain-text table for the CLI."""
    if not rows:
        return f"no reports after the reference window of {reference_size}; nothing to compare yet"
    head = f"{'app_version':<12} {'device_model':<18} {'runtime':<12} {'n':>5} {'psi':>7} {'band':<12} mismatch  flip"
    lines = [head]
    for r in rows:
        value = "-" if r["psi"] is None else f"{r['psi']:.3f}"
        lines.append(
            f"{r['app_version']:<12} {r['device_model'][:18]:<18} {r['runtime']:<12} {r['n']:>5} {value:>7} "
            f"{r['band']:<12} {r['mismatch_rate']:>8.3f} {r['flip_rate']:>5.3f}"
        )
    return "\n".join(lines)
