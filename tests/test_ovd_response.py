"""The OVD-response diagnostic (edge_models/ovd_response.py, `cardlive ovd-response`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.ovd_response import RESPONDS, response_ratio


def _sequence(ovd_moves: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = np.full((8, 80, 128, 3), 120.0) + rng.normal(0, 2.0, (8, 80, 128, 3))  # camera noise everywhere
    ovd = np.zeros((80, 128), bool)
    ovd[20:40, 80:110] = True
    if ovd_moves:
        hue = np.linspace(0, 2 * np.pi, 8)
        frames[:, 20:40, 80:110, 0] += 40 * np.sin(hue)[:, None, None]
        frames[:, 20:40, 80:110, 2] += 40 * np.cos(hue)[:, None, None]
    return np.clip(frames, 0, 255).astype(np.uint8), ovd


def test_a_responding_hologram_stands_out_and_a_frozen_one_does_not() -> None:
    live = response_ratio(*_sequence(True))
    frozen = response_ratio(*_sequence(False))
    assert live is not None
    assert frozen is not None
    assert live > RESPONDS
    assert frozen < 1.3  # negative control: the same card with the OVD frozen


def test_glare_cells_are_left_out() -> None:
    frames, ovd = _sequence(False)
    frames[::2, 16:32, 80:112] = 255  # a glare patch flickering over the OVD
    glare = np.zeros((8, 10, 16), np.float32)
    glare[::2, 2:4, 10:14] = 1.0
    with_mask = response_ratio(frames, ovd, glare)
    without = response_ratio(frames, ovd)
    assert with_mask is not None
    assert without is not None
    assert with_mask < 1.3
    assert without > RESPONDS  # negative control: the glare alone would pass for a live hologram


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="T >= 2"):
        response_ratio(np.zeros((1, 8, 8, 3), np.uint8), np.ones((8, 8), bool))
    assert response_ratio(np.zeros((4, 8, 8, 3), np.uint8), np.zeros((8, 8), bool)) is None  # no OVD visible


@pytest.mark.slow
def test_cli_reports_per_species(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from capture_sim.capture import SimConfig
    from capture_sim.dataset import simulate

    data = tmp_path / "seq"
    simulate(data, 2, SimConfig(seed=8, species=("genuine", "laser_am"), frames=3, torch=True), progress=False)
    assert main(["ovd-response", "--data", str(data), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {row["species"] for row in result["species"]} <= {"genuine", "laser_am"}
    assert all(row["sequences"] >= 1 and row["median_ratio"] > 0 for row in result["species"])
    assert main(["ovd-response", "--data", str(data), "--quiet"]) == 0
    assert "median ratio" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "index.jsonl").write_text("")
    assert main(["ovd-response", "--data", str(tmp_path / "empty"), "--quiet"]) != 0  # a clear error, no traceback
