"""The accuracy-kept check: variants are scored against fp32; a model quantised on constant data is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantize.accuracy import (
    LabelledInputs,
    attack_scores,
    bootstrap_delta_bpcer100,
    check_model,
    compare,
    load_labelled,
    scores_in_chunks,
)
from quantize.calibration import constant_calibration
from quantize.onnx_export import quantize_onnx_int8


def test_compare_counts_flips_and_metric_deltas() -> None:
    species = ["genuine"] * 4 + ["laser_am"] * 4
    reference = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    same = compare(reference, reference.copy(), species, 0.5)
    assert same["agreement"] == 1.0
    assert same["passed"]
    flipped = reference.copy()
    flipped[4] = 0.45  # one attack now accepted
    result = compare(reference, flipped, species, 0.5)
    assert result["flips"] == 1
    assert result["delta_worst_apcer_pp"] == pytest.approx(25.0)
    assert not result["passed"]


def test_bootstrap_interval_of_the_bpcer100_delta() -> None:
    rng = np.random.default_rng(1)
    species = ["genuine"] * 400 + [name for name in ("laser_am", "tablet_lcd") for _ in range(200)]
    reference = np.concatenate([rng.beta(2, 6, 400), rng.beta(6, 2, 400)])
    assert bootstrap_delta_bpcer100(reference, reference.copy(), species) == (0.0, 0.0)
    worse = reference.copy()
    worse[:400] += 0.1  # every bona fide score drifts towards "attack": BPCER100 rises on every resample
    low, high = bootstrap_delta_bpcer100(reference, worse, species)
    assert 0.0 < low <= high
    assert compare(reference, worse, species, 0.5)["delta_bpcer100_ci95_pp"] == [low, high]


def test_constant_calibration_is_caught(
    exported_bundle: Path, export_calibrations: dict[str, Any], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(exported_bundle, bundle)
    calibration = export_calibrations["recapture"]
    data = LabelledInputs(np.asarray(calibration.inputs), list(calibration.species))
    folder = bundle / "models" / "recapture"
    good = {v["path"]: v for v in check_model(bundle, "recapture", data)["variants"]}
    bad_batches = constant_calibration(calibration).batches()
    quantize_onnx_int8(folder / "recapture.fp32.onnx", folder / "recapture.int8.onnx", bad_batches)
    report = check_model(bundle, "recapture", data)
    bad = next(v for v in report["variants"] if v["path"].endswith("recapture.int8.onnx"))
    ok = good["models/recapture/recapture.int8.onnx"]
    assert not bad["passed"]
    assert bad["max_abs_score_delta"] > 5 * ok["max_abs_score_delta"]
    assert good["models/recapture/recapture.fp32.onnx"]["passed"]
    assert good["models/recapture/recapture.fp32.onnx"]["agreement"] == 1.0
    coreml = [v for v in report["variants"] if v["runtime"] == "coreml"]
    assert coreml
    assert all(v["ran"] is False for v in coreml)
    json.dumps(report)  # the report is JSON-able


def test_quant_check_cli_on_a_simulated_folder(exported_bundle: Path, tiny_set: Path, tmp_path: Path) -> None:
    from cardlive.cli import main

    report = tmp_path / "check.json"
    code = main(["quant-check", "--bundle", str(exported_bundle), "--data", str(tiny_set), "--report", str(report)])
    result = json.loads(report.read_text())
    assert code == (0 if result["passed"] else 1)
    variants = result["models"][0]["variants"]
    assert {v["runtime"] for v in variants if v["ran"]} == {"onnxruntime", "litert", "mediapipe"}
    assert result["models"][0]["n"] == len(load_labelled("recapture", tiny_set).species)


def test_chunked_scoring_equals_one_batch_and_keeps_the_order(exported_bundle: Path, tiny_set: Path) -> None:
    from quantize.runtimes import open_runner

    data = load_labelled("recapture", tiny_set)
    assert data.inputs.dtype == np.uint8  # kept compact; converted per chunk
    runner = open_runner(exported_bundle / "models" / "recapture" / "recapture.fp32.onnx", "onnxruntime")
    whole = attack_scores(runner.run([data.inputs.astype(np.float32)]))
    chunked = scores_in_chunks(runner, data.inputs, chunk=4)
    assert len(chunked) == len(data.inputs) > 4
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    assert not np.allclose(scores_in_chunks(runner, data.inputs[::-1], chunk=4), whole)  # order is seen
