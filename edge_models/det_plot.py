"""DET plots (APCER against BPCER on normal-deviate axes) written as PNG with matplotlib's Agg backend.

Each axis shows ``probit(rate)`` (the standard normal quantile of the rate), as DET curves are drawn, so curves from
normally distributed scores are straight lines. Ticks sit at 0.1, 1, 5, 10, 20 and 40 %; the visible range is
0.05 % to 60 %, and points outside it (e.g. rates of exactly 0 or 1) are drawn off the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.special import ndtri

from cardlive.errors import OutputError, ParameterError
from edge_models.metrics import DetCurve, FloatArray, operating_point

TICKS = (0.001, 0.01, 0.05, 0.10, 0.20, 0.40)
AXIS_RANGE = (0.0005, 0.60)
OPERATING_TARGETS: dict[str, float] = {"BPCER10": 0.10, "BPCER20": 0.05, "BPCER100": 0.01}
_MARKERS = {"BPCER10": "o", "BPCER20": "s", "BPCER100": "^"}
_CLIP = 1e-6  # rates are clipped to [1e-6, 1 - 1e-6] before the probit so 0 and 1 stay finite (off the axes)


def probit(rate: FloatArray | float) -> FloatArray:
    """Standard normal quantile of a rate in [0, 1] (clipped to [1e-6, 1 - 1e-6])."""
    return np.asarray(ndtri(np.clip(rate, _CLIP, 1.0 - _CLIP)), dtype=np.float64)


def _tick_label(rate: float) -> str:
    return f"{rate * 100:g}"


def plot_det(
    curves: Mapping[str, DetCurve],
    path: str | Path,
    title: str = "DET",
    operating_targets: Mapping[str, float] | None = None,
) -> Path:
    """Draw one DET curve per entry of ``curves`` (legend label -> :class:`DetCurve`) into a PNG at ``path``.

    On every curve the operating points BPCER10 / BPCER20 / BPCER100 (lowest BPCER with APCER <= 10 / 5 / 1 %, as
    :func:`edge_models.metrics.bpcer_at_apcer`) are marked, and the APCER targets are drawn as dotted vertical lines.
    ``operating_targets`` replaces the default name -> APCER target mapping. The parent folder is created. Returns
    the path written.
    """
    if not curves:
        raise ParameterError("curves is empty; pass at least one label -> DetCurve")
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ParameterError(f"path={str(out)!r} must end in .png")
    targets = dict(OPERATING_TARGETS if operating_targets is None else operating_targets)

    # Fixed pixel layout (100 dpi): square axes, title above, ticks and label below, then the legend.
    side, left, top, below, legend_h = 540, 80, 40, 55, 30 + 16 * len(curves)
    height = top + side + below + legend_h + 10
    fig = Figure(figsize=(6.4, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((left / 640, (height - top - side) / height, side / 640, side / height))
    lo, hi = probit(AXIS_RANGE[0]), probit(AXIS_RANGE[1])
    for name, target in targets.items():
        x = float(probit(target))
        ax.axvline(x, color="0.7", linestyle=":", linewidth=1.0, zorder=1)
        ax.text(x, float(lo), f"{name} ", rotation=90, va="bottom", ha="right", fontsize=7, color="0.4")
    for label, curve in curves.items():
        (line,) = ax.plot(probit(curve.apcer), probit(curve.bpcer), linewidth=1.5, zorder=2)
        values = []
        for name, target in targets.items():
            a, b, _ = operating_point(curve, target)
            marker = _MARKERS.get(name, "D")
            ax.plot(probit(a), probit(b), marker=marker, color=line.get_color(), markeredgecolor="black", zorder=3)
            values.append(f"{name} {b * 100:.2f}")
        line.set_label(f"{label}: " + ", ".join(values) + " %")
    _format_axes(ax, lo, hi, TICKS)
    ax.set_title(title)
    key = ", ".join(f"{name} {_MARKERS.get(name, 'D')}" for name in targets)
    anchor = (0.5, (height - top - side - below) / height)
    fig.legend(loc="upper center", bbox_to_anchor=anchor, fontsize=7, title=f"markers: {key}", title_fontsize=7)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    except OSError as err:
        raise OutputError(f"cannot write the DET plot to {str(out)!r}: {err}") from None
    return out


def _format_axes(ax: Axes, lo: FloatArray, hi: FloatArray, ticks: Sequence[float]) -> None:
    positions = [float(probit(t)) for t in ticks]
    labels = [_tick_label(t) for t in ticks]
    ax.set_xlim(float(lo), float(hi))
    ax.set_ylim(float(lo), float(hi))
    ax.set_xticks(positions, labels)
    ax.set_yticks(positions, labels)
    ax.set_xlabel("APCER (%)")
    ax.set_ylabel("BPCER (%)")
    ax.grid(True, color="0.9", linewidth=0.8)
