"""Parity metrics of one (model, runtime, precision) against the fp32 reference on the golden vectors.

- per output: the comparator's max / mean / p99 |delta| and SNR dB;
- attack score (1 - P(genuine) or 1 - P(real OVD)): max / p99 / mean |delta|;
- top-1 agreement: argmax class (recapture) or P(real OVD) >= 0.5 (ovd) equal to the reference's;
- per operating threshold (apcer_0.01, apcer_0.05): decision agreement, flip rate (= 1 - agreement), the flipped
  vector ids, flips of vectors whose reference score lies farther from the threshold than the tolerance band
  ("unexplained" flips), and on labelled vectors (blends have no label) the worst-species APCER and the BPCER of the
  reference and of the variant and their change;
- per family (the attack family of the pair a vector came from) and per hard-case variant: n, max and mean |delta|.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from conformance.compare import Comparison, compare_arrays
from conformance.golden import OUTPUT_NAMES, attack_scores
from edge_models.metrics import apcer, bpcer


@dataclass
class ParityMetrics:
    model: str
    runtime: str
    precision: str
    n: int
    outputs: list[Comparison]
    score_max_abs: float
    score_p99_abs: float
    score_mean_abs: float
    top1_agreement: float
    thresholds: dict[str, dict[str, Any]]
    by_family: dict[str, dict[str, float]]
    by_variant: dict[str, dict[str, float]]
    worst: list[dict[str, Any]]
    edge_scores: list[float] = field(repr=False)
    reference_scores: list[float] = field(repr=False)

    def to_dict(self, with_scores: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("outputs", "edge_scores", "reference_scores")}
        out["outputs"] = [c.to_dict() for c in self.outputs]
        if with_scores:
            out["edge_scores"], out["reference_scores"] = self.edge_scores, self.reference_scores
        return out


def _top1(model: str, first: NDArray[np.float64]) -> NDArray[np.int64]:
    if model == "recapture":
        return np.argmax(first, axis=1)
    return (first[:, 0] >= 0.5).astype(np.int64)


def _error_rates(scores: NDArray[np.float64], rows: list[dict[str, Any]], threshold: float) -> dict[str, float | None]:
    labelled = [i for i, r in enumerate(rows) if r["label"] is not None]
    species = [rows[i]["species"] for i in labelled]
    s = scores[labelled]
    attack = apcer(s, species, threshold) if labelled else {}
    genuine = [j for j, sp in enumerate(species) if sp == "genuine"]
    return {
        "apcer_worst": max(attack.values()) if attack else None,
        "bpcer": bpcer(s[genuine], threshold) if genuine else None,
    }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _groups(key: str, rows: list[dict[str, Any]], delta: NDArray[np.float64]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in sorted({r[key] for r in rows}):
        d = delta[[i for i, r in enumerate(rows) if r[key] == name]]
        out[name] = {"n": int(d.size), "max_abs": float(d.max()), "mean_abs": float(d.mean())}
    return out


def parity_metrics(
    model: str,
    runtime: str,
    precision: str,
    rows: list[dict[str, Any]],
    reference: list[NDArray[np.float32]],
    edge: list[NDArray[Any]],
    thresholds: dict[str, float],
    band: float,
) -> ParityMetrics:
    """All metrics for one variant; `band` is the attack-score tolerance used to tell explained flips apart."""
    names = OUTPUT_NAMES[model]
    comps = [compare_arrays(r, e, n) for r, e, n in zip(reference, edge, names, strict=False)]
    comps += [
        compare_arrays(r, np.zeros((0,)), n) for r, n in zip(reference[len(edge) :], names[len(edge) :], strict=True)
    ]
    ref_s = attack_scores(model, reference)
    ok_shape = len(edge) >= 1 and np.asarray(edge[0]).shape == reference[0].shape
    edge_first = np.asarray(edge[0], dtype=np.float64) if ok_shape else np.full(reference[0].shape, np.nan)
    edge_s = attack_scores(model, [edge_first.astype(np.float32)])
    delta = np.abs(edge_s - ref_s)
    delta = np.where(np.isfinite(delta), delta, 1.0)
    top1 = float(np.mean(_top1(model, reference[0].astype(np.float64)) == _top1(model, edge_first)))
    per_thr: dict[str, dict[str, Any]] = {}
    for key, thr in thresholds.items():
        ref_d, edge_d = ref_s >= thr, edge_s >= thr
        flips = np.flatnonzero(ref_d != edge_d)
        unexplained = [int(i) for i in flips if abs(ref_s[i] - thr) > band]
        ref_rates, edge_rates = _error_rates(ref_s, rows, thr), _error_rates(edge_s, rows, thr)
        per_thr[key] = {
            "threshold": thr,
            "decision_agreement": float(1.0 - flips.size / max(len(rows), 1)),
            "flip_rate": float(flips.size / max(len(rows), 1)),
            "flip_rate_labelled": float(
                np.mean([ref_d[i] != edge_d[i] for i, r in enumerate(rows) if r["label"] is not None] or [0.0])
            ),
            "flips": [rows[i]["id"] for i in flips],
            "unexplained_flips": [rows[i]["id"] for i in unexplained],
            "apcer_reference": ref_rates["apcer_worst"],
            "apcer_edge": edge_rates["apcer_worst"],
            "apcer_change": _delta(ref_rates["apcer_worst"], edge_rates["apcer_worst"]),
            "bpcer_reference": ref_rates["bpcer"],
            "bpcer_edge": edge_rates["bpcer"],
            "bpcer_change": _delta(ref_rates["bpcer"], edge_rates["bpcer"]),
        }
    order = np.argsort(-delta)[:5]
    worst = [
        {"id": rows[i]["id"], "reference": float(ref_s[i]), "edge": float(edge_s[i]), "abs_delta": float(delta[i])}
        for i in order
    ]
    return ParityMetrics(
        model,
        runtime,
        precision,
        len(rows),
        comps,
        float(delta.max(initial=0.0)),
        float(np.percentile(delta, 99)) if delta.size else 0.0,
        float(delta.mean()) if delta.size else 0.0,
        top1,
        per_thr,
        _groups("family", rows, delta),
        _groups("variant", rows, delta),
        worst,
        [float(v) for v in np.where(np.isfinite(edge_s), edge_s, np.nan)],
        [float(v) for v in ref_s],
    )
