"""`cardlive evaluate-pipeline`: decisions per class from both quad sources, over one or several folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capture_sim.capture import SimConfig
from capture_sim.dataset import simulate
from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.pipeline.evaluate import evaluate_pipeline


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("seq")
    a, b = root / "a", root / "b"
    simulate(a, 2, SimConfig(seed=31, species=("genuine", "laser_am"), frames=3), progress=False)
    simulate(b, 1, SimConfig(seed=32, species=("genuine",), frames=3), progress=False)
    return a, b


def test_report_covers_every_sequence_of_every_folder(two_folders: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_folders
    both = evaluate_pipeline(Path(f"{a},{b}"), tmp_path / "both", progress=False)
    assert both["n"] == 3
    assert [r["label"] for r in both["rows"]] == ["genuine", "print", "genuine"]
    for row in both["rows"]:
        assert row["finder"]["outcome"] in {"accept", "reject", "retry"}
        assert row["true_quads"]["outcome"] in {"accept", "reject", "retry"}
        assert 0 <= row["frames_within_target"] <= row["frames"] == 3
        assert (row["glare"] in {"free", "away", "fields"}) == (row["label"] == "genuine")
    classes = both["summary"]["true_quads"]["classes"]
    assert classes["label:genuine"]["n"] == 2
    assert classes["label:print"]["n"] == 1
    assert json.loads((tmp_path / "both" / "report.json").read_text())["n"] == 3


def test_folders_without_sequences_are_refused(
    tiny_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="no tilt sequences"):
        evaluate_pipeline(tiny_set, tmp_path, progress=False)
    assert main(["evaluate-pipeline", "--data", str(tiny_set), "--report", str(tmp_path), "--quiet"]) == 3
    assert "no tilt sequences" in capsys.readouterr().err
