"""Decision logic over hand-built frame records and score sequences."""

from __future__ import annotations

import numpy as np
import pytest

from edge_models.pipeline.decision import FrameRecord, Thresholds, decide, fuse_attack, retry_reason, select_best
from edge_models.pipeline.gates import GateResult, load_gate_spec

SPEC = load_gate_spec("normal")
THR = Thresholds(recapture=0.5, ovd=0.6)
QUAD = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 6.0], [0.0, 6.0]])


def record(index: int, attack: float | None = None, focus: float = 1.0, failed: str | None = None) -> FrameRecord:
    names = ["card", "out_of_frame", "size", "oblique", "blur", "exposure", "glare", "motion"]
    gates = {
        n: GateResult(n, n != failed, focus if n == "blur" else 1.0, f"fix {n}" if n == failed else None) for n in names
    }
    r = FrameRecord(index, QUAD, gates)
    if attack is not None:
        screen = attack * 0.7
        r.scores, r.attack_score = {"genuine": 1 - attack, "screen": screen, "print": attack - screen}, attack
    return r


def test_fusion_is_the_mean_log_odds() -> None:
    assert fuse_attack([0.3, 0.3, 0.3]) == pytest.approx(0.3)
    assert fuse_attack([0.9, 0.1]) == pytest.approx(0.5)
    assert fuse_attack([0.99, 0.5]) == pytest.approx(1 / (1 + np.sqrt(1 / 99)), rel=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        fuse_attack([])


def test_best_frames_are_the_sharpest_usable_ones() -> None:
    frames = [record(0, focus=1.0), record(1, focus=2.0), record(2, focus=3.0, failed="glare"), record(3, focus=1.5)]
    assert [f.index for f in select_best(frames, 2)] == [1, 3]


def test_genuine_sequence_with_tilt_and_live_hologram_is_accepted() -> None:
    frames = [record(i, 0.1) for i in range(4)]
    d = decide(frames, frames[:3], ovd_score=0.2, coverage_deg=20.0, spec=SPEC, thresholds=THR, sequence=True)
    assert (d.outcome, d.reason) == ("accept", None)
    doc = d.to_json()
    assert set(doc) >= {"outcome", "reason", "message", "frames", "fused", "thresholds", "model"}
    assert doc["fused"]["attack_score"] == pytest.approx(0.1)
    assert len(doc["frames"]) == 4


def test_recapture_attack_is_rejected_with_the_likelier_kind() -> None:
    frames = [record(i, 0.9) for i in range(3)]
    d = decide(frames, frames, 0.1, 20.0, SPEC, THR, True)
    assert (d.outcome, d.reason) == ("reject", "screen")
    for f in frames:
        assert f.scores is not None
        f.scores["screen"], f.scores["print"] = 0.1, 0.8
    assert decide(frames, frames, 0.1, 20.0, SPEC, THR, True).reason == "print"
    # negative control: the same frames below the threshold are not rejected for recapture
    low = [record(i, 0.3) for i in range(3)]
    assert decide(low, low, 0.1, 20.0, SPEC, THR, True).outcome == "accept"


def test_frozen_hologram_is_rejected_and_missing_tilt_asks_to_tilt() -> None:
    frames = [record(i, 0.1) for i in range(3)]
    assert decide(frames, frames, 0.9, 20.0, SPEC, THR, True).reason == "no_live_hologram"
    retry = decide(frames, frames, None, SPEC.min_tilt_coverage_deg / 2, SPEC, THR, True)
    assert (retry.outcome, retry.reason) == ("retry", "tilt")
    assert "Tilt" in retry.message
    still = decide(frames[:1], frames[:1], None, 0.0, SPEC, THR, sequence=False)
    assert still.outcome == "accept"
    assert still.ovd_score is None


def test_no_usable_frame_retries_with_the_most_common_failure() -> None:
    frames = [record(0, failed="blur"), record(1, failed="glare"), record(2, failed="blur")]
    d = decide(frames, [], None, 0.0, SPEC, THR, True)
    assert (d.outcome, d.reason, d.message) == ("retry", "blur", "fix blur")
    tie = [record(0, failed="glare"), record(1, failed="size")]
    assert retry_reason(tie).name == "size"  # earlier gate wins a tie
    assert retry_reason([]).name == "card"
