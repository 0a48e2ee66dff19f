"""Does laminate glare cost genuine acceptances? A paired answer (`cardlive glare-pairs`).

`evaluate-pipeline`'s glare groups compare different sequences: the ones whose highlight fell away from the fields
are also, by chance of pose and light, blurrier or nearer the frame edge, so a gap between the groups mixes glare
with everything else. Here the same genuine sequences are rendered twice (`cardlive simulate` with and without
`--no-laminate-glare`, same seed: identical pose, light, camera and noise, only the laminate's highlight removed),
both folders run through `evaluate-pipeline`, and the two reports are compared sequence by sequence. Per glare group
of the glare rendering: acceptance with and without the highlight, the discordant pairs (accepted only without
glare = lost to glare; accepted only with it = gained) and an exact two-sided McNemar test on them.
"""

from __future__ import annotations

import json
from collections import Counter
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from cardlive.errors import InputError

SOURCES = ("finder", "true_quads")
GROUPS = ("free", "away", "fields")


def mcnemar_exact(lost: int, gained: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs against Binomial(lost + gained, 1/2)."""
    n, k = lost + gained, min(lost, gained)
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def _genuine_rows(report: Path) -> dict[str, dict[str, Any]]:
    path = report / "report.json" if report.is_dir() else report
    try:
        doc = json.loads(path.read_text())
        return {r["id"]: r for r in doc["rows"] if r["label"] == "genuine"}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read an evaluate-pipeline report from {path}: {exc}") from None


def compare_glare_pairs(with_glare: Path, without_glare: Path) -> dict[str, Any]:
    """Paired acceptance of the genuine sequences of two evaluate-pipeline reports (see the module docstring)."""
    shiny, matte = _genuine_rows(with_glare), _genuine_rows(without_glare)
    if not shiny:
        raise InputError(f"{with_glare} holds no genuine sequences")
    if set(shiny) != set(matte):
        raise InputError(
            f"the reports hold different sequences ({len(set(shiny) ^ set(matte))} ids differ): render both folders "
            "from the same seed, species and count, one with --no-laminate-glare"
        )
    leaked = sum(r["glare"] != "free" for r in matte.values())
    if leaked:
        raise InputError(f"{without_glare}: {leaked} sequences still have laminate glare; was it rendered without it?")
    out: dict[str, Any] = {"n": len(shiny)}
    for source in SOURCES:
        groups: dict[str, Any] = {}
        for group in (*GROUPS, "all"):
            ids = [i for i, r in shiny.items() if group in ("all", r["glare"])]
            with_ok = [shiny[i][source]["outcome"] == "accept" for i in ids]
            without_ok = [matte[i][source]["outcome"] == "accept" for i in ids]
            lost = [i for i, a, b in zip(ids, with_ok, without_ok, strict=True) if b and not a]
            gained = sum(a and not b for a, b in zip(with_ok, without_ok, strict=True))
            lost_to = Counter(f"{shiny[i][source]['outcome']}:{shiny[i][source]['reason']}" for i in lost)
            groups[group] = {
                "n": len(ids),
                "accepted_with_glare": round(sum(with_ok) / len(ids), 4) if ids else None,
                "accepted_without_glare": round(sum(without_ok) / len(ids), 4) if ids else None,
                "lost_to_glare": len(lost),
                "gained_with_glare": gained,
                "mcnemar_p": round(mcnemar_exact(len(lost), gained), 4),
                "lost_as": dict(lost_to),
            }
        out[source] = groups
    return out


def format_glare_pairs(result: dict[str, Any]) -> str:
    lines = [f"{result['n']} genuine sequences, each rendered with and without laminate glare"]
    header = f"{'quads':<11}{'glare group':<13}{'n':>5}{'with':>8}{'without':>9}{'lost':>6}{'gained':>8}{'p':>8}"
    lines.append(header)
    for source in SOURCES:
        for group, g in result[source].items():
            if not g["n"]:
                continue
            lines.append(
                f"{source:<11}{group:<13}{g['n']:>5}{g['accepted_with_glare']:>8.1%}"
                f"{g['accepted_without_glare']:>9.1%}{g['lost_to_glare']:>6}{g['gained_with_glare']:>8}"
                f"{g['mcnemar_p']:>8.3f}"
            )
    return "\n".join(lines)


def plot_glare_pairs(result: dict[str, Any], out: Path) -> Path:
    """Bars of genuine acceptance with and without the highlight, per glare group, for both quad sources."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, source in zip(axes, SOURCES, strict=True):
        groups = [g for g in (*GROUPS, "all") if result[source][g]["n"]]
        x = np.arange(len(groups))
        for offset, key, label in (
            (-0.2, "accepted_with_glare", "with glare"),
            (0.2, "accepted_without_glare", "without"),
        ):
            ax.bar(x + offset, [100 * result[source][g][key] for g in groups], 0.4, label=label)
        for i, g in enumerate(groups):
            d = result[source][g]
            ax.annotate(
                f"n={d['n']}\n-{d['lost_to_glare']} / +{d['gained_with_glare']}",
                (i, 2),
                ha="center",
                fontsize=7,
                color="white",
            )
        ax.set_xticks(x, groups)
        ax.set_title(f"{source.replace('_', ' ')}")
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("genuine sequences accepted, %")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("The same sequences with and without laminate glare (lost / gained to glare)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
