"""`cardlive evaluate` and `cardlive score` end to end on a tiny simulated set and a briefly trained model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardlive.cli import main
from edge_models.train import TrainConfig, train


@pytest.fixture(scope="module")
def trained(tiny_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    config = TrainConfig(
        data=str(tiny_set), out=str(out), epochs=1, batch_size=4, val_fraction=0.34, excluded_species=("laser_am",)
    )
    return train(config, progress=False)


def test_evaluate_writes_every_number_and_a_det_plot(trained: Path, tiny_set: Path, tmp_path: Path) -> None:
    code = main(["evaluate", "--model", str(trained), "--data", str(tiny_set), "--report", str(tmp_path), "--quiet"])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n"] == 9
    for key in ("eer", "bpcer10", "bpcer20", "bpcer100", "av_rank", "worst_apcer", "apcer_per_species"):
        assert key in report["pad"]
    assert len(report["confusion"]) == 3
    assert (tmp_path / "det.png").stat().st_size > 10_000


def test_leave_family_out_needs_a_model_trained_without_a_family(
    trained: Path, tiny_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    species = {json.loads(line)["species"] for line in (tiny_set / "index.jsonl").read_text().splitlines()}
    code = main(
        [
            "evaluate",
            "--model",
            str(trained),
            "--data",
            str(tiny_set),
            "--report",
            str(tmp_path),
            "--protocol",
            "leave-family-out",
            "--quiet",
        ]
    )
    if "laser_am" in species:
        assert code == 0
        assert json.loads((tmp_path / "report.json").read_text())["pad"]["counts"].keys() <= {"genuine", "laser_am"}
    else:
        assert code == 3
        assert "needs both genuine and attack" in capsys.readouterr().err


def test_score_prints_one_json_line_per_image(
    trained: Path, tiny_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(line) for line in (tiny_set / "index.jsonl").read_text().splitlines()][:2]
    quads = tmp_path / "quads.jsonl"
    images = [str(tiny_set / r["path"]) for r in rows]
    quads.write_text(
        "".join(json.dumps({"path": p, "quad": r["quad"]}) + "\n" for p, r in zip(images, rows, strict=True))
    )
    assert main(["score", *images, "--quads", str(quads), "--model", str(trained), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"] for line in lines] == images
    for line in lines:
        assert set(line["probabilities"]) == {"genuine", "screen", "print"}
        assert abs(sum(line["probabilities"].values()) - 1.0) < 1e-5
        assert line["decision"] in ("genuine", "attack")


def test_score_without_a_quad_uses_the_card_finder(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from tests.pipeline_helpers import FRONTAL, synthetic_frame

    card = tmp_path / "card.png"
    Image.fromarray(synthetic_frame()).save(card)
    assert main(["score", str(card), "--model", str(trained), "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["quad_source"] == "card_finder"
    assert np.abs(np.asarray(line["quad"]) - FRONTAL).max() < 3.0
    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 360), (70, 70, 70)).save(blank)
    assert main(["score", str(blank), "--model", str(trained)]) == 3
    assert "no card found" in capsys.readouterr().err


def test_score_refuses_missing_weights_and_bad_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"")
    assert main(["score", str(bad), "--model", str(tmp_path / "none.pt")]) == 3
    assert "no weights" in capsys.readouterr().err


def test_committed_weights_load_with_their_card_and_score_a_capture(tiny_set: Path) -> None:
    """The weights in edge_models/weights/ load through the default path and score a simulated frame."""
    from edge_models.images import load_rgb
    from edge_models.mosaic import RECAPTURE_SPEC
    from edge_models.scorer import score_frame
    from edge_models.weights import load_weights

    loaded = load_weights()
    assert loaded.spec == RECAPTURE_SPEC
    assert 0.0 < loaded.threshold < 1.0
    row = json.loads((tiny_set / "index.jsonl").read_text().splitlines()[0])
    result = score_frame(loaded, load_rgb(tiny_set / row["path"]), row["quad"])
    assert abs(sum(result["probabilities"].values()) - 1.0) < 1e-5
