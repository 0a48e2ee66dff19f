"""Conformance building blocks without a bundle: comparator, parity metrics, tolerances, variants, golden schema,
preprocessing comparison, golden determinism (tiny config)."""

from __future__ import annotations

import numpy as np
import pytest

from cardlive.errors import CardliveError
from conformance.compare import SNR_CAP_DB, compare_arrays
from conformance.golden_io import validate
from conformance.parity_metrics import parity_metrics
from conformance.preprocess_golden import compare_tensor
from conformance.tolerances import DEFAULT_MARGIN, calibrate_entry, check_metrics
from conformance.variants import apply_variant, decode_ignoring_exif, encode_frame
from edge_models.images import decode_rgb


def test_comparator_reports_dtype_then_shape_then_values_with_magnitude() -> None:
    ref = np.array([[0.2, 0.3, 0.5]], np.float32)
    same = compare_arrays(ref, ref.copy())
    assert same.within(0.0)
    assert same.max_abs == 0.0
    assert same.snr_db == SNR_CAP_DB
    wrong_dtype = compare_arrays(ref, ref.astype(np.float16), "probs")
    assert not wrong_dtype.dtype_ok
    assert not wrong_dtype.within(1.0)
    assert wrong_dtype.max_abs is not None
    assert 0 < wrong_dtype.max_abs < 1e-3
    assert "dtype float16, expected float32" in wrong_dtype.describe()
    wrong_shape = compare_arrays(ref, np.array([[0.2, 0.4]], np.float32))
    assert not wrong_shape.shape_ok
    assert wrong_shape.partial
    assert wrong_shape.max_abs == pytest.approx(0.1)
    nan = compare_arrays(ref, np.array([[0.2, np.nan, 0.5]], np.float32))
    assert nan.nonfinite == 1
    assert not nan.within(1.0)
    assert nan.to_dict()["max_abs"] is None
    off = compare_arrays(ref, ref + 0.01)
    assert off.within(0.011)
    assert not off.within(0.009)


def _rows(labels: list[str | None], species: list[str]) -> list[dict]:  # type: ignore[type-arg]
    return [
        {"id": f"v{i}", "label": lab, "species": sp, "family": "f", "variant": "base"}
        for i, (lab, sp) in enumerate(zip(labels, species, strict=True))
    ]


def test_parity_metrics_flips_and_error_rate_changes_by_hand() -> None:
    # recapture probabilities; attack score = 1 - P(genuine); threshold 0.5
    ref = np.array([[0.9, 0.1, 0.0], [0.45, 0.55, 0.0], [0.2, 0.0, 0.8], [0.7, 0.3, 0.0]], np.float32)
    edge = np.array([[0.9, 0.1, 0.0], [0.55, 0.45, 0.0], [0.2, 0.0, 0.8], [0.3, 0.7, 0.0]], np.float32)
    rows = _rows(["genuine", "screen", "print", "genuine"], ["genuine", "laser", "inkjet", "genuine"])
    m = parity_metrics("recapture", "x", "int8", rows, [ref], [edge], {"t": 0.5}, band=0.06)
    t = m.thresholds["t"]
    assert t["flips"] == ["v1", "v3"]
    assert t["flip_rate"] == 0.5
    assert t["decision_agreement"] == 0.5
    assert t["unexplained_flips"] == ["v3"]  # v1's reference is 0.05 (< band) from the threshold: within the band
    assert t["apcer_reference"] == 0.0
    assert t["apcer_edge"] == 1.0
    assert t["apcer_change"] == 1.0
    assert t["bpcer_reference"] == 0.0
    assert t["bpcer_edge"] == 0.5
    assert m.score_max_abs == pytest.approx(0.4)
    assert m.top1_agreement == 0.5


def test_tolerances_calibrate_with_margin_and_refuse_above_ceiling() -> None:
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(3), size=50).astype(np.float32)
    rows = _rows(["genuine"] * 50, ["genuine"] * 50)
    edge = (ref + rng.normal(0, 0.002, ref.shape)).astype(np.float32)
    m = parity_metrics("recapture", "litert", "int8", rows, [ref], [edge], {"t": 0.5}, 0.0)
    tol = calibrate_entry(m, DEFAULT_MARGIN, "test")
    assert tol.attack_score_abs == pytest.approx(min(0.1, max(0.01, 2 * m.score_max_abs)))
    assert all(ok for _, ok, _ in check_metrics(m, tol))
    worse = (ref + rng.normal(0, 0.05, ref.shape)).astype(np.float32)
    m2 = parity_metrics("recapture", "litert", "int8", rows, [ref], [worse], {"t": 0.5}, tol.attack_score_abs)
    assert not all(ok for _, ok, _ in check_metrics(m2, tol))
    broken = parity_metrics("recapture", "litert", "int8", rows, [ref], [ref[:, ::-1].copy()], {"t": 0.5}, 0.0)
    with pytest.raises(CardliveError, match="ceiling"):
        calibrate_entry(broken, DEFAULT_MARGIN, "test")


def test_tolerance_and_golden_schemas_reject_bad_files() -> None:
    assert validate({"schema_version": 1, "margin": {}, "entries": []}, "tolerances.schema.json")
    row = {
        "id": "a",
        "path": "frames/a.jpg",
        "quad": [[0, 0], [1, 0], [1, 1], [0, 1]],
        "variant": "base",
        "exif_orientation": 1,
        "width": 10,
        "height": 10,
    }
    assert validate(row, "golden.schema.json", "frame_row") == []
    assert validate({**row, "path": "../escape.jpg"}, "golden.schema.json", "frame_row")


def test_exif_variant_decodes_upright_only_with_exif() -> None:
    rng = np.random.default_rng(1)
    ys, xs = np.mgrid[0:96, 0:160]
    frame = np.stack([xs * 1.5, ys * 2.5, 255 - xs], axis=-1).astype(np.uint8)  # smooth: JPEG keeps it
    data = encode_frame("exif_rot90", frame)
    upright = decode_rgb(data)
    assert upright.shape == frame.shape
    assert np.abs(upright.astype(int) - frame.astype(int)).mean() < 3  # same orientation as the source
    assert decode_ignoring_exif(data).shape == (160, 96, 3)
    quad = np.array([[20.0, 10.0], [140.0, 12.0], [138.0, 80.0], [22.0, 82.0]])
    shifted, q2 = apply_variant("edge", frame, quad, rng)
    assert q2[:, 0].min() < 0
    assert shifted[:, -5:].max() == 0


def test_preprocess_comparison_names_first_difference() -> None:
    expected = np.zeros((2, 4, 4, 3), np.uint8)
    got = expected.copy()
    got[1, 2, 3, 0] = 7
    check = compare_tensor("f", "recapture", "patches", expected, got)
    assert not check.passed
    assert "patch 1, row 2, column 3, channel R: expected 0, got 7" in check.message
    gv = np.full((4, 4, 3), 100, np.uint8)
    assert compare_tensor("f", "recapture", "global_view", gv, gv + 1).passed  # within 1 level
    assert not compare_tensor("f", "recapture", "global_view", gv, gv + 2).passed
    assert not compare_tensor("f", "recapture", "patches", expected, expected[:1]).passed


def test_golden_generation_is_deterministic_for_a_config() -> None:
    from conformance.golden import GoldenConfig, generate_golden
    from edge_models.weights import DEFAULT_WEIGHTS, load_weights

    config = GoldenConfig(
        families=("grey_copy",),
        frames=1,
        variants=("base", "dark"),
        blend_offsets=(0.0,),
        orders=("forward",),
        e2e_variants=("base",),
    )
    models = {"recapture": load_weights(DEFAULT_WEIGHTS)}
    a, b = generate_golden(config, models, progress=False), generate_golden(config, models, progress=False)
    ids = [v.id for v in a.vectors["recapture"]]
    assert ids == [v.id for v in b.vectors["recapture"]]
    assert {"grey_copy-p0-genuine-t0-dark", "grey_copy-p0-print-t0-base"} <= set(ids)
    for va, vb in zip(a.vectors["recapture"], b.vectors["recapture"], strict=True):
        assert np.array_equal(va.data, vb.data)
    blends = [v for v in a.vectors["recapture"] if v.variant == "blend"]
    if blends:  # lands on the threshold within the uint8 rounding of the blend
        idx = [v.id for v in a.vectors["recapture"]].index(blends[0].id)
        score = 1.0 - float(a.outputs["recapture"][0][idx, 0])
        assert abs(score - models["recapture"].threshold) < 0.01


def test_committed_tolerances_and_device_example_match_their_schemas() -> None:
    import json
    from pathlib import Path

    from conformance.tolerances import DEFAULT_TOLERANCES, load_tolerances

    tolerances = load_tolerances(DEFAULT_TOLERANCES)
    assert tolerances.lookup("recapture", "litert", "int8") is not None
    example = Path(__file__).parents[1] / "docs" / "examples" / "device_results_host_litert.json"
    data = json.loads(example.read_text())
    assert validate(data, "device_results.schema.json") == []
    assert {r["runtime"] for r in data["runs"]} == {"litert"}
    data["runs"][0].pop("results")
    assert validate(data, "device_results.schema.json")  # negative control
