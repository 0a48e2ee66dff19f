"""ISO/IEC 30107-3 metrics on hand-computed cases, ties, extremes, validation, DET plot and statistical controls.

Convention under test: score = attack probability; attack when score >= threshold; species "genuine" is bona fide.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardlive.errors import ParameterError
from edge_models.det_plot import plot_det, probit
from edge_models.metrics import (
    PadReport,
    apcer,
    av_rank,
    bpcer,
    bpcer_at_apcer,
    confusion_matrix,
    det_curve,
    eer,
    eer_worst_species,
    operating_thresholds,
    pad_report,
    worst_apcer,
)

G = "genuine"

# The 6-sample toy. Sorted: 0.1 G, 0.3 G, 0.5 L, 0.6 G, 0.7 S, 0.8 L (G genuine, L laser_am, S screen_oled).
# Candidate thresholds: 0.1, 0.2, 0.4, 0.55, 0.65, 0.75, nextafter(0.8). Index k puts the k lowest scores on the
# bona fide side:
#   k  threshold  APCER_L  APCER_S  worst  pooled  BPCER
#   0  0.10       0        0        0      0       1
#   1  0.20       0        0        0      0       2/3
#   2  0.40       0        0        0      0       1/3
#   3  0.55       1/2      0        1/2    1/3     1/3
#   4  0.65       1/2      0        1/2    1/3     0
#   5  0.75       1/2      1        1      2/3     0
#   6  >0.80      1        1        1      1       0
TOY_SCORES = [0.1, 0.3, 0.6, 0.5, 0.8, 0.7]
TOY_SPECIES = [G, G, G, "laser_am", "laser_am", "screen_oled"]


def test_toy_apcer_per_species_and_worst() -> None:
    # At 0.55: laser 0.5 < 0.55 is missed (1 of 2), screen 0.7 is caught.
    assert apcer(TOY_SCORES, TOY_SPECIES, 0.55) == {"laser_am": 0.5, "screen_oled": 0.0}
    assert worst_apcer(TOY_SCORES, TOY_SPECIES, 0.55) == ("laser_am", 0.5)
    # At 0.75: screen 0.7 missed (1/1) is worse than laser (1/2).
    assert worst_apcer(TOY_SCORES, TOY_SPECIES, 0.75) == ("screen_oled", 1.0)


def test_toy_bpcer() -> None:
    # Bona fide 0.1, 0.3, 0.6: at 0.55 only 0.6 >= 0.55 -> 1/3; at 0.25 two of three -> 2/3.
    assert bpcer([0.1, 0.3, 0.6], 0.55) == pytest.approx(1 / 3)
    assert bpcer([0.1, 0.3, 0.6], 0.25) == pytest.approx(2 / 3)


def test_toy_bpcer_at_apcer() -> None:
    # Target 0.10: worst APCER <= 0.1 only for k <= 2 -> BPCER 1/3 at threshold 0.4.
    assert bpcer_at_apcer(TOY_SCORES, TOY_SPECIES, 0.10) == pytest.approx((1 / 3, 0.4))
    # Target 0.5: k <= 4 feasible; BPCER 0 first reached at k = 4 -> threshold 0.65.
    assert bpcer_at_apcer(TOY_SCORES, TOY_SPECIES, 0.5) == pytest.approx((0.0, 0.65))


def test_toy_eer_pooled_and_worst_species() -> None:
    # Pooled: k = 3 has APCER 1/3 == BPCER 1/3 exactly -> EER 1/3 at 0.55.
    assert eer(TOY_SCORES, TOY_SPECIES) == pytest.approx((1 / 3, 0.55))
    # Worst: gap (worst - BPCER) is -1/3 at k = 2 and +1/6 at k = 3 -> alpha = (1/3) / (1/2) = 2/3;
    # EER = 0 + 2/3 * 1/2 = 1/3, threshold = 0.4 + 2/3 * (0.55 - 0.4) = 0.5.
    assert eer_worst_species(TOY_SCORES, TOY_SPECIES) == pytest.approx((1 / 3, 0.5))


def test_det_curve_matches_hand_table() -> None:
    curve = det_curve(TOY_SCORES, TOY_SPECIES)
    np.testing.assert_allclose(curve.apcer, [0, 0, 0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(curve.bpcer, [1, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    np.testing.assert_allclose(curve.thresholds[:-1], [0.1, 0.2, 0.4, 0.55, 0.65, 0.75])
    assert curve.thresholds[-1] > 0.8
    pooled = det_curve(TOY_SCORES, TOY_SPECIES, aggregate="pooled")
    np.testing.assert_allclose(pooled.apcer, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])


def test_ties_are_never_split() -> None:
    # Bona fide 0.2, 0.5; attacks 0.5, 0.5, 0.8. Distinct values 0.2 | 0.5 (1 G + 2 A) | 0.8.
    scores, species = [0.2, 0.5, 0.5, 0.5, 0.8], [G, G, "a", "a", "a"]
    # Tie rule: threshold 0.5 counts every 0.5 as an attack: APCER 0, BPCER 1/2 (the genuine 0.5).
    assert apcer(scores, species, 0.5) == {"a": 0.0}
    assert bpcer([0.2, 0.5], 0.5) == 0.5
    assert apcer(scores, species, float(np.nextafter(0.5, 1.0))) == {"a": pytest.approx(2 / 3)}
    # Curve: k0 (A 0, B 1), k1 @0.35 (A 0, B 1/2), k2 @0.65 (A 2/3, B 0). No threshold separates the tied genuine
    # 0.5 from the tied attacks, so BPCER at APCER <= 10 % is 1/2 (a per-sample sort would wrongly give 0).
    assert bpcer_at_apcer(scores, species, 0.10) == pytest.approx((0.5, 0.35))
    # EER: gap -1/2 at k1, +2/3 at k2 -> alpha = (1/2) / (7/6) = 3/7; EER = 3/7 * 2/3 = 2/7 (= 1/2 - 3/7 * 1/2);
    # threshold = 0.35 + 3/7 * 0.3 = 0.35 + 9/70.
    assert eer(scores, species) == pytest.approx((2 / 7, 0.35 + 9 / 70))


def test_adjacent_float_scores_still_split() -> None:
    low = 0.5
    high = float(np.nextafter(low, 1.0))  # no float lies strictly between: the candidate must be `high` itself
    scores, species = [low, high], [G, "a"]
    assert eer(scores, species) == (0.0, high)
    assert apcer(scores, species, high) == {"a": 0.0}
    assert bpcer([low], high) == 0.0


def test_empty_attack_species_is_omitted() -> None:
    # "print_inkjet" is asked for but has no presentations: no entry, no NaN, no error.
    rates = apcer(TOY_SCORES, TOY_SPECIES, 0.55, attack_species=["laser_am", "print_inkjet"])
    assert rates == {"laser_am": 0.5}
    assert apcer([0.1, 0.2], [G, G], 0.5) == {}
    with pytest.raises(ParameterError, match="no attack presentations"):
        worst_apcer([0.1, 0.2], [G, G], 0.5)
    with pytest.raises(ParameterError, match="no attack presentations"):
        eer([0.1, 0.2], [G, G])
    with pytest.raises(ParameterError, match="no bona fide"):
        bpcer_at_apcer([0.1, 0.2], ["a", "a"], 0.1)


def test_perfect_separation() -> None:
    # Bona fide 0.1, 0.2, 0.3 all below attacks 0.7, 0.8, 0.9: at k = 3 (threshold 0.5) both rates are 0.
    scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]
    species = [G, G, G, "laser_am", "screen_oled", "laser_am"]
    assert eer(scores, species) == pytest.approx((0.0, 0.5))
    assert eer_worst_species(scores, species) == pytest.approx((0.0, 0.5))
    assert bpcer_at_apcer(scores, species, 0.01) == pytest.approx((0.0, 0.5))
    assert bpcer_at_apcer(scores, species, 0.0) == pytest.approx((0.0, 0.5))
    # Target 0.5 also allows threshold 0.75 (laser 0.7 missed, worst APCER 1/2) at the same BPCER 0; of thresholds
    # reaching the lowest BPCER the lowest one (lowest APCER) is returned: 0.5, not 0.75.
    assert bpcer_at_apcer(scores, species, 0.5) == pytest.approx((0.0, 0.5))
    report = pad_report(scores, species, 0.5)
    assert (report.bpcer10, report.bpcer20, report.bpcer100, report.av_rank) == (0.0, 0.0, 0.0, 0.0)


def test_fully_inverted_scores() -> None:
    # Attacks 0.1 L, 0.2 S, 0.3 L below bona fide 0.7, 0.8, 0.9. Pooled APCER climbs 0, 1/3, 2/3, 1 while BPCER
    # stays 1; they meet at k = 3 (threshold 0.5) with APCER = BPCER = 1 -> EER 1.
    scores = [0.7, 0.8, 0.9, 0.1, 0.2, 0.3]
    species = [G, G, G, "laser_am", "screen_oled", "laser_am"]
    assert eer(scores, species) == pytest.approx((1.0, 0.5))
    # Only k = 0 (threshold 0.1, everything an attack) has APCER <= 10 %: BPCER 1.
    assert bpcer_at_apcer(scores, species, 0.10) == pytest.approx((1.0, 0.1))
    assert pad_report(scores, species, 0.5).av_rank == pytest.approx(1.0)


# Worst species vs pooled. 10 bona fide: 0.01 .. 0.08, 0.35, 0.45. laser_am: 0.30, 0.40, 0.91 .. 0.98.
# screen_oled: 0.81 .. 0.90. Sorted low end: 8 G | 0.30 L | 0.35 G | 0.40 L | 0.45 G | 0.81.. S | 0.91.. L.
WORST_SCORES = (
    [0.01 * i for i in range(1, 9)]
    + [0.35, 0.45]
    + [0.30, 0.40]
    + [0.90 + 0.01 * i for i in range(1, 9)]
    + [0.80 + 0.01 * i for i in range(1, 11)]
)
WORST_SPECIES = [G] * 10 + ["laser_am"] * 10 + ["screen_oled"] * 10


def test_worst_species_decides_bpcer10() -> None:
    # Per species, laser_am may lose 1 of 10: the threshold must stay <= 0.40, so the best is between 0.35 and 0.40
    # (0.375) with the genuine 0.45 still an error: BPCER10 = 1/10.
    assert bpcer_at_apcer(WORST_SCORES, WORST_SPECIES, 0.10) == pytest.approx((0.1, 0.375))
    # Negative control: pooling all 20 attacks allows 2 misses (0.30 and 0.40), so the threshold can pass the genuine
    # 0.45 and BPCER drops to 0 at (0.45 + 0.81) / 2 = 0.63. The worst-species rule is what makes the answer 0.1.
    pooled = ["attack" if s != G else G for s in WORST_SPECIES]
    assert bpcer_at_apcer(WORST_SCORES, pooled, 0.10) == pytest.approx((0.0, 0.63))


def test_operating_thresholds_keys_and_values() -> None:
    thresholds = operating_thresholds(WORST_SCORES, WORST_SPECIES, apcer_targets=(0.01, 0.10))
    # APCER 1 %: no laser_am may be missed -> threshold between the genuine 0.08 and laser 0.30 -> 0.19.
    assert thresholds == pytest.approx({"apcer_0.01": 0.19, "apcer_0.1": 0.375})


def test_av_rank_weights() -> None:
    # 0.2 * 0.10 + 0.3 * 0.20 + 0.5 * 0.40 = 0.02 + 0.06 + 0.20 = 0.28
    assert av_rank(0.10, 0.20, 0.40) == pytest.approx(0.28)
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        av_rank(10.0, 20.0, 40.0)  # percentages instead of fractions


def test_pad_report_numbers_and_json_round_trip() -> None:
    report = pad_report(WORST_SCORES, WORST_SPECIES, 0.375)
    assert report.apcer_per_species == {"laser_am": 0.1, "screen_oled": 0.0}
    assert (report.worst_species, report.worst_apcer, report.bpcer) == ("laser_am", 0.1, pytest.approx(0.1))
    # BPCER20 and BPCER100 both need laser 0.30 caught: threshold 0.19, genuine 0.35 and 0.45 are errors -> 2/10.
    assert (report.bpcer10, report.bpcer20, report.bpcer100) == pytest.approx((0.1, 0.2, 0.2))
    assert report.av_rank == pytest.approx(0.2 * 0.1 + 0.3 * 0.2 + 0.5 * 0.2)
    assert report.counts == {G: 10, "laser_am": 10, "screen_oled": 10}
    # Pooled EER: at k = 10 (threshold 0.375; 8 G, L 0.30, G 0.35 below) APCER 1/20, BPCER 1/10 (gap -1/20); at
    # k = 11 (0.425; L 0.40 too) APCER 2/20, BPCER 1/10 (gap 0) -> EER 0.1 exactly, threshold 0.425.
    assert (report.eer, report.eer_threshold) == pytest.approx((0.1, 0.425))
    data = json.loads(report.to_json())
    assert data["bpcer10"] == pytest.approx(0.1)
    assert PadReport.from_json(report.to_json()) == report
    with pytest.raises(TypeError):
        report.apcer_per_species["laser_am"] = 0.0  # type: ignore[index]


def test_confusion_matrix() -> None:
    classes = ["genuine", "screen", "print"]
    true = ["genuine", "genuine", "screen", "print", "print", "print"]
    pred = ["genuine", "screen", "screen", "print", "genuine", "print"]
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_matrix(true, pred, classes), expected)
    with pytest.raises(ParameterError, match="not in classes"):
        confusion_matrix(["genuine"], ["oled"], classes)
    with pytest.raises(ParameterError, match="length"):
        confusion_matrix(["genuine"], [], classes)


@pytest.mark.parametrize(
    ("scores", "species", "message"),
    [
        ([0.1, 0.2, 0.3], [G, "a"], "same length"),
        ([0.1, float("nan"), 0.3], [G, "a", "a"], "NaN"),
        ([0.1, float("inf"), 0.3], [G, "a", "a"], "NaN or infinite"),
        ([], [], "empty"),
        ([[0.1, 0.2]], [G, "a"], "1-D"),
        (["x", "y"], [G, "a"], "finite real"),
        ([0.1, 0.2], [G, 3], "only strings"),
        ([0.1, 0.2], "ga", "single string"),
    ],
)
def test_input_validation(scores: list[object], species: list[object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        eer(scores, species)  # type: ignore[arg-type]


def test_parameter_validation() -> None:
    with pytest.raises(ParameterError, match="empty"):
        bpcer([], 0.5)
    with pytest.raises(ParameterError, match="NaN"):
        bpcer([0.1], float("nan"))
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        bpcer_at_apcer(TOY_SCORES, TOY_SPECIES, 10.0)
    with pytest.raises(ParameterError, match="aggregate"):
        det_curve(TOY_SCORES, TOY_SPECIES, aggregate="mean")  # type: ignore[arg-type]


def _gaussian_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(2.0, 1.0, n)])
    species = np.array([G] * n + ["a"] * n)
    return scores, species


def test_gaussian_scores_match_theory_and_shuffled_labels_do_not() -> None:
    scores, species = _gaussian_set(20_000, seed=7)
    # Unit-variance normals 2 apart: EER = Phi(-1) = 0.158655 at the midpoint 1.0.
    rate, threshold = eer(scores, species)
    assert rate == pytest.approx(0.158655, abs=0.006)
    assert threshold == pytest.approx(1.0, abs=0.03)
    # APCER 10 %: t = 2 + Phi^-1(0.1) = 0.718448; BPCER = 1 - Phi(0.718448) = 0.236245.
    assert bpcer_at_apcer(scores, species, 0.10)[0] == pytest.approx(0.236245, abs=0.01)
    # Negative control: the same scores with shuffled labels carry no information -> EER about 0.5.
    shuffled = np.random.default_rng(8).permutation(species)
    assert eer(scores, shuffled)[0] == pytest.approx(0.5, abs=0.01)
    assert bpcer_at_apcer(scores, shuffled, 0.10)[0] == pytest.approx(0.9, abs=0.015)


def test_det_plot_writes_png_on_probit_axes(tmp_path: Path) -> None:
    scores, species = _gaussian_set(2_000, seed=3)
    curves = {"d'=2": det_curve(scores, species), "toy": det_curve(WORST_SCORES, WORST_SPECIES)}
    out = plot_det(curves, tmp_path / "sub" / "det.png", title="test")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    # Fixed pixel layout: 640 wide; 40 title + 540 axes + 55 ticks + (30 + 16 per curve) legend + 10 pad = 707.
    assert (width, height) == (640, 707)
    # Probit axis: 50 % at 0, symmetric, 0 and 1 clipped to finite values.
    assert probit(0.5) == 0.0
    assert probit(0.1) == pytest.approx(-probit(0.9))
    assert np.all(np.isfinite(probit(np.array([0.0, 1.0]))))
    with pytest.raises(ParameterError, match="png"):
        plot_det(curves, tmp_path / "det.jpg")
    with pytest.raises(ParameterError, match="empty"):
        plot_det({}, tmp_path / "det.png")
