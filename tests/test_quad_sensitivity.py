"""The quad-sensitivity diagnostic (edge_models/quad_sensitivity.py, `cardlive quad-sensitivity`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardlive.cli import main
from edge_models.augment import shift_side
from edge_models.quad_sensitivity import quad_sensitivity
from edge_models.weights import load_weights


def test_shift_side_moves_one_side_outwards() -> None:
    quad = np.array([[100.0, 100.0], [500.0, 100.0], [500.0, 352.0], [100.0, 352.0]])
    out = shift_side(quad, 0, 10.0)  # the top side moves up
    assert np.allclose(out[[0, 1], 1], 90.0)
    assert np.allclose(out[[2, 3]], quad[[2, 3]])
    assert np.allclose(shift_side(quad, 1, -10.0)[[1, 2], 0], 490.0)  # the right side moves in


def test_no_shift_flips_nothing_and_a_large_one_does(tiny_set: Path) -> None:
    model = load_weights()
    result = quad_sensitivity(model, tiny_set, shifts=(0.0, -0.15), progress=False)
    classes = result["classes"]
    assert set(classes) == {"genuine", "attack"}
    assert classes["genuine"]["captures"] + classes["attack"]["captures"] == 9
    for row in classes.values():
        assert row["flipped"][0] == 0.0  # negative control: a zero shift is the true quad
    # cutting 15 % of the diagonal off one side changes at least one of the nine decisions
    assert max(row["flipped"][1] for row in classes.values()) > 0.0


def test_cli(tiny_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qs.json"
    assert main(["quad-sensitivity", "--data", str(tiny_set), "--shifts", "0.01", "--quiet", "--out", str(out)]) == 0
    assert "shift (share of the diagonal)" in capsys.readouterr().out
    assert json.loads(out.read_text())["shifts"] == [0.01]
    assert main(["quad-sensitivity", "--data", str(tiny_set), "--shifts", "a,b"]) != 0  # a clear error
    assert main(["quad-sensitivity", "--data", str(tiny_set), "--shifts", "0.5"]) != 0
