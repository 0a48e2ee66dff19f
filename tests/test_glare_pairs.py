"""`cardlive glare-pairs`: the paired with / without laminate-glare comparison of evaluate-pipeline reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cardlive.cli import main
from cardlive.errors import InputError
from edge_models.pipeline.glare_pairs import compare_glare_pairs, mcnemar_exact


def _row(i: int, glare: str, outcome: str, reason: str | None = None) -> dict[str, Any]:
    brief = {"outcome": outcome, "reason": reason}
    return {"id": f"420-{i}", "label": "genuine", "glare": glare, "finder": brief, "true_quads": dict(brief)}


def _report(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    attack = {"id": "420-999", "label": "print", "glare": None, "finder": {}, "true_quads": {}}
    (folder / "report.json").write_text(json.dumps({"rows": [*rows, attack]}))
    return folder


def test_mcnemar_exact_matches_the_binomial_tail() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(3, 3) == 1.0


def test_counts_the_sequences_glare_lost_per_group(tmp_path: Path) -> None:
    groups = ["free"] * 6 + ["away"] * 8
    with_rows = [_row(i, g, "accept") for i, g in enumerate(groups)]
    for i in (6, 7, 8):  # three "away" sequences retry for blur only when the highlight is there
        with_rows[i] = _row(i, "away", "retry", "blur")
    without_rows = [_row(i, "free", "accept") for i in range(len(groups))]
    result = compare_glare_pairs(_report(tmp_path / "a", with_rows), _report(tmp_path / "b", without_rows))
    away = result["finder"]["away"]
    assert (away["n"], away["lost_to_glare"], away["gained_with_glare"]) == (8, 3, 0)
    assert away["accepted_with_glare"] == pytest.approx(5 / 8)
    assert away["accepted_without_glare"] == 1.0
    assert away["lost_as"] == {"retry:blur": 3}
    assert result["finder"]["free"]["lost_to_glare"] == 0
    assert result["finder"]["all"]["n"] == 14
    unchanged = [{**r, "glare": "free"} for r in with_rows]  # the highlight removed, every decision the same
    same = compare_glare_pairs(_report(tmp_path / "a", with_rows), _report(tmp_path / "c", unchanged))
    assert same["true_quads"]["away"]["lost_to_glare"] == 0
    assert same["true_quads"]["away"]["mcnemar_p"] == 1.0


def test_refuses_unpaired_or_still_glaring_reports(tmp_path: Path) -> None:
    shiny = _report(tmp_path / "a", [_row(0, "away", "accept"), _row(1, "free", "accept")])
    with pytest.raises(InputError, match="different sequences"):
        compare_glare_pairs(shiny, _report(tmp_path / "b", [_row(0, "free", "accept")]))
    with pytest.raises(InputError, match="still have laminate glare"):
        compare_glare_pairs(shiny, shiny)
    with pytest.raises(InputError, match="cannot read"):
        compare_glare_pairs(shiny, tmp_path / "missing")


def test_cli_prints_the_table_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shiny = _report(tmp_path / "a", [_row(0, "away", "retry", "blur"), _row(1, "free", "accept")])
    matte = _report(tmp_path / "b", [_row(0, "free", "accept"), _row(1, "free", "accept")])
    out, plot = tmp_path / "pairs.json", tmp_path / "pairs.png"
    args = ["glare-pairs", "--with-glare", str(shiny), "--without-glare", str(matte), "--out", str(out)]
    assert main([*args, "--plot", str(plot)]) == 0
    assert "away" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(out.read_text())["finder"]["away"]["lost_to_glare"] == 1
    assert main(["glare-pairs", "--with-glare", str(shiny), "--without-glare", str(shiny)]) != 0


def test_cli_reports_an_unwritable_report_path_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shiny = _report(tmp_path / "a", [_row(0, "away", "retry", "blur")])
    matte = _report(tmp_path / "b", [_row(0, "free", "accept")])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    args = ["glare-pairs", "--with-glare", str(shiny), "--without-glare", str(matte)]
    assert main([*args, "--out", str(blocker / "pairs.json")]) == 4
    err = capsys.readouterr().err
    assert "cannot write the report" in err
    assert "Traceback" not in err
