"""Presentation attack detection metrics after ISO/IEC 30107-3, in pure numpy.

Conventions used by every function here:

- A *score* is any finite real number ordered so that higher means more attack-like (normally the model's
  probability that a presentation is an attack, in [0, 1], but only the order matters).
- A presentation is classified as an attack when ``score >= threshold`` and as bona fide when ``score < threshold``.
  Tie rule: a threshold equal to a score counts that score as an attack.
- ``species`` labels each presentation: ``"genuine"`` (:data:`BONA_FIDE`) for bona fide presentations, otherwise the
  attack species (presentation attack instrument species, e.g. ``"laser_am"``).
- Error rates are fractions in [0, 1], not percentages.

Operating points searched by :func:`bpcer_at_apcer`, :func:`eer` and :func:`det_curve` use candidate thresholds that lie
*between distinct score values*, so presentations with tied scores are always classified together: for the sorted
distinct scores ``v_0 < ... < v_{K-1}`` the candidates are ``v_0`` (everything an attack), the midpoint of each pair
``v_{k-1}, v_k`` (or ``v_k`` itself where the two are adjacent floats) and ``nextafter(v_{K-1}, +inf)`` (everything
bona fide).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardlive.errors import ParameterError

BONA_FIDE = "genuine"
Aggregate = Literal["worst", "pooled"]
FloatArray = NDArray[np.float64]
Species = Sequence[str] | NDArray[np.str_]  # one name per presentation: "genuine" or an attack species


def _check_scores(scores: ArrayLike, name: str = "scores") -> FloatArray:
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a 1-D sequence of finite real numbers") from None
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ParameterError(f"{name} contains {bad} NaN or infinite value(s); every score must be finite")
    return arr


def _check_inputs(scores: ArrayLike, species: Species) -> tuple[FloatArray, NDArray[np.str_]]:
    arr = _check_scores(scores)
    if isinstance(species, str):
        raise ParameterError("species must be a sequence of species names, one per score, not a single string")
    if isinstance(species, np.ndarray) and species.dtype.kind == "U":
        labels = species
    else:
        labels_list = list(species)
        if not all(isinstance(s, str) for s in labels_list):
            raise ParameterError("species must contain only strings (e.g. 'genuine', 'laser_am')")
        labels = np.asarray(labels_list, dtype=str)
    if labels.ndim != 1 or labels.shape[0] != arr.shape[0]:
        raise ParameterError(f"scores and species must have the same length; got {arr.shape[0]} and {labels.shape}")
    if arr.shape[0] == 0:
        raise ParameterError("scores is empty; need at least one presentation")
    if np.any(labels == ""):
        raise ParameterError("species contains an empty name; use 'genuine' for bona fide presentations")
    return arr, labels


def _check_threshold(threshold: float) -> float:
    value = float(threshold)
    if np.isnan(value):
        raise ParameterError("threshold is NaN; expected a real number (+-inf allowed)")
    return value


def _check_target(name: str, value: float) -> float:
    target = float(value)
    if not 0.0 <= target <= 1.0:  # also false for NaN
        raise ParameterError(f"{name}={value!r} is outside the allowed range [0, 1] (a fraction, not a percentage)")
    return target


# --------------------------------------------------------------------------------------------- per-threshold rates


def apcer(
    scores: ArrayLike,
    species: Species,
    threshold: float,
    attack_species: Iterable[str] | None = None,
) -> dict[str, float]:
    """APCER of each attack species at ``threshold``: the share of its presentations with ``score < threshold``.

    Reports the species in ``attack_species`` (default: every non-genuine species present), sorted by name. A species
    with no presentations has no defined APCER and is omitted from the result (no error, no NaN); with no attack
    presentations at all the result is empty.
    """
    arr, labels = _check_inputs(scores, species)
    t = _check_threshold(threshold)
    names = sorted(set(labels.tolist()) - {BONA_FIDE}) if attack_species is None else sorted(set(attack_species))
    out: dict[str, float] = {}
    for name in names:
        if name == BONA_FIDE:
            raise ParameterError(f"attack_species must not contain the bona fide label {BONA_FIDE!r}")
        mask = labels == name
        if np.any(mask):
            out[name] = float(np.mean(arr[mask] < t))
    return out


def worst_apcer(scores: ArrayLike, species: Species, threshold: float) -> tuple[str, float]:
    """The attack species with the highest APCER at ``threshold`` and that APCER (ties: first name in sorted order).

    ISO/IEC 30107-3 reports this maximum over species. Raises ParameterError without attack presentations.
    """
    rates = apcer(scores, species, threshold)
    if not rates:
        raise ParameterError("no attack presentations: every species is 'genuine', so APCER is undefined")
    name = max(rates, key=lambda s: rates[s])  # dict is sorted by name, max keeps the first maximum
    return name, rates[name]


def bpcer(scores_bona_fide: ArrayLike, threshold: float) -> float:
    """BPCER at ``threshold``: the share of bona fide scores with ``score >= threshold`` (classified as attacks)."""
    arr = _check_scores(scores_bona_fide, "scores_bona_fide")
    if arr.shape[0] == 0:
        raise ParameterError("scores_bona_fide is empty; BPCER needs at least one bona fide presentation")
    return float(np.mean(arr >= _check_threshold(threshold)))


# ------------------------------------------------------------------------------------------ threshold sweeps


@dataclass(frozen=True)
class _Tally:
    """Counts below each candidate threshold; index k classifies distinct values ``v_0 .. v_{k-1}`` as bona fide."""

    thresholds: FloatArray  # K + 1 candidates, increasing
    bona_fide_below: NDArray[np.int64]  # K + 1
    n_bona_fide: int
    attack_below: dict[str, NDArray[np.int64]]  # per species, K + 1
    attack_counts: dict[str, int]


def _candidate_thresholds(values: FloatArray) -> FloatArray:
    lower, upper = values[:-1], values[1:]
    mid = 0.5 * lower + 0.5 * upper  # no overflow near the float limits
    mid = np.where((mid > lower) & (mid <= upper), mid, upper)  # adjacent floats: the upper one still splits them
    top = np.nextafter(values[-1:], np.inf)
    return np.concatenate([values[:1], mid, top])


def _tally(scores: ArrayLike, species: Species) -> _Tally:
    arr, labels = _check_inputs(scores, species)
    values, index = np.unique(arr, return_inverse=True)
    k = values.shape[0]

    def below(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        hist = np.bincount(index[mask], minlength=k).astype(np.int64)
        return np.concatenate([np.zeros(1, np.int64), np.cumsum(hist)])

    is_bf = labels == BONA_FIDE
    names = sorted(set(labels[~is_bf].tolist()))
    if not names:
        raise ParameterError("no attack presentations: every species is 'genuine'; need at least one attack")
    if not np.any(is_bf):
        raise ParameterError("no bona fide presentations (species 'genuine'); BPCER is undefined")
    attack_below = {name: below(labels == name) for name in names}
    return _Tally(
        thresholds=_candidate_thresholds(values),
        bona_fide_below=below(is_bf),
        n_bona_fide=int(np.count_nonzero(is_bf)),
        attack_below=attack_below,
        attack_counts={name: int(b[-1]) for name, b in attack_below.items()},
    )


def _rates(tally: _Tally, aggregate: Aggregate) -> tuple[FloatArray, FloatArray]:
    """(APCER, BPCER) at every candidate threshold; APCER is the worst species' or the pooled one."""
    if aggregate not in ("worst", "pooled"):
        raise ParameterError(f"aggregate={aggregate!r} is not allowed; expected one of ['worst', 'pooled']")
    bpcer_k = (tally.n_bona_fide - tally.bona_fide_below) / tally.n_bona_fide
    if aggregate == "pooled":
        apcer_k = sum(tally.attack_below.values()) / sum(tally.attack_counts.values())
    else:
        per = [b / tally.attack_counts[name] for name, b in tally.attack_below.items()]
        apcer_k = np.max(np.stack(per), axis=0)
    return np.asarray(apcer_k, np.float64), np.asarray(bpcer_k, np.float64)


class DetCurve(NamedTuple):
    """A DET curve: APCER (non-decreasing) and BPCER (non-increasing) at each candidate threshold (increasing)."""

    apcer: FloatArray
    bpcer: FloatArray
    thresholds: FloatArray


def det_curve(scores: ArrayLike, species: Species, aggregate: Aggregate = "worst") -> DetCurve:
    """APCER, BPCER and threshold at every candidate threshold (see the module docstring for the candidates).

    ``aggregate="worst"`` (default) takes APCER as the maximum over attack species, consistent with
    :func:`bpcer_at_apcer`; ``"pooled"`` treats all attacks as one class. The first point has APCER 0, BPCER 1 and the
    last APCER 1, BPCER 0. Needs at least one bona fide and one attack presentation.
    """
    tally = _tally(scores, species)
    apcer_k, bpcer_k = _rates(tally, aggregate)
    return DetCurve(apcer_k, bpcer_k, tally.thresholds)


def operating_point(curve: DetCurve, apcer_target: float) -> tuple[float, float, float]:
    """(APCER, BPCER, threshold) of the :func:`bpcer_at_apcer` operating point on an existing curve."""
    target = _check_target("apcer_target", apcer_target)
    last_feasible = int(np.searchsorted(curve.apcer, target, side="right")) - 1  # APCER is non-decreasing, [0] = 0
    best = curve.bpcer[last_feasible]
    k = int(np.argmax(curve.bpcer <= best))  # lowest threshold reaching it: lowest APCER at that BPCER
    return float(curve.apcer[k]), float(best), float(curve.thresholds[k])


def bpcer_at_apcer_from_curve(curve: DetCurve, apcer_target: float) -> tuple[float, float]:
    """(BPCER, threshold) on an existing curve; see :func:`bpcer_at_apcer`."""
    _, rate, threshold = operating_point(curve, apcer_target)
    return rate, threshold


def bpcer_at_apcer(scores: ArrayLike, species: Species, apcer_target: float) -> tuple[float, float]:
    """Lowest BPCER over thresholds whose worst-species APCER is <= ``apcer_target``; returns (BPCER, threshold).

    BPCER10 / BPCER20 / BPCER100 use targets 0.10 / 0.05 / 0.01. Of the thresholds reaching that BPCER the lowest one
    (lowest APCER) is returned. Only candidate thresholds between distinct scores are considered, so tied scores are
    never split; the target is always reachable (the lowest candidate has APCER 0).
    """
    return bpcer_at_apcer_from_curve(det_curve(scores, species, "worst"), apcer_target)


def eer_from_curve(curve: DetCurve) -> tuple[float, float]:
    """(EER, threshold) on an existing curve; see :func:`eer`."""
    gap = curve.apcer - curve.bpcer  # non-decreasing from -1 to +1
    k = int(np.argmax(gap >= 0.0))  # >= 1 because gap[0] = -1
    if gap[k] == 0.0:
        return float(curve.apcer[k]), float(curve.thresholds[k])
    alpha = -gap[k - 1] / (gap[k] - gap[k - 1])
    rate = curve.apcer[k - 1] + alpha * (curve.apcer[k] - curve.apcer[k - 1])
    threshold = curve.thresholds[k - 1] + alpha * (curve.thresholds[k] - curve.thresholds[k - 1])
    return float(rate), float(threshold)


def eer(scores: ArrayLike, species: Species) -> tuple[float, float]:
    """Equal error rate with all attack species pooled; returns (EER, threshold).

    Where no candidate threshold has APCER == BPCER, the two operating points either side of the crossing are joined by
    a straight line (in rate and in threshold) and the crossing of that line is returned, so the threshold is an
    interpolated value and EER can fall between achievable rates (e.g. when bona fide and attack scores tie).
    """
    return eer_from_curve(det_curve(scores, species, "pooled"))


def eer_worst_species(scores: ArrayLike, species: Species) -> tuple[float, float]:
    """As :func:`eer` but with APCER taken as the maximum over attack species; returns (EER, threshold)."""
    return eer_from_curve(det_curve(scores, species, "worst"))


def av_rank(bpcer10: float, bpcer20: float, bpcer100: float) -> float:
    """PAD-IDCard ranking AVRank = 0.2 BPCER10 + 0.3 BPCER20 + 0.5 BPCER100 (fractions in [0, 1]; lower is better)."""
    b10 = _check_target("bpcer10", bpcer10)
    b20 = _check_target("bpcer20", bpcer20)
    b100 = _check_target("bpcer100", bpcer100)
    return 0.2 * b10 + 0.3 * b20 + 0.5 * b100


def _threshold_key(target: float) -> str:
    return f"apcer_{target:g}"


def operating_thresholds(
    scores: ArrayLike,
    species: Species,
    apcer_targets: Sequence[float] = (0.01, 0.05),
) -> dict[str, float]:
    """Thresholds of :func:`bpcer_at_apcer` for each target, keyed ``"apcer_<target>"`` (e.g. ``"apcer_0.01"``).

    Meant to be stored with the model weights: a deployment flags an attack when ``score >= threshold``.
    """
    curve = det_curve(scores, species, "worst")
    out: dict[str, float] = {}
    for target in apcer_targets:
        out[_threshold_key(target)] = bpcer_at_apcer_from_curve(curve, target)[1]
    return out


# --------------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class PadReport:
    """Every ISO/IEC 30107-3 number for one score set; rates are fractions in [0, 1].

    ``threshold`` is the operating threshold the per-threshold rates (APCER per species, worst APCER, BPCER) are
    measured at; BPCER10/20/100 and EER are threshold-free. ``counts`` holds the number of presentations per species,
    ``"genuine"`` included. ``operating_thresholds`` maps ``"apcer_0.1"``, ``"apcer_0.05"``, ``"apcer_0.01"`` to the
    thresholds that achieve BPCER10, BPCER20 and BPCER100.
    """

    threshold: float
    apcer_per_species: Mapping[str, float]
    worst_species: str
    worst_apcer: float
    bpcer: float
    bpcer10: float
    bpcer20: float
    bpcer100: float
    operating_thresholds: Mapping[str, float]
    eer: float
    eer_threshold: float
    eer_worst_species: float
    eer_worst_species_threshold: float
    av_rank: float
    counts: Mapping[str, int]

    def __post_init__(self) -> None:
        for name in ("apcer_per_species", "operating_thresholds", "counts"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (mappings become dicts)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, Mapping) else value
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON (no NaN / Infinity), keys in field order."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> PadReport:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise ParameterError(f"PadReport JSON must be an object with exactly the keys {sorted(names)}")
        return cls(**data)


def pad_report(scores: ArrayLike, species: Species, threshold: float) -> PadReport:
    """All metrics for ``scores`` / ``species`` with the per-threshold rates measured at ``threshold``.

    Needs at least one bona fide and one attack presentation.
    """
    arr, labels = _check_inputs(scores, species)
    t = _check_threshold(threshold)
    curve_worst = det_curve(arr, labels, "worst")
    targets = (0.10, 0.05, 0.01)
    b10, b20, b100 = (bpcer_at_apcer_from_curve(curve_worst, x) for x in targets)
    per_species = apcer(arr, labels, t)
    worst_name = max(per_species, key=lambda s: per_species[s])
    eer_pooled = eer_from_curve(det_curve(arr, labels, "pooled"))
    eer_worst = eer_from_curve(curve_worst)
    names, counts = np.unique(labels, return_counts=True)
    return PadReport(
        threshold=t,
        apcer_per_species=per_species,
        worst_species=worst_name,
        worst_apcer=per_species[worst_name],
        bpcer=bpcer(arr[labels == BONA_FIDE], t),
        bpcer10=b10[0],
        bpcer20=b20[0],
        bpcer100=b100[0],
        operating_thresholds={_threshold_key(x): b[1] for x, b in zip(targets, (b10, b20, b100), strict=True)},
        eer=eer_pooled[0],
        eer_threshold=eer_pooled[1],
        eer_worst_species=eer_worst[0],
        eer_worst_species_threshold=eer_worst[1],
        av_rank=av_rank(b10[0], b20[0], b100[0]),
        counts={str(n): int(c) for n, c in zip(names.tolist(), counts.tolist(), strict=True)},
    )


def confusion_matrix(
    labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable], classes: Sequence[Hashable]
) -> NDArray[np.int64]:
    """Counts ``C[i, j]`` of presentations of true class ``classes[i]`` predicted as ``classes[j]`` (int64, CxC).

    Every label must be one of ``classes`` (distinct); rows sum to the number of presentations of each true class.
    """
    class_list = list(classes)
    index = {c: i for i, c in enumerate(class_list)}
    if not class_list or len(index) != len(class_list):
        raise ParameterError(f"classes must be a non-empty list of distinct labels; got {class_list!r}")
    true_list, pred_list = list(labels_true), list(labels_pred)
    if len(true_list) != len(pred_list):
        raise ParameterError(f"labels_true and labels_pred differ in length: {len(true_list)} vs {len(pred_list)}")
    unknown = sorted({repr(x) for x in true_list + pred_list if x not in index})
    if unknown:
        raise ParameterError(f"labels {', '.join(unknown[:5])} are not in classes {class_list!r}")
    n = len(class_list)
    t_idx = np.fromiter((index[x] for x in true_list), np.int64, len(true_list))
    p_idx = np.fromiter((index[x] for x in pred_list), np.int64, len(pred_list))
    return np.bincount(t_idx * n + p_idx, minlength=n * n).astype(np.int64).reshape(n, n)
