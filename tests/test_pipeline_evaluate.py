"""`cardlive evaluate-pipeline`: decisions per class from both quad sources, over one or several folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from capture_sim.capture import SimConfig
from capture_sim.dataset import simulate
from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.pipeline import simframes
from edge_models.pipeline.evaluate import evaluate_pipeline
from edge_models.weights import DEFAULT_WEIGHTS


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


def test_candidate_weights_are_evaluated_and_named(two_folders: tuple[Path, Path], tmp_path: Path) -> None:
    candidate = tmp_path / "candidate" / "recapture.pt"
    candidate.parent.mkdir()
    shutil.copy(DEFAULT_WEIGHTS, candidate)
    card = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    committed_version = card["version"]
    card["version"] = "9.9.9-candidate"
    candidate.with_suffix(".json").write_text(json.dumps(card))
    a, _ = two_folders
    args = ["evaluate-pipeline", "--data", str(a), "--limit", "1", "--quiet"]
    assert main([*args, "--report", str(tmp_path / "c"), "--model", str(candidate)]) == 0
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["models"]["recapture"]["version"] == "9.9.9-candidate"
    assert main([*args, "--report", str(tmp_path / "d")]) == 0  # negative control: the committed weights by default
    assert (
        json.loads((tmp_path / "d" / "report.json").read_text())["models"]["recapture"]["version"] == committed_version
    )
    assert main([*args, "--report", str(tmp_path / "e"), "--model", str(tmp_path / "missing.pt")]) == 3


def test_frame_cache_renders_once_and_refuses_another_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renders: list[str] = []
    real_card, real_desk = simframes.card_frame, simframes.no_card_frame

    def counting_card(seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        renders.append(f"card {seed} {index}")
        return real_card(seed, index)

    def counting_desk(seed: int, pair_id: int) -> np.ndarray:
        renders.append(f"desk {seed} {pair_id}")
        return real_desk(seed, pair_id)

    monkeypatch.setattr(simframes, "card_frame", counting_card)
    monkeypatch.setattr(simframes, "no_card_frame", counting_desk)
    folder = tmp_path / "frames"
    first = simframes.FrameCache(folder, 7)
    rgb, quad = first.card_frame(3)
    desk = first.no_card_frame(simframes.NO_CARD_BASE + 1)
    again = simframes.FrameCache(folder, 7)
    rgb2, quad2 = again.card_frame(3)
    assert np.array_equal(rgb, rgb2)
    assert np.array_equal(quad, quad2)
    assert np.array_equal(desk, again.no_card_frame(simframes.NO_CARD_BASE + 1))
    assert renders == ["card 7 3", f"desk 7 {simframes.NO_CARD_BASE + 1}"]
    with pytest.raises(InputError, match="seed 7"):
        simframes.FrameCache(folder, 8)
    (folder / "seed.json").unlink()
    with pytest.raises(InputError, match="unknown seed"):
        simframes.FrameCache(folder, 7)


def test_frame_cache_reports_a_frame_it_cannot_write(tmp_path: Path) -> None:
    from cardlive.errors import OutputError

    cache = simframes.FrameCache(tmp_path / "frames", 7)
    (tmp_path / "frames" / "0000.png").mkdir()  # a folder where the frame's file should go
    with pytest.raises(OutputError, match="could not write the cached frame"):
        cache.card_frame(0)


def test_frozen_ovd_runs_every_genuine_sequence_again_as_an_attack(
    two_folders: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _ = two_folders
    plain = evaluate_pipeline(a, tmp_path / "plain", progress=False)
    frozen = evaluate_pipeline(a, tmp_path / "frozen", progress=False, frozen_ovd=True)
    assert [r["label"] for r in plain["rows"]] == ["genuine", "print"]  # control: no copies unless asked
    assert [r["label"] for r in frozen["rows"]] == ["genuine", "frozen_ovd", "print"]
    copy = frozen["rows"][1]
    assert copy["id"] == frozen["rows"][0]["id"]
    assert copy["true_quads"]["outcome"] != "accept"
    assert "label:frozen_ovd" in frozen["summary"]["true_quads"]["classes"]
    assert frozen["frozen_ovd"] is True
