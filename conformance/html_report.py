"""The self-contained HTML conformance report: verdict, checks (failures first), parity scatter plots (edge vs
reference attack score, inline base64 PNG, matplotlib Agg) and a per-family breakdown. No external resources, no
scripts: it opens offline in any browser and in CI artifact viewers."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from conformance.parity_metrics import ParityMetrics

if TYPE_CHECKING:
    from conformance.suite import ConformanceResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1b1f24}
h1{margin:0 0 4px 0} .verdict{font-size:20px;font-weight:600;padding:8px 12px;border-radius:6px;display:inline-block}
.PASS{background:#dafbe1;color:#116329}.FAIL{background:#ffebe9;color:#a40e26}
table{border-collapse:collapse;margin:12px 0;font-size:13px}td,th{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}.fail{background:#ffebe9}.not-run{background:#fff8c5}
.skipped{color:#57606a}.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{border:1px solid #d0d7de;padding:6px}
.plot img{width:360px;height:auto;display:block} code{font-size:12px}
"""


def _scatter(m: ParityMetrics) -> str:
    """PNG (base64) of edge vs reference attack scores with the threshold lines."""
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=90)
    ax.plot([0, 1], [0, 1], color="#8c959f", lw=0.8)
    ax.scatter(m.reference_scores, [v if v == v else 1.05 for v in m.edge_scores], s=14, alpha=0.8, color="#0969da")
    for key, t in m.thresholds.items():
        ax.axvline(t["threshold"], color="#cf222e", lw=0.7, ls="--")
        ax.axhline(t["threshold"], color="#cf222e", lw=0.7, ls="--", label=f"threshold {key}")
    ax.set_xlim(-0.02, 1.07)
    ax.set_ylim(-0.02, 1.07)
    ax.set_xlabel("reference attack score (fp32 PyTorch)")
    ax.set_ylabel(f"{m.runtime} {m.precision} attack score")
    ax.set_title(f"{m.model} / {m.runtime} / {m.precision}\nmax |delta| {m.score_max_abs:.2e}", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _checks_table(result: ConformanceResult) -> str:
    from conformance.report import ordered

    rows = []
    for c in ordered(result):
        m = c.metrics
        size = f"{m.score_max_abs:.2e}" if m else ""
        rows.append(
            f'<tr class="{c.status}"><td>{escape(c.status)}</td><td>{escape(c.name)}</td><td>{size}</td>'
            f"<td>{escape(c.message)}</td></tr>"
        )
    return (
        "<table><tr><th>status</th><th>check</th><th>max |&Delta; score|</th><th>details</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _family_table(measured: list[ParityMetrics]) -> str:
    families = sorted({f for m in measured for f in m.by_family})
    head = "".join(f"<th>{escape(f)}</th>" for f in families)
    rows = []
    for m in measured:
        cells = "".join(
            f"<td>{m.by_family[f]['max_abs']:.2e} <small>(n={m.by_family[f]['n']})</small></td>"
            if f in m.by_family
            else "<td></td>"
            for f in families
        )
        rows.append(f"<tr><td>{escape(f'{m.model}/{m.runtime}/{m.precision}')}</td>{cells}</tr>")
    return f"<table><tr><th>variant \\ family (max |&Delta; score|)</th>{head}</tr>{''.join(rows)}</table>"


def _threshold_table(measured: list[ParityMetrics]) -> str:
    rows = []
    for m in measured:
        for key, t in m.thresholds.items():

            def fmt(v: float | None) -> str:
                return "n/a" if v is None else f"{v:+.3f}"

            rows.append(
                f"<tr><td>{escape(f'{m.model}/{m.runtime}/{m.precision}')}</td><td>{escape(key)} = "
                f"{t['threshold']:.4f}</td><td>{t['decision_agreement']:.4f}</td><td>{t['flip_rate']:.4f}</td>"
                f"<td>{len(t['unexplained_flips'])}</td><td>{fmt(t['apcer_change'])}</td>"
                f"<td>{fmt(t['bpcer_change'])}</td></tr>"
            )
    return (
        "<table><tr><th>variant</th><th>threshold</th><th>decision agreement</th><th>flip rate</th>"
        "<th>flips outside band</th><th>&Delta; APCER (worst)</th><th>&Delta; BPCER</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _experiment_table(data: dict[str, Any] | None) -> str:
    if not data or "models" not in data:
        return "<p>not run</p>"
    rows = []
    for model, results in data["models"].items():
        for r in results:
            cls = "" if r["verdict"] == "safe" else "fail"
            rows.append(
                f'<tr class="{cls}"><td>{escape(model)}</td><td>{escape(r["name"])}</td><td>{r["n"]}</td>'
                f"<td>{r['max_abs']:.2e}</td><td>{r['mean_abs']:.2e}</td><td>{r['flips']}</td>"
                f"<td>{r['identical_patches']:.2f}</td><td>{escape(r['verdict'])}</td></tr>"
            )
    return (
        f"<p>Alternative app implementations vs the reference recipe on {data['frames']} stored frames; "
        f"safe = max |&Delta; score| &le; {data['safe_delta']} and no flip.</p><table><tr><th>model</th>"
        "<th>implementation</th><th>n</th><th>max |&Delta;|</th><th>mean |&Delta;|</th><th>flips</th>"
        "<th>identical patches</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
    )


def render_html(result: ConformanceResult, measured: list[ParityMetrics]) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    counts = ", ".join(f"{n} {escape(s)}" for s, n in sorted(result.counts.items()))
    plots = "".join(
        f'<div class="plot"><img alt="parity scatter {escape(m.model)} {escape(m.runtime)} {escape(m.precision)}" '
        f'src="data:image/png;base64,{_scatter(m)}"></div>'
        for m in measured
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cardlive conformance: {verdict}</title>
<style>{CSS}</style></head><body>
<h1>cardlive conformance report</h1>
<p>bundle <code>{escape(str(result.bundle))}</code> version {escape(result.bundle_version)},
{result.seconds:.1f} s</p>
<div class="verdict {verdict}">{verdict}</div> <span>{counts}</span>
<h2>Checks (failures first)</h2>{_checks_table(result)}
<h2>Parity: edge vs reference attack score</h2><div class="plots">{plots or "<p>no runtime produced scores</p>"}</div>
<h2>Decisions at the operating thresholds</h2>{_threshold_table(measured)}
<h2>Per-family breakdown</h2>{_family_table(measured)}
<h2>Preprocessing parity experiment</h2>{_experiment_table(result.experiment)}
</body></html>
"""
