"""`cardlive score --sequence DIR`: the ovd model and the classical baseline on a simulated tilt sequence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capture_sim.capture import SimConfig
from capture_sim.dataset import simulate
from cardlive.cli import main


@pytest.fixture(scope="module")
def sequences(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two 3-frame sequences (a genuine card and its print) and a quads file for every frame."""
    data = tmp_path_factory.mktemp("seq") / "set"
    simulate(data, 2, SimConfig(seed=31, species=("genuine", "laser_am"), frames=3), progress=False)
    quads = data / "quads.jsonl"
    with quads.open("w") as fh:
        for line in (data / "index.jsonl").read_text().splitlines():
            row = json.loads(line)
            for path, quad in zip(row["path"], row["quad"], strict=True):
                fh.write(json.dumps({"path": str(data / path), "quad": quad}) + "\n")
    return data, quads


def test_sequence_score_reports_model_baseline_and_glare(
    sequences: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, quads = sequences
    folders = [str(data / "captures" / f"{i:06d}") for i in range(2)]
    args = ["score", "--sequence", folders[0], "--sequence", folders[1], "--quads", str(quads), "--json"]
    assert main(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["path"] for row in rows] == folders
    for row in rows:
        assert len(row["frames"]) == 3
        assert all(Path(f).name.startswith("frame_") for f in row["frames"])  # masks are not frames
        assert 0.0 <= row["p_real_ovd"] <= 1.0
        assert row["attack_score"] == pytest.approx(1.0 - row["p_real_ovd"])
        assert row["decision"] == ("attack" if row["attack_score"] >= row["threshold"] else "genuine")
        assert 0.0 <= row["baseline"]["p_real_ovd"] <= 1.0
        assert len(row["glare_coverage"]) == 8  # the model's T frames, spread over the 3 given


def test_sequence_without_quads_names_the_missing_frame(
    sequences: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = sequences
    assert main(["score", "--sequence", str(data / "captures" / "000000")]) == 3
    assert "have no quad" in capsys.readouterr().err


def test_sequence_and_images_together_are_refused(
    sequences: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, quads = sequences
    frame = str(data / "captures" / "000000" / "frame_00.jpg")
    assert main(["score", frame, "--sequence", str(data), "--quads", str(quads)]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_folder_with_one_frame_is_not_a_sequence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "frame_00.jpg").write_bytes(b"")
    assert main(["score", "--sequence", str(tmp_path)]) == 3
    assert "at least 2" in capsys.readouterr().err
